"""OptoPrime: the optimizer of "Trace is the Next AutoDiff".

It shows the LLM the subgraph that links the parameters to the output (code, values,
feedback) and asks for new values as JSON. Prompts are Trace's format by default. What is
different: the reply is parsed tolerantly, every value is checked before it is applied
(refusals are reported and shown in the next prompt), memory never hides the current problem,
each step is recorded, and the prompt can be held to a token budget.
"""

from __future__ import annotations

import json
import warnings
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.parsing import ParsedReply, parse_json_reply
from opto.optimizers.problem import (
    ProblemInstance,
    build_problem,
    is_code_parameter,
    render_value,
    type_label,
)
from opto.optimizers.prompt_budget import fit_to_budget
from opto.optimizers.prompts import optoprime as templates
from opto.optimizers.updates import UpdatePlan, describe_refusals, plan_updates
from opto.trace.nodes import Node, ParameterNode
from opto.trace.propagators import Propagator

DEFAULT_JSON_KEYS = {"reasoning": "reasoning", "answer": "answer", "suggestion": "suggestion"}


class SuggestionExtractionError(ValueError):
    """The LLM's reply held no usable suggestion (raised when ignore_extraction_error=False)."""


def value_line(node: Node, value_text: str | None = None) -> str:
    """``(type) name=value``, or ``(code) name:source`` for code parameters (Trace's format)."""
    return "".join(_value_line_parts(node, node.py_name, value_text))


def _value_line_parts(node: Node, name: str, value_text: str | None) -> tuple[str, str]:
    """The line as (label, value), so a long value is copied once, into the final prompt."""
    text = render_value(node._data) if value_text is None else value_text
    if is_code_parameter(node):
        return f"(code) {name}:", text
    return f"({type(node._data).__name__}) {name}=", text


def constraint_line(node: Node) -> str:
    return f"({type_label(node)}) {node.py_name}: {node.description}"


class OptoPrime(Optimizer):
    """Trace's OptoPrime with tolerant parsing, safe updates and bounded prompts."""

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        propagator: Propagator | None = None,
        policy: Any = None,
        objective: str | None = None,
        ignore_extraction_error: bool = True,
        include_example: bool = False,
        memory_size: int = 0,
        max_tokens: int = 4096,
        log: bool = True,
        prompt_symbols: dict[str, str] | None = None,
        json_keys: dict[str, str | None] | None = None,
        use_json_object_format: bool = True,
        highlight_variables: bool = False,
        prompt_token_budget: int | None = None,
        log_size: int | None = None,
        repair_attempts: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, *args, propagator=propagator, policy=policy, **kwargs)
        self._llm = llm
        self.objective = objective or templates.DEFAULT_OBJECTIVE
        self.ignore_extraction_error = ignore_extraction_error
        self.include_example = include_example
        self.memory = FIFOBuffer(memory_size)
        self.max_tokens = max_tokens
        self.prompt_symbols = {**templates.SECTIONS, **(prompt_symbols or {})}
        self.json_keys = {**DEFAULT_JSON_KEYS, **(json_keys or {})}
        self.use_json_object_format = use_json_object_format
        self.highlight_variables = highlight_variables
        self.prompt_token_budget = prompt_token_budget
        self.repair_attempts = repair_attempts
        self.log: deque | None = deque(maxlen=log_size) if log else None
        self.summary_log: deque | None = deque(maxlen=log_size) if log else None
        self._pending_notes = ""

    # -- the problem and the prompt --------------------------------------------------------

    def summarize(self) -> ProblemInstance:
        """The current problem: the TraceGraph of all parameters, classified into sections."""
        with_feedback = [p for p in self.parameters if p.feedback]
        problem = build_problem(self.trace_graph, self.parameters, self.objective, with_feedback)
        if self._pending_notes:
            problem.feedback = f"{problem.feedback}\n\n{self._pending_notes}".strip()
        return problem

    def problem_text(
        self,
        problem: ProblemInstance,
        mask: Sequence[str] | None = None,
        values: dict[str, str] | None = None,
        omitted: dict[str, str] | None = None,
    ) -> str:
        """The problem instance block; ``values``/``omitted`` come from the token budget."""
        values = values or {}
        omitted = omitted or {}

        def lines(section: dict[str, Node]) -> list[str]:
            pieces: list[str] = []
            for name, item in section.items():
                if pieces:
                    pieces.append("\n")
                pieces.extend(_value_line_parts(item, name, values.get(name)))
            return pieces

        contents = {
            "instruction": [self._with_symbols(problem.instruction)],
            "code": ["\n".join(problem.code)],
            "documentation": ["\n".join(problem.documentation.values())],
            "variables": lines(problem.variables),
            "constraints": [
                "\n".join(
                    constraint_line(n)
                    for n in problem.variables.values()
                    if n.description is not None
                )
            ],
            "inputs": lines(problem.inputs),
            "others": lines(problem.others),
            "outputs": lines(problem.outputs),
            "feedback": [problem.feedback],
        }
        masked = set(mask or ())
        pieces: list[str] = []
        for key, symbol in self.prompt_symbols.items():
            content = [] if symbol in masked or templates.SECTIONS[key] in masked else contents[key]
            if pieces:
                pieces.append("\n\n")
            pieces += [symbol, "\n", *content]
            if omitted.get(key):
                pieces += ["\n", omitted[key]] if any(content) else [omitted[key]]
        return "".join(pieces)

    def system_prompt(self) -> str:
        keys = self.json_keys
        text = templates.REPRESENTATION + templates.output_format(
            keys["reasoning"], keys.get("answer"), keys["suggestion"]
        )
        return self._with_symbols(text)

    def _with_symbols(self, text: str) -> str:
        for key, symbol in self.prompt_symbols.items():
            default = templates.SECTIONS[key]
            if symbol != default:
                text = text.replace(default, symbol)
        return text

    def construct_prompt(
        self, problem: ProblemInstance, mask: Sequence[str] | None = None
    ) -> tuple[str, str]:
        """``(system prompt, user prompt)`` for ``problem``."""
        if self.prompt_token_budget:
            problem_block = fit_to_budget(
                problem, self.prompt_token_budget, lambda p, v, o: self.problem_text(p, mask, v, o)
            )
        else:
            problem_block = self.problem_text(problem, mask)
        if self.highlight_variables:
            names = ", ".join(problem.variables)
            ending = "\n" + templates.HIGHLIGHT.format(names=names) + "Your response:\n"
        else:
            ending = templates.RESPONSE_PROMPT
        example = self._example() if self.include_example else ""
        user = "".join(
            (
                example,
                templates.USER_INTRO,
                *self._framed(problem_block),
                self.memory_text(),
                ending,
            )
        )
        return self.system_prompt(), user

    def memory_text(self) -> str:
        """Past variables and feedback (empty before the first step or without memory)."""
        if not len(self.memory):
            return ""
        entries = "\n".join(json.dumps(entry, indent=4, default=str) for entry in self.memory)
        return templates.MEMORY_LEAD + entries + "\n\n"

    @staticmethod
    def _framed(block: str) -> tuple[str, ...]:
        """The block between separators, as pieces for one final join (blocks can be large)."""
        return (templates.SEPARATOR, "\n\n", block, "\n\n", templates.SEPARATOR, "\n\n")

    def _example(self) -> str:
        keys = self.json_keys
        reply = {keys["reasoning"]: templates.EXAMPLE_REPLY["reasoning"]}
        if keys.get("answer") is not None:
            reply[keys["answer"]] = templates.EXAMPLE_REPLY["answer"]
        reply[keys["suggestion"]] = templates.EXAMPLE_REPLY["suggestion"]
        example = "".join(self._framed(self._with_symbols(templates.EXAMPLE_PROBLEM)))
        return (
            templates.EXAMPLE_INTRO
            + example
            + "Your response:\n"
            + json.dumps(reply, indent=4)
            + "\n"
        )

    # -- the step --------------------------------------------------------------------------

    def _step(
        self, verbose: bool | str = False, mask: Sequence[str] | None = None, **kwargs: Any
    ) -> StepResult:
        if kwargs:
            raise TypeError(f"step() got unexpected argument(s) {', '.join(kwargs)}")
        problem = self.summarize()
        system_prompt, user_prompt = self.construct_prompt(problem, mask=mask)
        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt},
        ]
        reply, usage = self._ask(messages, verbose)
        parsed = self._parse(reply)
        plan = plan_updates(parsed.suggestion, self.parameters, problem.variables)
        for _ in range(self.repair_attempts):
            if parsed.terminate or not (plan.refused or (parsed.error and not parsed.suggestion)):
                break
            messages = [*messages, {"role": "assistant", "content": reply}]
            messages.append({"role": "user", "content": self._repair_request(parsed, plan)})
            reply, more_usage = self._ask(messages, verbose)
            usage = _add_usage(usage, more_usage)
            parsed = self._parse(reply)
            plan = _merge_plans(
                plan, plan_updates(parsed.suggestion, self.parameters, problem.variables)
            )
        result = self._result(parsed, plan)
        self.memory.add(
            {
                "variables": {p.py_name: p._data for p in self.parameters if p.trainable},
                "feedback": problem.feedback,
            }
        )
        self._pending_notes = _notes_for_next_prompt(result)
        self._record(system_prompt, user_prompt, reply, parsed, result, usage, problem)
        return result

    def _ask(self, messages: list[dict], verbose: bool | str) -> tuple[str, Any]:
        if verbose not in (False, "output"):
            print("Prompt\n", messages[-1]["content"])
        response = self._call(messages)
        text = response.choices[0].message.content or ""
        if verbose:
            print("LLM response:\n", text)
        return text, getattr(response, "usage", None)

    def _call(self, messages: list[dict], llm: Any = None, **options: Any) -> Any:
        """One request; JSON mode when configured, retried without it if refused."""
        client = llm if llm is not None else self.llm
        if not self.use_json_object_format:
            return client(messages=messages, max_tokens=self.max_tokens, **options)
        try:
            return client(
                messages=messages,
                max_tokens=self.max_tokens,
                response_format={"type": "json_object"},
                **options,
            )
        except Exception as error:
            if not _worth_retrying_without_json_mode(error):
                raise
            return client(messages=messages, max_tokens=self.max_tokens, **options)

    def call_llm(
        self,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str = False,
        max_tokens: int | None = None,
    ) -> str:
        """Ask the LLM once (Trace's helper); returns the reply text."""
        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt},
        ]
        saved, self.max_tokens = self.max_tokens, max_tokens or self.max_tokens
        try:
            return self._ask(messages, verbose)[0]
        finally:
            self.max_tokens = saved

    def _parse(self, reply: str) -> ParsedReply:
        keys = self.json_keys
        return parse_json_reply(
            reply,
            reasoning_key=keys["reasoning"],
            answer_key=keys.get("answer"),
            suggestion_key=keys["suggestion"],
        )

    def _repair_request(self, parsed: ParsedReply, plan: UpdatePlan) -> str:
        if parsed.error and not parsed.suggestion:
            problem = f"Your reply could not be read: {parsed.error}."
        else:
            problem = "Some suggested values could not be applied:\n" + plan.feedback_text()
        return (
            f"{problem}\nAnswer again in the same JSON format, with corrected values for "
            "these variables only."
        )

    def _result(self, parsed: ParsedReply, plan: UpdatePlan) -> StepResult:
        error = None
        if not parsed.terminate and not parsed.suggestion:
            error = parsed.error or "the reply has no suggestion"
            if not self.ignore_extraction_error:
                raise SuggestionExtractionError(f"no suggestion could be extracted: {error}")
            warnings.warn(f"OptoPrime: no suggestion in the LLM reply ({error})", stacklevel=4)
        return StepResult(
            plan.accepted,
            refused=plan.refused,
            unknown=plan.unknown,
            terminated=parsed.terminate,
            error=error,
        )

    def _record(
        self,
        system_prompt: str,
        user_prompt: str,
        reply: str,
        parsed: ParsedReply,
        result: StepResult,
        usage: Any,
        problem: ProblemInstance,
    ) -> None:
        if self.log is None:
            return
        self.log.append(
            {
                "system_prompt": system_prompt,
                "user_prompt": user_prompt,
                "response": reply,
                "reasoning": parsed.reasoning,
                "answer": parsed.answer,
                "suggestion": dict(parsed.suggestion),
                "applied": {p.py_name: v for p, v in result.items()},
                "refused": dict(result.refused),
                "unknown": list(result.unknown),
                "terminated": result.terminated,
                "error": result.error,
                "usage": _usage_dict(usage),
            }
        )
        self.summary_log.append(problem)

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "memory": list(self.memory),
            "pending_notes": self._pending_notes,
            "objective": self.objective,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore memory, pending notes and objective; ``ValueError`` (nothing changed) for
        a state of the wrong shape, which a damaged checkpoint can hold."""
        memory = state.get("memory", [])
        notes = state.get("pending_notes", "")
        objective = state.get("objective", self.objective)
        if not isinstance(memory, list) or not all(_is_memory_entry(e) for e in memory):
            raise ValueError("the optimizer memory must be a list of {variables, feedback}")
        if not isinstance(notes, str) or not isinstance(objective, str):
            raise ValueError("the optimizer's pending_notes and objective must be strings")
        self.memory.clear()
        for entry in memory:
            self.memory.add(entry)
        self._pending_notes = notes
        self.objective = objective


OptoPrimeV1 = OptoPrime


def _is_memory_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("variables"), dict)
        and isinstance(entry.get("feedback"), str)
    )


def _worth_retrying_without_json_mode(error: Exception) -> bool:
    """Trace retried without ``response_format`` after any error; not after budget/auth ones."""
    from opto.llm.errors import InvalidRequestError, LLMError

    if isinstance(error, LLMError):
        return isinstance(error, InvalidRequestError)
    return True


def _merge_plans(first: UpdatePlan, second: UpdatePlan) -> UpdatePlan:
    accepted = {**first.accepted, **second.accepted}
    names = {p.py_name for p in accepted}
    refused = {k: v for k, v in {**first.refused, **second.refused}.items() if k not in names}
    return UpdatePlan(accepted=accepted, refused=refused, unknown=second.unknown)


def _notes_for_next_prompt(result: StepResult) -> str:
    text = describe_refusals(result.refused, result.unknown)
    return f"Note: parts of your previous suggestion were not applied:\n{text}" if text else ""


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    if isinstance(usage, dict):
        return dict(usage)
    fields = ("prompt_tokens", "completion_tokens", "total_tokens", "cost", "cached")
    return {name: getattr(usage, name) for name in fields if hasattr(usage, name)}


def _add_usage(first: Any, second: Any) -> Any:
    if first is None or second is None:
        return first or second
    a, b = _usage_dict(first), _usage_dict(second)
    return {key: (a.get(key) or 0) + (b.get(key) or 0) for key in {**a, **b}}
