"""TextGrad on the trace graph: textual gradients, one LLM call per edge.

The walk goes from the outputs back to the parameters over the same subgraph OptoPrime
shows. Each edge (node -> parent) costs one "gradient" call that turns the feedback on the
node into feedback on the parent; a node with several gradients first gets one "reduce" call.
Each trainable parameter with feedback then gets one update call answered between
``<IMPROVED_VARIABLE>`` tags, checked by the same safe-update rules as OptoPrime. The prompt
pieces and helpers keep the names Trace exposes here (``construct_tgd_prompt``,
``GRADIENT_TEMPLATE``, ...); their text is opto's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.parsing import extract_between
from opto.optimizers.problem import code_line, is_code_parameter, render_value
from opto.optimizers.prompts.textgrad import (
    BACKWARD_SYSTEM_PROMPT,
    CODE_CONSTRAINT,
    CONSTRAINT_PROMPT_ADDITION,
    CONVERSATION_START_INSTRUCTION_BASE,
    CONVERSATION_START_INSTRUCTION_CHAIN,
    CONVERSATION_TEMPLATE,
    DEFAULT_OBJECTIVE,
    EVALUATE_VARIABLE_INSTRUCTION,
    GLOSSARY_TEXT,
    GLOSSARY_TEXT_BACKWARD,
    GRADIENT_TEMPLATE,
    IN_CONTEXT_EXAMPLE_PROMPT_ADDITION,
    MOMENTUM_PROMPT_ADDITION,
    NEW_VARIABLE_END_TAG,
    NEW_VARIABLE_START_TAG,
    OBJECTIVE_INSTRUCTION_BASE,
    OBJECTIVE_INSTRUCTION_CHAIN,
    OBJECTIVE_LINE,
    OPTIMIZER_SYSTEM_PROMPT,
    REDUCE_MEAN_SYSTEM_PROMPT,
    TGD_MULTIPART_PROMPT_INIT,
    TGD_MULTIPART_PROMPT_PREFIX,
    TGD_PROMPT_PREFIX,
    TGD_PROMPT_SUFFIX,
)
from opto.optimizers.updates import UpdatePlan, plan_updates
from opto.trace.nodes import Node, ParameterNode
from opto.trace.propagators import Propagator

__all__ = [
    "BACKWARD_SYSTEM_PROMPT",
    "CONSTRAINT_PROMPT_ADDITION",
    "CONVERSATION_START_INSTRUCTION_BASE",
    "CONVERSATION_START_INSTRUCTION_CHAIN",
    "CONVERSATION_TEMPLATE",
    "EVALUATE_VARIABLE_INSTRUCTION",
    "GLOSSARY_TEXT",
    "GLOSSARY_TEXT_BACKWARD",
    "GRADIENT_TEMPLATE",
    "IN_CONTEXT_EXAMPLE_PROMPT_ADDITION",
    "MOMENTUM_PROMPT_ADDITION",
    "OBJECTIVE_INSTRUCTION_BASE",
    "OBJECTIVE_INSTRUCTION_CHAIN",
    "OPTIMIZER_SYSTEM_PROMPT",
    "REDUCE_MEAN_SYSTEM_PROMPT",
    "TGD_MULTIPART_PROMPT_INIT",
    "TGD_MULTIPART_PROMPT_PREFIX",
    "TGD_PROMPT_PREFIX",
    "TGD_PROMPT_SUFFIX",
    "GradientInfo",
    "TextGrad",
    "construct_reduce_prompt",
    "construct_tgd_prompt",
    "get_short_value",
    "rm_node_attrs",
]


@dataclass
class GradientInfo:
    """A textual gradient, and the step it was computed on (``None`` for a combined one).

    ``len()`` is 1 without context and 2 with it; ``[0]`` is the gradient, ``[1]`` the context.
    ``gradient`` is the feedback text for one node; ``gradient_context`` the inputs and
    output of the operation it went through (None for a combined gradient).
    """

    gradient: str
    gradient_context: dict[str, str] | None = None

    def __len__(self) -> int:
        return 1 if self.gradient_context is None else 2

    def __getitem__(self, key: int) -> Any:
        if key == 0:
            return self.gradient
        if key == 1:
            return self.gradient_context
        raise IndexError(f"GradientInfo index {key} out of range")


def construct_tgd_prompt(
    do_momentum: bool = False,
    do_constrained: bool = False,
    do_in_context_examples: bool = False,
    **optimizer_kwargs: Any,
) -> str | list[str]:
    """The update request for one variable, formatted with ``optimizer_kwargs``.

    ``do_momentum`` adds the variable's past values, ``do_constrained`` its constraints and
    ``do_in_context_examples`` examples of good values (each needs its placeholders among
    ``optimizer_kwargs``).

    With a string ``variable_grad``: one text (prefix, the optional momentum / constraint /
    example parts, suffix). With a list of gradient parts: a list, the opening text, the parts,
    then the instruction. A placeholder missing from the arguments raises KeyError.
    """
    additions = ""
    if do_momentum:
        additions += MOMENTUM_PROMPT_ADDITION.format(**optimizer_kwargs)
    if do_constrained:
        additions += CONSTRAINT_PROMPT_ADDITION.format(**optimizer_kwargs)
    if do_in_context_examples:
        additions += IN_CONTEXT_EXAMPLE_PROMPT_ADDITION.format(**optimizer_kwargs)
    suffix = TGD_PROMPT_SUFFIX.format(**optimizer_kwargs)
    gradient = optimizer_kwargs["variable_grad"]
    if isinstance(gradient, str):
        return TGD_PROMPT_PREFIX.format(**optimizer_kwargs) + additions + suffix
    opening = TGD_MULTIPART_PROMPT_INIT.format(**optimizer_kwargs)
    closing = TGD_MULTIPART_PROMPT_PREFIX.format(**optimizer_kwargs) + additions + suffix
    return [opening, *gradient, closing]


def construct_reduce_prompt(gradients: Iterable[GradientInfo | str]) -> str:
    """One ``<FEEDBACK>...</FEEDBACK>`` line per entry of ``gradients`` (its text, not its
    repr): the request to merge the feedback a node received from several children."""
    texts = (g.gradient if isinstance(g, GradientInfo) else str(g) for g in gradients)
    return "\n".join(f"<FEEDBACK>{text}</FEEDBACK>" for text in texts)


def rm_node_attrs(text: str | None) -> str:
    """``text`` without its ``[...]`` spans (such as ``[op]`` prefixes), stripped."""
    if text is None:
        return ""
    return re.sub(r"\[.*?\]", "", text).strip()


def get_short_value(text: Any, n_words_offset: int = 10) -> str:
    """``str(text)``; beyond ``2 * n_words_offset`` words, its first and last words only."""
    words = str(text).split(" ")
    if len(words) <= 2 * n_words_offset:
        return str(text)
    head = " ".join(words[:n_words_offset])
    tail = " ".join(words[-n_words_offset:])
    return f"{head} (...) {tail}"


class TextGrad(Optimizer):
    """Textual gradient descent over the TraceGraph (O(edges) LLM calls per step).

    Feedback is sent backward through the graph one LLM call per edge, then each parameter
    is rewritten from the feedback it received. ``parameters`` are the nodes to train and
    ``llm`` the client (default ``LLM()``, made at the first step); ``propagator`` and
    ``policy`` are the base ``Optimizer``'s; ``objective`` is the goal stated in prompts;
    ``max_tokens`` bounds each reply; ``log=True`` keeps every prompt and reply in ``log``.
    """

    default_objective = DEFAULT_OBJECTIVE

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
        self.objective = objective or self.default_objective
        self.max_tokens = max_tokens
        self.log: list[dict] | None = [] if log else None

    def call_llm(self, system_prompt: str, user_prompt: str, verbose: bool = False) -> str:
        """One plain-text LLM call with ``system_prompt`` and ``user_prompt``; always returns
        the reply text (a ``str``), printed when ``verbose``."""
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

    def _step(self, verbose: bool = False) -> StepResult:
        no_feedback = self.missing_feedback()
        if no_feedback is not None:
            return StepResult(error=no_feedback)
        graph = self.trace_graph
        nodes = [node for _, node in graph.graph]
        members = {id(node) for node in nodes}
        outputs = graph.outputs or nodes[-1:]
        gradients: dict[Node, list[GradientInfo]] = {
            output: [GradientInfo(render_value(graph.user_feedback))] for output in outputs
        }
        final = set(map(id, outputs))
        calls: list[dict] = []
        for node in reversed(nodes):
            received = gradients.get(node)
            if not received or not (node.parents or node.hidden_dependencies):
                continue
            feedback = self._reduce(received, calls, verbose).gradient
            targets = [p for p in node.parents if id(p) in members and p.depends_on_parameters]
            targets += [p for p in node.hidden_dependencies if p not in targets]
            for parent in targets:
                gradients.setdefault(parent, []).append(
                    self._gradient(node, parent, feedback, id(node) in final, calls, verbose)
                )
        suggestion: dict[str, Any] = {}
        failures: dict[str, str] = {}
        shown: dict[str, ParameterNode] = {}  # each value goes to the parameter it was asked for
        for parameter in self.parameters:
            if parameter.trainable and gradients.get(parameter):
                reply = self._update(parameter, gradients[parameter], calls, verbose)
                value = extract_between(reply, NEW_VARIABLE_START_TAG, NEW_VARIABLE_END_TAG)
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

    def _gradient(
        self,
        node: Node,
        parent: Node,
        feedback: str,
        is_output: bool,
        calls: list,
        verbose: bool,
    ) -> GradientInfo:
        inputs = ", ".join(
            f"{key}={render_value(value.data)}"
            for key, value in getattr(node, "_inputs", {}).items()
        )
        operation = f"{code_line(node)} with {inputs}" if inputs else code_line(node)
        conversation = CONVERSATION_TEMPLATE.format(
            prompt=operation, response_value=render_value(node.data)
        )
        start = (
            CONVERSATION_START_INSTRUCTION_BASE
            if is_output
            else CONVERSATION_START_INSTRUCTION_CHAIN
        )
        response_desc = f"the output {node.py_name}"
        user = (
            start.format(conversation=conversation, variable_desc=_role(parent))
            + (OBJECTIVE_INSTRUCTION_BASE if is_output else "")
            + OBJECTIVE_INSTRUCTION_CHAIN.format(
                response_desc=response_desc, response_gradient=feedback
            )
            + OBJECTIVE_LINE.format(objective=self.objective)
            + EVALUATE_VARIABLE_INSTRUCTION.format(
                variable_desc=_role(parent),
                variable_short=get_short_value(render_value(parent.data)),
            )
        )
        text = self.call_llm(BACKWARD_SYSTEM_PROMPT, user, verbose)
        calls.append({"kind": "gradient", "edge": (node.py_name, parent.py_name), "reply": text})
        context = {
            "context": conversation,
            "response_desc": response_desc,
            "variable_desc": _role(parent),
        }
        return GradientInfo(text, context)

    def _reduce(self, gradients: list[GradientInfo], calls: list, verbose: bool) -> GradientInfo:
        if len(gradients) == 1:
            return gradients[0]
        text = self.call_llm(REDUCE_MEAN_SYSTEM_PROMPT, construct_reduce_prompt(gradients), verbose)
        calls.append({"kind": "reduce", "count": len(gradients), "reply": text})
        return GradientInfo(text)

    def _update(
        self, parameter: ParameterNode, gradients: list[GradientInfo], calls: list, verbose: bool
    ) -> str:
        gradient = self._reduce(gradients, calls, verbose)
        if gradient.gradient_context is None:
            feedback = gradient.gradient
        else:
            feedback = GRADIENT_TEMPLATE.format(
                **gradient.gradient_context, feedback=gradient.gradient
            )
        constraints = [parameter.description or ""]
        if is_code_parameter(parameter):
            constraints.append(CODE_CONSTRAINT)
        constraint_text = "\n".join(c for c in constraints if c)
        tags = {
            "new_variable_start_tag": NEW_VARIABLE_START_TAG,
            "new_variable_end_tag": NEW_VARIABLE_END_TAG,
        }
        user = construct_tgd_prompt(
            do_constrained=bool(constraint_text),
            variable_desc=_role(parameter),
            variable_short=render_value(parameter.data),
            variable_grad=feedback,
            constraint_text=constraint_text,
            **tags,
        )
        text = self.call_llm(OPTIMIZER_SYSTEM_PROMPT.format(**tags), user, verbose)
        calls.append({"kind": "update", "variable": parameter.py_name, "reply": text})
        return text


def _role(node: Node) -> str:
    kind = "python code" if is_code_parameter(node) else type(node.data).__name__
    described = f": {node.description}" if node.description else ""
    return f"{node.py_name} ({kind}){described}"
