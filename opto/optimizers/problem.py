"""From a TraceGraph to the nodes of each prompt section, in one linear pass.

The sections are Trace's (#Code, #Documentation, #Variables, #Constraints, #Inputs,
#Others, #Outputs, #Feedback). A node is an input or a variable when it has no parents in
the subgraph; variables are this optimizer's trainable parameters. Outputs are the nodes
feedback was given on (Trace labelled only the deepest nodes). Code lines follow execution
order, so the same program always gives the same text. A call that raised says so in its
documentation, because the LLM must know that the output it sees is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opto.trace.nodes import ExceptionNode, MessageNode, Node, ParameterNode
from opto.trace.propagators.trace_graph import TraceGraph
from opto.utils.rendering import render_text


def is_code_parameter(parameter: Node) -> bool:
    """Trainable function source (a bundle's code parameter: it has a ``code_spec``)."""
    return parameter.code_spec is not None


def render_value(value: Any) -> str:
    """``str(value)`` for a prompt, bounded and without memory addresses, so the same program
    gives the same prompt on every run and no output can stop it (``opto.utils.rendering``)."""
    return render_text(value)


def type_label(node: Node) -> str:
    """The ``(type)`` a prompt shows for ``node``: ``code`` for trainable function source
    (so the LLM knows to answer with a function), else its value's type name."""
    return "code" if is_code_parameter(node) else type(node.data).__name__


@dataclass
class ProblemNodes:
    """The sections of an optimization problem as ordered ``name -> node`` maps; the code
    lines and, per function name, its documentation text (without the ``[name]`` prefix).

    ``instruction`` is the objective; ``code`` the code lines in execution order and
    ``code_nodes`` the node each line computes (same order); ``documentation`` maps function
    name -> description; ``variables`` (trained parameters), ``inputs`` (other roots),
    ``others`` (intermediate nodes) and ``outputs`` (nodes that got feedback) map prompt
    names to nodes; ``feedback`` is the feedback text ("" when there is none).
    """

    instruction: str
    code: list[str] = field(default_factory=list)
    code_nodes: list[Node] = field(default_factory=list)
    documentation: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Node] = field(default_factory=dict)
    inputs: dict[str, Node] = field(default_factory=dict)
    others: dict[str, Node] = field(default_factory=dict)
    outputs: dict[str, Node] = field(default_factory=dict)
    feedback: str = ""

    @property
    def constraints(self) -> dict[str, str]:
        """Prompt name -> description of each variable that has one (#Constraints)."""
        return {
            name: node.description
            for name, node in self.variables.items()
            if node.description is not None
        }


def build_problem(
    graph: TraceGraph,
    parameters: Iterable[ParameterNode],
    instruction: str,
    extra_variables: Iterable[ParameterNode] = (),
) -> ProblemNodes:
    """Classify the graph's nodes and render the code lines: O(nodes + edges).

    ``graph`` is the TraceGraph of the feedback; ``parameters`` are the optimizer's (only
    the trainable ones become variables, other roots are inputs); ``instruction`` is the
    objective; ``extra_variables`` are trainable parameters to show as variables even when
    the graph does not hold them (default none), e.g. the parameters that received feedback.
    """
    trainable = {id(p) for p in parameters if p.trainable}
    nodes = [item for _, item in graph.graph]
    taken: set[str] = set()
    names = {item: _unique_name(item, taken) for item in nodes}  # each name is built once
    outputs = {id(item) for item in graph.outputs}
    if not outputs and nodes:
        deepest = max(item.level for item in nodes)
        outputs = {id(item) for item in nodes if item.level == deepest and item.parents}
    problem = ProblemNodes(instruction=instruction, feedback=_feedback_text(graph))
    for item in nodes:
        operation = item.parents or item.hidden_dependencies
        if not operation or not all(map(names.__contains__, item.parents)):
            section = problem.variables if id(item) in trainable else problem.inputs
            section[names[item]] = item
            continue
        problem.code.append(code_line(item, names))
        problem.code_nodes.append(item)
        function = function_name(item)
        if function not in problem.documentation:
            problem.documentation[function] = item.description or ""
        if isinstance(item, ExceptionNode):
            problem.documentation[function] = _raised(problem.documentation[function], function)
        section = problem.outputs if id(item) in outputs else problem.others
        section[names[item]] = item
    shown = {id(item) for item in problem.variables.values()}
    for parameter in extra_variables:
        if parameter.trainable and id(parameter) not in shown:
            problem.variables[_unique_name(parameter, taken)] = parameter
            shown.add(id(parameter))
    return problem


def _unique_name(item: Node, taken: set[str]) -> str:
    """The node's ``py_name``, or, if another node of this problem already shows that name
    (a copy of a parameter, a name reused after ``GRAPH.clear()``), the first free
    ``py_name_2``, ``py_name_3``... so that each name in a prompt means one node."""
    name = item.py_name
    if name in taken:
        suffix = 2
        while f"{name}_{suffix}" in taken:
            suffix += 1
        name = f"{name}_{suffix}"
    taken.add(name)
    return name


def _raised(documentation: str, function: str) -> str:
    """The documentation of a function whose call raised, saying so (once)."""
    note = f"A call of {function} raised an exception."
    if note in documentation:
        return documentation
    return f"{documentation} {note}".lstrip()


def _feedback_text(graph: TraceGraph) -> str:
    feedback = graph.user_feedback
    return "" if feedback is None else render_text(feedback)


def function_name(item: Node) -> str:
    """The function whose call computed the node ``item`` (Trace's ``get_fun_name``);
    ``"unknown"`` when the node does not record one."""
    if isinstance(item, MessageNode):
        return item.info.get("fun_name") or item.op_name or "unknown"
    return item.op_name or "unknown"


def _inputs(item: Node) -> dict[str, Node]:
    return item.inputs if isinstance(item, MessageNode) else {}


def code_line(item: Node, names: Mapping[Node, str] | None = None) -> str:
    """The code line of the node ``item``: ``out = fun(arg=input, ...)``; a call without
    arguments renders as ``out = fun()``.

    ``names`` maps nodes to their prompt names when the caller has them already (None: each
    node's ``py_name``)."""
    inputs = _inputs(item)
    if names is None:
        names = {node: node.py_name for node in (item, *inputs.values())}
    arguments = ", ".join(f"{key}={names[value]}" for key, value in inputs.items())
    return f"{names[item]} = {function_name(item)}({arguments})"
