"""TextGrad on the trace graph: textual gradients, one LLM call per edge.

The walk goes from the outputs back to the parameters over the same subgraph OptoPrime
shows. Each edge (node -> parent) costs one "gradient" call that turns the feedback on the
node into feedback on the parent; a node with several gradients first gets one "reduce" call.
Each trainable parameter with feedback then gets one update call answered between
``<IMPROVED_VARIABLE>`` tags, checked by the same safe-update rules as OptoPrime.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.parsing import extract_between
from opto.optimizers.problem import code_line, is_code_parameter, render_value
from opto.optimizers.prompts import textgrad as templates
from opto.optimizers.updates import UpdatePlan, plan_updates
from opto.trace.nodes import Node, ParameterNode
from opto.trace.propagators import Propagator


class TextGrad(Optimizer):
    """Textual gradient descent over the TraceGraph (O(edges) LLM calls per step)."""

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        propagator: Propagator | None = None,
        policy: Any = None,
        objective: str | None = None,
        max_tokens: int = 4096,
        log: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, *args, propagator=propagator, policy=policy, **kwargs)
        self._llm = llm
        self.objective = objective or templates.DEFAULT_OBJECTIVE
        self.max_tokens = max_tokens
        self.log: list[dict] | None = [] if log else None

    def call_llm(self, system_prompt: str, user_prompt: str, verbose: bool = False) -> str:
        """One plain-text LLM call; always returns the reply text (a ``str``)."""
        response = self.llm(
            messages=[
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": user_prompt},
            ],
            max_tokens=self.max_tokens,
        )
        text = response.choices[0].message.content or ""
        if verbose:
            print(text)
        return text

    def _step(self, verbose: bool = False, **kwargs: Any) -> StepResult:
        if kwargs:
            raise TypeError(f"step() got unexpected argument(s) {', '.join(kwargs)}")
        graph = self.trace_graph
        nodes = [node for _, node in graph.graph]
        members = {id(node) for node in nodes}
        outputs = graph.outputs or nodes[-1:]
        gradients: dict[Node, list[str]] = {
            output: [render_value(graph.user_feedback)] for output in outputs
        }
        calls: list[dict] = []
        for node in reversed(nodes):
            received = gradients.get(node)
            if not received or not (node._parents or node._hidden):
                continue
            feedback = self._reduce(received, calls, verbose)
            targets = [p for p in node._parents if id(p) in members and p._has_params]
            targets += [p for p in node._hidden if p not in targets]
            for parent in targets:
                gradients.setdefault(parent, []).append(
                    self._gradient(node, parent, feedback, calls, verbose)
                )
        suggestion: dict[str, Any] = {}
        failures: dict[str, str] = {}
        shown: dict[str, ParameterNode] = {}  # each value goes to the parameter it was asked for
        for parameter in self.parameters:
            if parameter.trainable and gradients.get(parameter):
                feedback = self._reduce(gradients[parameter], calls, verbose)
                reply = self._update(parameter, feedback, calls, verbose)
                value = extract_between(reply, "<IMPROVED_VARIABLE>", "</IMPROVED_VARIABLE>")
                name = parameter.py_name
                while name in shown:
                    name += "_"
                shown[name] = parameter
                if value is None:
                    failures[name] = "the reply has no <IMPROVED_VARIABLE> value"
                else:
                    suggestion[name] = value.strip("\n")
        plan: UpdatePlan = plan_updates(suggestion, self.parameters, shown)
        if self.log is not None:
            self.log.append({"calls": calls, "suggestion": suggestion, "refused": plan.refused})
        return StepResult(plan.accepted, refused={**failures, **plan.refused}, unknown=plan.unknown)

    def _gradient(self, node: Node, parent: Node, feedback: str, calls: list, verbose: bool) -> str:
        inputs = ", ".join(
            f"{key}={render_value(value._data)}"
            for key, value in getattr(node, "_inputs", {}).items()
        )
        user = templates.GRADIENT_USER.format(
            role=_role(parent),
            value=render_value(parent._data),
            operation=f"{code_line(node)} with {inputs}" if inputs else code_line(node),
            output=render_value(node._data),
            objective=self.objective,
            feedback=feedback,
        )
        text = self.call_llm(templates.GRADIENT_SYSTEM, user, verbose)
        calls.append({"kind": "gradient", "edge": (node.py_name, parent.py_name), "reply": text})
        return text

    def _reduce(self, feedbacks: list[str], calls: list, verbose: bool) -> str:
        if len(feedbacks) == 1:
            return feedbacks[0]
        user = "\n\n".join(f"<FEEDBACK>{text}</FEEDBACK>" for text in feedbacks)
        text = self.call_llm(templates.REDUCE_SYSTEM, user, verbose)
        calls.append({"kind": "reduce", "count": len(feedbacks), "reply": text})
        return text

    def _update(self, parameter: ParameterNode, feedback: str, calls: list, verbose: bool) -> str:
        constraints = [parameter.description or ""]
        if is_code_parameter(parameter):
            constraints.append(templates.CODE_CONSTRAINT)
        user = templates.UPDATE_USER.format(
            role=_role(parameter),
            value=render_value(parameter._data),
            feedback=feedback,
            constraints="\n".join(c for c in constraints if c) or "none",
        )
        text = self.call_llm(templates.UPDATE_SYSTEM, user, verbose)
        calls.append({"kind": "update", "variable": parameter.py_name, "reply": text})
        return text


def _role(node: Node) -> str:
    kind = "python code" if is_code_parameter(node) else type(node._data).__name__
    described = f": {node.description}" if node.description else ""
    return f"{node.py_name} ({kind}){described}"
