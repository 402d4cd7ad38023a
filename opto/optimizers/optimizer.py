"""The base Optimizer: holds parameters, runs backward, proposes and applies updates.

``step()`` is ``propose()`` then ``update()`` and returns what was applied. ``propose`` only
computes (``bypassing=True`` stops there), so a search algorithm can try a proposal on copies
before committing it. Applying is all-or-nothing for the values a step accepted.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opto.optimizers.step_display import step_result_html, step_result_repr
from opto.optimizers.step_report import missing_feedback, report_refusals
from opto.optimizers.updates import apply_projections
from opto.trace.nodes import Node, ParameterNode
from opto.trace.propagators import GraphPropagator, Propagator
from opto.trace.propagators.trace_graph import TraceGraph
from opto.utils.atomic import atomic_write_json
from opto.utils.user_warnings import warn_user


class StepResult(dict):
    """The update dict ``{parameter: new value}`` a step applied (as in Trace), plus why.

    ``refused`` maps parameter names to the reason a suggested value was not applied,
    ``unknown`` lists suggested names that are not parameters, ``terminated`` says the LLM
    answered TERMINATE, and ``error`` explains a step that produced no suggestion.
    ``updates`` is the update dict itself.
    """

    def __init__(
        self,
        updates: dict | None = None,
        *,
        refused: dict[str, str] | None = None,
        unknown: list[str] | None = None,
        terminated: bool = False,
        error: str | None = None,
    ) -> None:
        super().__init__(updates or {})
        self.refused = dict(refused or {})
        self.unknown = list(unknown or [])
        self.terminated = terminated
        self.error = error

    def __repr__(self) -> str:
        return step_result_repr(self)

    def _repr_html_(self) -> str:
        return step_result_html(self)


class AbstractOptimizer:
    """The root of every optimizer: it holds ``parameters`` and defines the interface.

    Subclasses implement ``step`` (propose and apply new values), ``zero_feedback`` and
    ``propagator``. ``isinstance(x, AbstractOptimizer)`` is true for every opto optimizer.
    """

    def __init__(self, parameters: Iterable[ParameterNode], *args: Any, **kwargs: Any) -> None:
        self.parameters = parameters

    @property
    def parameters(self) -> list[ParameterNode]:
        """The parameters this optimizer updates (may be reassigned, e.g. by a trainer)."""
        return self._parameters

    @parameters.setter
    def parameters(self, parameters: Iterable[ParameterNode]) -> None:
        self._parameters = checked_parameters(parameters)

    def step(self, *args: Any, **kwargs: Any) -> Any:
        """Propose new values for the parameters from their feedback and apply them."""
        raise NotImplementedError

    def zero_feedback(self) -> None:
        """Clear the feedback the parameters hold, before the next backward pass."""
        raise NotImplementedError

    @property
    def propagator(self) -> Propagator:
        """The propagator ``backward`` uses to send feedback to the parameters."""
        raise NotImplementedError


def checked_parameters(parameters: Iterable[ParameterNode] | Node) -> list[ParameterNode]:
    """The ParameterNodes of ``parameters`` without duplicates, in order; TypeError otherwise."""
    if isinstance(parameters, Node):
        parameters = [parameters]
    unique: dict[int, ParameterNode] = {}
    for parameter in parameters:
        if not isinstance(parameter, ParameterNode):
            raise TypeError(
                f"optimizers take ParameterNodes, got {type(parameter).__name__}: {parameter}; "
                "make it with node(value, trainable=True)"
            )
        unique.setdefault(id(parameter), parameter)
    return list(unique.values())


class Optimizer(AbstractOptimizer):
    """Base class: subclasses implement ``_step`` returning ``{parameter: value}``.

    ``step(**options)`` passes to ``_step`` the options its signature names. Other keyword
    arguments, such as the ones Trace's training algorithms forward (``num_threads``,
    ``validate_dataset``, ...), are ignored with one warning per name, as Trace ignored them.

    ``parameters`` are the ParameterNodes to train (a node or an iterable; duplicates are
    dropped). ``propagator`` sends feedback backward (default: ``default_propagator()``).
    ``policy`` is how code this optimizer writes runs (an ``opto.runtime`` policy or its name),
    given to code parameters whose bundle chose none. Unknown arguments are an error, not
    ignored as in Trace.
    """

    _llm: Any = None

    @property
    def llm(self) -> Any:
        """The LLM client; the default one is made on first use, so none is needed to build."""
        if self._llm is None:
            from opto.llm import LLM

            self._llm = LLM()
        return self._llm

    @llm.setter
    def llm(self, value: Any) -> None:
        self._llm = value

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        *args: Any,
        propagator: Propagator | None = None,
        policy: Any = None,
        **kwargs: Any,
    ) -> None:
        if args or kwargs:
            unexpected = [*map(repr, args), *kwargs]
            raise TypeError(
                f"{type(self).__name__}() got unexpected argument(s) {', '.join(unexpected)}; "
                "check the spelling (Trace silently ignored unknown arguments, opto does not)"
            )
        super().__init__(parameters)
        if not self._parameters:
            raise ValueError("an optimizer needs at least one parameter")
        self._propagator = propagator if propagator is not None else self.default_propagator()
        if policy is not None:
            self._assign_policy(policy)

    def _assign_policy(self, policy: Any) -> None:
        """Code this optimizer writes runs under ``policy`` (unless its bundle chose one)."""
        from opto.runtime import make_policy

        resolved = make_policy(policy)
        for parameter in self._parameters:
            if parameter.code_spec is not None:
                parameter.code_spec.adopt_policy(resolved)

    @property
    def propagator(self) -> Propagator:
        """The propagator ``backward`` uses (given to the constructor, or the default)."""
        return self._propagator

    def default_propagator(self) -> Propagator:
        """The propagator used when none is given: a ``GraphPropagator``, which hands each
        parameter the subgraph that leads from it to the outputs with their feedback."""
        return GraphPropagator()

    @property
    def trace_graph(self) -> TraceGraph:
        """The union of what every parameter received from backward."""
        return TraceGraph.union(
            self._propagator.aggregate(parameter.feedback)
            for parameter in self._parameters
            if parameter.feedback
        )

    def zero_feedback(self) -> None:
        """Clear every parameter's feedback, so the next step sees only the next pass."""
        for parameter in self._parameters:
            parameter.zero_feedback()

    def backward(self, node: Node, *args: Any, **kwargs: Any) -> Any:
        """``node.backward(...)`` with this optimizer's propagator."""
        return node.backward(*args, propagator=self._propagator, **kwargs)

    def step(self, *args: Any, bypassing: bool = False, **kwargs: Any) -> StepResult:
        """Propose new values and (unless ``bypassing``) apply them; returns what changed."""
        result = self.propose(*args, **kwargs)
        if not bypassing:
            self.update(result)
        return result

    def propose(self, *args: Any, **kwargs: Any) -> StepResult:
        """Compute new values without writing them (``_step`` with the options it takes).

        Suggested values that were refused or name no parameter are logged (INFO, logger
        ``opto.optimizers.step_report``) and, with ``verbose=True``, printed.
        """
        options = self._options_for_step(kwargs)
        result = self._step(*args, **options)
        result = result if isinstance(result, StepResult) else StepResult(result)
        verbose = self._verbose_option(args, options)
        report_refusals(type(self).__name__, result.refused, result.unknown, verbose)
        return result

    def _verbose_option(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        """The ``verbose`` value this step was given (by name or by position), else False."""
        try:
            bound = inspect.signature(self._step).bind_partial(*args, **options)
        except TypeError:
            return options.get("verbose", False)
        return bound.arguments.get("verbose", False)

    def missing_feedback(self) -> str | None:
        """Why a step would have nothing to show the LLM (no parameter received feedback),
        or None. The reason is also issued as a `NoFeedbackWarning` at the caller's line, so
        LLM-based optimizers call this first and skip the step instead of paying for a call
        with an empty #Variables section."""
        return missing_feedback(type(self).__name__, self._parameters)

    def _options_for_step(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options ``_step`` names; the others are dropped with one warning per name."""
        parameters = inspect.signature(self._step).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return options
        named = {p.name for p in parameters if p.kind is not p.VAR_POSITIONAL}
        ignored = [name for name in options if name not in named]
        warned = self.__dict__.setdefault("_ignored_options", set())
        fresh = [name for name in ignored if name not in warned]
        if fresh:
            warned.update(fresh)
            warn_user(
                f"{type(self).__name__}.step() ignores option(s) {', '.join(fresh)}: "
                "they have no effect on this optimizer"
            )
        return {name: value for name, value in options.items() if name not in ignored}

    def project(self, update_dict: dict[ParameterNode, Any]) -> dict[ParameterNode, Any]:
        """Apply each parameter's projections to its proposed value in ``update_dict``."""
        return {p: apply_projections(p, value) for p, value in update_dict.items()}

    def update(self, update_dict: dict[ParameterNode, Any]) -> None:
        """Write the values of ``update_dict`` (only to trainable parameters of this
        optimizer; other keys are ignored)."""
        mine = {id(p) for p in self._parameters}
        for parameter, value in update_dict.items():
            if id(parameter) in mine and parameter.trainable:
                parameter.set_data(value)

    def _step(self, *args: Any, **kwargs: Any) -> dict[ParameterNode, Any]:
        raise NotImplementedError

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What the optimizer has learned besides parameter values (JSON-representable)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state``, what ``state_dict`` returned."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the optimizer's state (not the parameters) as JSON to ``path``, atomically;
        returns the path written."""
        document = {"format": "opto.optimizer/1", "class": type(self).__name__}
        document["state"] = self.state_dict()
        return atomic_write_json(path, document)

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state :meth:`save` wrote to ``path``."""
        document = json.loads(Path(path).read_text())
        if document.get("format") != "opto.optimizer/1":
            raise ValueError(f"{path} is not an opto optimizer state file")
        self.load_state_dict(document["state"])

    def __deepcopy__(self, memo: dict) -> Optimizer:
        """A copy with its own state that shares the parameters and the LLM client."""
        for parameter in self._parameters:
            memo[id(parameter)] = parameter
        llm = self._llm
        if llm is not None:
            memo[id(llm)] = llm
        duplicate = object.__new__(type(self))
        memo[id(self)] = duplicate
        for key, value in self.__dict__.items():
            setattr(duplicate, key, copy.deepcopy(value, memo))
        return duplicate
