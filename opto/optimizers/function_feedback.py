"""Trace's two views of an optimization problem, built on opto's graph classification.

``FunctionFeedback`` is what ``OptoPrime.summarize()`` returns (and what
``node_to_function_feedback`` makes of a TraceGraph): the code lines, the documentation and,
per section, ``name -> (data, description)`` pairs. ``ProblemInstance`` holds the rendered
text of each section; ``str()`` of it is the problem block of the user prompt. Trace users
print the first and override the methods that turn one into the other, so both keep Trace's
field names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from opto.optimizers.problem import (
    ProblemNodes,
    build_problem,
    code_line,
    is_code_parameter,
    render_value,
    type_label,
)
from opto.optimizers.prompts import fill
from opto.optimizers.prompts.optoprime import PROBLEM_TEMPLATE
from opto.trace.nodes import Node
from opto.trace.propagators.trace_graph import TraceGraph


class NodeEntry(Sequence):
    """``(data, description)`` of one node, as Trace's FunctionFeedback holds it.

    It unpacks, indexes and compares like Trace's pair (``data, description = entry``;
    ``entry == (3, None)``). opto keeps the node too, and the text shown for its value: the
    value without memory addresses, or a shortened text when a token budget applies. The
    description is read only when asked for, since most entries are never asked.
    """

    __slots__ = ("_text", "node")

    def __init__(self, node: Node, text: str | None = None) -> None:
        self.node = node
        self._text = text

    def __getitem__(self, index: Any) -> Any:
        return (self.node.data, self.node.description)[index]

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Iterator[Any]:
        yield self.node.data
        yield self.node.description

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NodeEntry):
            other = tuple(other)
        return isinstance(other, tuple) and tuple(self) == other

    def __hash__(self) -> int:
        return hash((id(self.node), self._text))

    def __repr__(self) -> str:
        return repr(tuple(self))

    @property
    def text(self) -> str:
        """How the value is shown in the prompt."""
        return self.text_of(self.node.data)

    def text_of(self, data: Any) -> str:
        """How the value is shown, given the node's ``data`` already read by the caller (a
        prompt reads each value once)."""
        return render_value(data) if self._text is None else self._text

    @property
    def type_name(self) -> str:
        """``code`` for trainable code, else the value's type name."""
        return type_label(self.node)


def entry_text(entry: Any) -> str:
    """The text of a section entry: a NodeEntry's, or ``str`` of a plain pair's data."""
    return entry.text if isinstance(entry, NodeEntry) else render_value(entry[0])


def entry_type(name: str, entry: Any) -> str:
    """The type label of the section entry ``entry`` shown under ``name``: ``code`` for code
    parameters (Trace: a name containing ``__code``), else the value's type name."""
    if isinstance(entry, NodeEntry):
        return entry.type_name
    return "code" if "__code" in name else type(entry[0]).__name__


@dataclass
class FunctionFeedback:
    """The problem as Trace's ``summarize()`` returns it.

    ``graph`` holds ``(level, code line)`` pairs in execution order, ``documentation`` maps a
    function name to its description, ``others``/``roots``/``output`` map prompt names to
    ``(data, description)`` pairs and ``user_feedback`` is the feedback. ``summarize()`` also
    fills ``variables`` (the roots this optimizer trains) and ``inputs`` (the other roots).
    ``omitted`` holds, per section, a note on what a token budget left out, and ``nodes`` the
    classified graph the summary was made from (None for a summary built by hand).
    """

    graph: list[tuple[int, str]]
    documentation: dict[str, str]
    others: dict[str, Any]
    roots: dict[str, Any]
    output: dict[str, Any]
    user_feedback: Any
    variables: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    omitted: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    nodes: ProblemNodes | None = field(default=None, repr=False, compare=False)


@dataclass(repr=False)
class ProblemInstance:
    """The rendered sections of OptoPrime's problem; ``str()`` fills ``problem_template``.

    Each field is a section's text: ``instruction`` (the objective), ``code``,
    ``documentation``, ``variables``, ``inputs``, ``others``, ``outputs``, ``feedback`` and
    ``constraints`` (an empty string leaves the section empty).
    """

    instruction: str
    code: str
    documentation: str
    variables: str
    inputs: str
    others: str
    outputs: str
    feedback: str
    constraints: str

    problem_template: ClassVar[str] = PROBLEM_TEMPLATE

    def __repr__(self) -> str:
        return fill(self.problem_template, **{f.name: getattr(self, f.name) for f in fields(self)})

    __str__ = __repr__


def summary_from_nodes(
    problem: ProblemNodes,
    values: Mapping[str, str] | None = None,
    omitted: Mapping[str, str] | None = None,
) -> FunctionFeedback:
    """The FunctionFeedback of ``problem``, the classified nodes; ``values`` replace the
    shown text of some (by prompt name) and ``omitted`` holds the token budget's note per
    section."""
    values = values or {}

    def section(nodes: Mapping[str, Node]) -> dict[str, NodeEntry]:
        return {name: NodeEntry(item, values.get(name)) for name, item in nodes.items()}

    variables, inputs = section(problem.variables), section(problem.inputs)
    return FunctionFeedback(
        graph=[
            (item.level, line) for item, line in zip(problem.code_nodes, problem.code, strict=True)
        ],
        documentation=dict(problem.documentation),
        others=section(problem.others),
        roots={**variables, **inputs},
        output=section(problem.outputs),
        user_feedback=problem.feedback,
        variables=variables,
        inputs=inputs,
        omitted=dict(omitted or {}),
        nodes=problem,
    )


def node_to_function_feedback(node_feedback: TraceGraph) -> FunctionFeedback:
    """Classify ``node_feedback``, a TraceGraph (what a parameter received from backward),
    into Trace's sections.

    Every root lands in ``roots`` (and ``inputs``): which of them are variables depends on an
    optimizer's parameters, which ``OptoPrime.summarize()`` knows. ``user_feedback`` is the
    graph's feedback as given.
    """
    summary = summary_from_nodes(build_problem(node_feedback, (), ""))
    summary.user_feedback = node_feedback.user_feedback
    return summary


def get_fun_name(node: Node) -> str:
    """The function name of a node: ``info["fun_name"]`` when there is one, else its base name."""
    info = node.info
    if isinstance(info, dict) and info.get("fun_name"):
        return info["fun_name"]
    return node.name.split(":")[0]


def repr_function_call(child: Node) -> str:
    """The #Code line of ``child``, an operation's output: ``out = fun(arg=input, ...)``."""
    return code_line(child)


def value_lines(node_dict: Mapping[str, Any]) -> str:
    """``(type) name=value`` lines for ``node_dict`` (name -> entry), ``(code) name:source``
    for code (Trace's format).

    Built with one join, so a long value is copied once."""
    pieces: list[str] = []
    for name, entry in node_dict.items():
        if type(entry) is NodeEntry:  # the common case, without the helpers' indirections
            item = entry.node
            data = item.data
            code = is_code_parameter(item)
            kind = "code" if code else type(data).__name__
            text = entry.text_of(data)
        else:
            kind, text = entry_type(name, entry), entry_text(entry)
            code = kind == "code"
        if pieces:
            pieces.append("\n")
        pieces += (f"({kind}) {name}", ":" if code else "=", text)
    return "".join(pieces)


def constraint_lines(node_dict: Mapping[str, Any]) -> str:
    """``(type) name: description`` for each entry of ``node_dict`` that has a description."""
    return "\n".join(
        f"({entry_type(name, entry)}) {name}: {entry[1]}"
        for name, entry in node_dict.items()
        if entry[1] is not None
    )


def section_text(hidden: bool, render: Callable[[], str], note: str | None = None) -> str:
    """A section's text: ``render()`` unless ``hidden`` (masked), with the token budget's
    ``note`` after it."""
    content = "" if hidden else render()
    if note:
        content = f"{content}\n{note}" if content else note
    return content


def code_text(summary: FunctionFeedback) -> str:
    """The #Code section: the summary's code lines."""
    return "\n".join(line for _, line in summary.graph)


def documentation_text(summary: FunctionFeedback) -> str:
    """The #Documentation section of ``summary``: ``[function] description`` per function."""
    return "\n".join(
        f"[{name}] {text or ''}".rstrip() for name, text in summary.documentation.items()
    )
