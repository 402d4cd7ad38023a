"""Errors raised by the trace graph; each says what went wrong and what to do."""

from __future__ import annotations

from opto.trace.abstract_node import AbstractNode
from opto.utils.errors import OptoError


class TraceError(OptoError):
    """Base class of opto's trace errors."""


class ExecutionError(TraceError):
    """A traced operation raised; ``exception_node`` is the error as a node in the graph.

    Use ``exception_node`` as the output to give feedback on, e.g.
    ``optimizer.backward(e.exception_node, e.exception_node.create_feedback("full"))``.
    The original exception is ``e.exception`` (also ``e.__context__``); its traceback is part
    of the message, so an uncaught error prints it once. As in Trace, ``except ValueError``
    does not catch it: catch ``ExecutionError`` and test ``isinstance(e.exception, ...)``, or
    let the original through with ``@bundle(catch_execution_error=False)``.
    """

    def __init__(self, exception_node: AbstractNode) -> None:
        """Keep ``exception_node``, the ExceptionNode the failed operation left in the graph."""
        self.exception_node = exception_node
        super().__init__(exception_node)

    @property
    def exception(self) -> BaseException | None:
        """The original exception raised inside the operation."""
        return self.exception_node.exception

    def __str__(self) -> str:
        info = self.exception_node.info or {}
        detail = info.get("traceback") or self.exception_node.data
        return (
            f"{self.exception_node.data}\n\n{detail}"
            if detail != self.exception_node.data
            else detail
        )

    def __reduce__(self):
        return (type(self), (self.exception_node,))


class TraceMissingInputsError(TraceError):
    """A bundled function read a node that was not passed to it as an input.

    ``message`` names the node and says how to pass it (or to allow external dependencies).
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BackwardError(TraceError, AttributeError):
    """``backward`` cannot run (e.g. the graph was already backwarded without retain_graph).

    Subclasses ``AttributeError`` because Trace raised that for the same situation.
    """


class PropagationError(TraceError, TypeError):
    """A propagator returned feedback that does not cover a node's parents."""


class GraphvizNotFoundError(TraceError, RuntimeError):
    """Rendering a drawing needs Graphviz's ``dot`` program, which is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "Rendering a trace graph needs the Graphviz 'dot' program, which was not found "
            "on PATH. Install it with your system's package manager: "
            "'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), "
            "'conda install graphviz', or see https://graphviz.org/download/. "
            "The graphviz.Digraph object itself works without it (e.g. .source)."
        )
