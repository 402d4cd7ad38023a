"""OptoPrime: the optimizer of "Trace is the Next AutoDiff".

It shows the LLM the subgraph that links the parameters to the output (code, values,
feedback) and asks for new values as JSON. Prompts are Trace's format by default, built by
the methods Trace users override (``summarize``, ``problem_instance``, ``repr_node_value``,
``construct_prompt``, ``call_llm``, ``extract_llm_suggestion``, ``construct_update_dict``) from
the class-level prompt pieces (``representation_prompt``, ``output_format_prompt``, ...).
What is different: the reply is parsed tolerantly, every value is checked before it is applied
(refusals are reported and shown in the next prompt), memory never hides the current problem,
each step is recorded, and the prompt can be held to a token budget.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.function_feedback import (
    FunctionFeedback,
    ProblemInstance,
    code_text,
    constraint_lines,
    documentation_text,
    get_fun_name,
    node_to_function_feedback,
    repr_function_call,
    section_text,
    summary_from_nodes,
    value_lines,
)
from opto.optimizers.json_mode import JsonModeRequests
from opto.optimizers.key_resolution import (
    PromptNames,
    ResolvedSuggestion,
    code_outside_suggestion,
    resolve_suggestion,
)
from opto.optimizers.optimizer import Optimizer, StepResult
from opto.optimizers.parsing import ParsedReply, parse_json_reply
from opto.optimizers.problem import build_problem, render_value
from opto.optimizers.prompt_budget import fit_to_budget
from opto.optimizers.prompts import fill, fill_pieces
from opto.optimizers.prompts import optoprime as templates
from opto.optimizers.step_support import (
    add_usage,
    merge_plans,
    plan_from,
    repair_request,
    step_record,
)
from opto.optimizers.suggestion_feedback import SuggestionFeedback, report_note
from opto.optimizers.tokens import Tokenizer, resolve_tokenizer
from opto.optimizers.updates import UpdatePlan, plan_updates
from opto.trace.nodes import ParameterNode
from opto.trace.propagators import Propagator
from opto.utils.errors import OptoError
from opto.utils.rendering import render_json
from opto.utils.user_warnings import warn_user

__all__ = [
    "FunctionFeedback",
    "OptoPrime",
    "OptoPrimeV1",
    "ProblemInstance",
    "SuggestionExtractionError",
    "get_fun_name",
    "node_to_function_feedback",
    "repr_function_call",
]

DEFAULT_JSON_KEYS = {"reasoning": "reasoning", "answer": "answer", "suggestion": "suggestion"}


class SuggestionExtractionError(OptoError, ValueError):
    """The LLM's reply held no usable suggestion (raised when ignore_extraction_error=False)."""


class OptoPrime(Optimizer):
    """Trace's OptoPrime with tolerant parsing, safe updates and bounded prompts.

    The class attributes are the prompt pieces; a subclass (or an instance) may replace any of
    them. ``output_format_prompt`` is filled per instance from ``output_format_prompt_original``
    (or ``..._no_answer`` when ``json_keys["answer"]`` is None) unless a subclass sets its own.

    Typical use: ``opt = OptoPrime(agent.parameters())``, then per step ``opt.zero_feedback()``,
    ``output.backward(feedback)`` and ``opt.step()``.

    Args (Trace's first, then opto's):
        parameters: the ParameterNodes to train (``module.parameters()``, or a node).
        llm: the client asked for new values; default ``LLM()``, made at the first step, so
            building an optimizer needs no configured model.
        propagator: how feedback travels backward (default: the ``GraphPropagator``, which
            gives each parameter the subgraph linking it to the outputs).
        objective: the #Instruction text (default ``default_objective``: improve the output
            according to the feedback).
        ignore_extraction_error: False raises ``SuggestionExtractionError`` when a reply holds
            no suggestion; True (default) reports it in the step's result and goes on.
        include_example: put a worked example problem and reply before the problem.
        memory_size: how many past rounds (values and feedback) the prompt shows (0: none).
        max_tokens: the longest reply asked for, in tokens.
        log: keep each step's prompts, reply and outcome in ``log`` and the problem in
            ``summary_log`` (for ``render_opt_step`` and the run report).
        prompt_symbols: replacements of the section markers (``{"variables": "#Params"}``).
        json_keys: the names of the reply's keys (``reasoning``, ``answer``, ``suggestion``);
            ``answer: None`` drops the answer from the requested format.
        use_json_object_format: ask the provider for JSON mode (dropped by itself when the
            client refuses it).
        highlight_variables: end the prompt by naming the variables to change.
        policy: how code this optimizer writes runs (an ``opto.runtime`` policy or its name),
            for code parameters whose bundle chose none.
        prompt_token_budget: shrink long values and distant parts of the problem until the
            prompt fits in this many tokens (None: never shrink).
        log_size: keep only the last ``log_size`` entries of the logs (None: all).
        repair_attempts: how many times to ask again, within one step, about values that
            could not be applied (with the reasons); 0 asks once.
        prompt_tokenizer: how the budget counts tokens: ``"estimate"`` (default, four
            characters a token), ``"tiktoken"``, ``"tiktoken:<encoding>"`` or a function
            ``str -> int`` (see ``opto.optimizers.tokens``).
    """

    representation_prompt = templates.REPRESENTATION
    default_objective = templates.DEFAULT_OBJECTIVE
    output_format_prompt_original = templates.OUTPUT_FORMAT_WITH_ANSWER
    output_format_prompt_no_answer = templates.OUTPUT_FORMAT_NO_ANSWER
    output_format_prompt = templates.OUTPUT_FORMAT_WITH_ANSWER.format(**DEFAULT_JSON_KEYS)
    example_problem_template = templates.EXAMPLE_PROBLEM_TEMPLATE
    example_prompt = templates.EXAMPLE_PROMPT
    user_prompt_template = templates.USER_PROMPT_TEMPLATE
    final_prompt = templates.FINAL_PROMPT
    final_prompt_with_variables = templates.FINAL_PROMPT_WITH_VARIABLES
    default_prompt_symbols: Mapping[str, str] = MappingProxyType(templates.SECTIONS)
    default_json_keys: Mapping[str, str | None] = MappingProxyType(DEFAULT_JSON_KEYS)

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
        prompt_tokenizer: str | Tokenizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, *args, propagator=propagator, policy=policy, **kwargs)
        self._llm = llm
        self.objective = objective or self.default_objective
        self.ignore_extraction_error = ignore_extraction_error
        self.include_example = include_example
        self.memory = FIFOBuffer(memory_size)
        self.max_tokens = max_tokens
        self.prompt_symbols = {**self.default_prompt_symbols, **(prompt_symbols or {})}
        self.json_keys = {**self.default_json_keys, **(json_keys or {})}
        if type(self).output_format_prompt == OptoPrime.output_format_prompt:
            self.output_format_prompt = self._output_format_for_keys()
        self.use_json_object_format = use_json_object_format
        self.highlight_variables = highlight_variables
        self.prompt_token_budget = prompt_token_budget
        self.prompt_tokenizer = resolve_tokenizer(prompt_tokenizer)
        self.repair_attempts = repair_attempts
        self.log: deque | None = deque(maxlen=log_size) if log else None
        self.summary_log: deque | None = deque(maxlen=log_size) if log else None
        self._pending_notes = ""
        self._suggestion_feedback = SuggestionFeedback()
        self._json_mode = JsonModeRequests()
        self._call_usages: list[Any] = []  # usage of each call_llm of the current step

    def _output_format_for_keys(self) -> str:
        keys = {key: value for key, value in self.json_keys.items() if value is not None}
        if self.json_keys.get("answer") is None:
            return self.output_format_prompt_no_answer.format(**keys)
        return self.output_format_prompt_original.format(**keys)

    # -- the problem -----------------------------------------------------------------------

    def summarize(self) -> FunctionFeedback:
        """The current problem: the TraceGraph of all parameters, classified into sections."""
        with_feedback = [p for p in self.parameters if p.feedback]
        problem = build_problem(self.trace_graph, self.parameters, self.objective, with_feedback)
        if self._pending_notes:
            problem.feedback = f"{problem.feedback}\n\n{self._pending_notes}".strip()
        return summary_from_nodes(problem)

    @staticmethod
    def repr_node_value(node_dict: Mapping[str, Any]) -> str:
        """``(type) name=value`` per entry of ``node_dict`` (name -> (value, description)),
        ``(code) name:source`` for code parameters."""
        return value_lines(node_dict)

    @staticmethod
    def repr_node_constraint(node_dict: Mapping[str, Any]) -> str:
        """``(type) name: description`` per entry of ``node_dict`` that has a description."""
        return constraint_lines(node_dict)

    def problem_instance(
        self, summary: FunctionFeedback, mask: Sequence[str] | None = None
    ) -> ProblemInstance:
        """The text of each section of ``summary`` (the problem ``summarize`` returned); a
        section whose marker is in ``mask`` is left empty."""
        masked = set(mask or ())
        omitted = getattr(summary, "omitted", None) or {}

        def section(key: str, render: Any) -> str:
            hidden = templates.SECTIONS[key] in masked or self.prompt_symbols.get(key) in masked
            return section_text(hidden, render, omitted.get(key))

        feedback = summary.user_feedback
        return ProblemInstance(
            instruction=section(
                "instruction", lambda: self.replace_symbols(self.objective, self.prompt_symbols)
            ),
            code=section("code", lambda: code_text(summary)),
            documentation=section("documentation", lambda: documentation_text(summary)),
            variables=section("variables", lambda: self.repr_node_value(summary.variables)),
            constraints=section(
                "constraints", lambda: self.repr_node_constraint(summary.variables)
            ),
            inputs=section("inputs", lambda: self.repr_node_value(summary.inputs)),
            others=section("others", lambda: self.repr_node_value(summary.others)),
            outputs=section("outputs", lambda: self.repr_node_value(summary.output)),
            feedback=section(
                "feedback", lambda: "" if feedback is None else render_value(feedback)
            ),
        )

    def replace_symbols(self, text: str, symbols: Mapping[str, str]) -> str:
        """``text`` with each default section marker replaced by the one in ``symbols``."""
        for key, symbol in symbols.items():
            default = self.default_prompt_symbols[key]
            if symbol != default:
                text = text.replace(default, symbol)
        return text

    # -- the prompt ------------------------------------------------------------------------

    def construct_prompt(
        self,
        summary: FunctionFeedback,
        mask: Sequence[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[str, str]:
        """``(system prompt, user prompt)`` for ``summary``, with this optimizer's symbols.

        Sections whose markers are in ``mask`` are left empty. Unlike Trace's, calling it has
        no side effect: memory is recorded by the step only.
        """
        system_prompt = self.replace_symbols(
            self.representation_prompt + self.output_format_prompt, self.prompt_symbols
        )
        template = self.replace_symbols(self.user_prompt_template, self.prompt_symbols)
        pieces = [self._example()] if self.include_example else []
        pieces += fill_pieces(template, problem_instance=self._problem_text(summary, mask))
        pieces.append(self.memory_text())
        if self.highlight_variables:
            names = ", ".join(summary.variables)
            pieces.append(self.final_prompt_with_variables.format(names=names))
        else:
            pieces.append(self.final_prompt)
        return system_prompt, "".join(pieces)

    def _problem_text(self, summary: FunctionFeedback, mask: Sequence[str] | None) -> str:
        """The problem block, shrunk to ``prompt_token_budget`` when one is set."""
        nodes = getattr(summary, "nodes", None)
        if not self.prompt_token_budget or nodes is None:
            return self.render_problem(self.problem_instance(summary, mask))

        def render(problem: Any, values: dict[str, str], omitted: dict[str, str]) -> str:
            shrunk = summary_from_nodes(problem, values, omitted)
            shrunk.user_feedback = summary.user_feedback  # a summarize() override may edit it
            return self.render_problem(self.problem_instance(shrunk, mask))

        return fit_to_budget(nodes, self.prompt_token_budget, render, self.prompt_tokenizer)

    def render_problem(self, instance: ProblemInstance) -> str:
        """``str(instance)``, with this optimizer's section markers (values are not rewritten)."""
        if all(self.prompt_symbols.get(k) == v for k, v in self.default_prompt_symbols.items()):
            return str(instance)
        template = self.replace_symbols(instance.problem_template, self.prompt_symbols)
        return fill(template, **{f.name: getattr(instance, f.name) for f in fields(instance)})

    def memory_text(self) -> str:
        """Past variables and feedback (empty before the first step or without memory)."""
        if not len(self.memory):
            return ""
        entries = "\n".join(render_json(entry) for entry in self.memory)
        return templates.MEMORY_LEAD + entries + "\n\n"

    def _example(self) -> str:
        keys = self.json_keys
        reply = {keys["reasoning"]: templates.EXAMPLE_REPLY["reasoning"]}
        if keys.get("answer") is not None:
            reply[keys["answer"]] = templates.EXAMPLE_REPLY["answer"]
        reply[keys["suggestion"]] = templates.EXAMPLE_REPLY["suggestion"]
        example = self.example_problem_template.format(
            example_problem=self.replace_symbols(templates.EXAMPLE_PROBLEM, self.prompt_symbols),
            example_response=json.dumps(reply, indent=4),
        )
        return self.example_prompt.format(examples=example)

    # -- the LLM ---------------------------------------------------------------------------

    def call_llm(
        self,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str = False,
        max_tokens: int | None = None,
    ) -> str:
        """Ask the LLM once with ``system_prompt`` and ``user_prompt``; returns the reply text.

        ``verbose=True`` prints the system and the user prompt and the reply;
        ``verbose="output"`` prints the reply only. ``max_tokens`` bounds the reply (None:
        the optimizer's ``max_tokens``).
        """
        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt},
        ]
        text, usage = self._ask(messages, verbose, max_tokens)
        self._call_usages.append(usage)
        return text

    def _ask(
        self, messages: list[dict], verbose: bool | str, max_tokens: int | None = None
    ) -> tuple[str, Any]:
        if verbose not in (False, "output"):
            first = messages[0]["content"] if len(messages) == 2 else ""
            print("Prompt\n", first + messages[-1]["content"])
        response = self._call(messages, max_tokens=max_tokens)
        text = response.choices[0].message.content or ""
        if verbose:
            print("LLM response:\n", text)
        return text, getattr(response, "usage", None)

    def _call(
        self, messages: list[dict], llm: Any = None, max_tokens: int | None = None, **options: Any
    ) -> Any:
        """One request; JSON mode when configured, unless the client rejected it (json_mode)."""
        client = llm if llm is not None else self.llm
        options["max_tokens"] = max_tokens or self.max_tokens
        if not self.use_json_object_format:
            return client(messages=messages, **options)
        return self._json_mode.call(client, messages, **options)

    # -- reading the reply -----------------------------------------------------------------

    def _parse(self, reply: str) -> ParsedReply:
        keys = self.json_keys
        return parse_json_reply(
            reply,
            reasoning_key=keys["reasoning"],
            answer_key=keys.get("answer"),
            suggestion_key=keys["suggestion"],
        )

    def extract_llm_suggestion(
        self,
        response: str,
        suggestion_tag: str | None = None,
        reasoning_tag: str | None = None,
        return_only_suggestion: bool = True,
        ignore_extraction_error: bool | None = None,
    ) -> dict[str, Any]:
        """The suggested ``{name: value}`` of the reply ``response`` (``{}`` when there is none).

        ``suggestion_tag`` and ``reasoning_tag`` override the JSON keys the reply uses for the
        suggestion and the reasoning (default: ``json_keys``).
        With ``return_only_suggestion=False``: ``{"reasoning": ..., "variables": {...}}``.
        ``ignore_extraction_error=False`` raises SuggestionExtractionError when nothing could be
        read; by default nothing is raised here and the step reports the problem.
        """
        keys = self.json_keys
        parsed = parse_json_reply(
            response,
            reasoning_key=reasoning_tag or keys["reasoning"],
            answer_key=keys.get("answer"),
            suggestion_key=suggestion_tag or keys["suggestion"],
        )
        suggestion = dict(parsed.suggestion)
        if not suggestion and not parsed.terminate and ignore_extraction_error is False:
            raise SuggestionExtractionError(
                f"no suggestion could be extracted: {parsed.error or 'the reply has none'}"
            )
        if return_only_suggestion:
            return suggestion
        return {"reasoning": parsed.reasoning or "", "variables": suggestion}

    def _suggested_values(self, reply: str) -> Mapping[str, Any]:
        """The ``{name: value}`` part of what ``extract_llm_suggestion`` returns."""
        return self.extract_llm_suggestion(reply)

    def construct_update_dict(
        self,
        suggestion: Mapping[str, Any],
        *,
        shown: Mapping[str, ParameterNode] | None = None,
    ) -> StepResult:
        """``{parameter: new value}`` for the values of ``suggestion`` (name -> value) that
        can be applied.

        Values are converted to the parameter's type or refused; the result's ``refused`` and
        ``unknown`` say what was left out and why. ``shown`` is the prompt's ``name ->
        parameter`` map: a value goes to the parameter shown under its name.
        """
        plan = plan_updates(suggestion, self.parameters, shown)
        return StepResult(plan.accepted, refused=plan.refused, unknown=plan.unknown)

    def _plan(
        self,
        reply: str,
        parsed: ParsedReply,
        shown: Mapping[str, ParameterNode] | None,
        names: PromptNames,
    ) -> tuple[Mapping[str, Any], ResolvedSuggestion, UpdatePlan]:
        """The suggestion as written, with its keys read as prompt names, and its plan."""
        if parsed.terminate:
            return {}, ResolvedSuggestion(), UpdatePlan()
        suggestion = self._suggested_values(reply)
        keys = self.json_keys
        outside = code_outside_suggestion(reply, keys["reasoning"], keys.get("answer"))
        resolved = resolve_suggestion({**outside, **suggestion}, names)
        if type(self).construct_update_dict is not OptoPrime.construct_update_dict:
            # a subclass's own conversion (Trace's extension point) takes the names alone
            plan = plan_from(self.construct_update_dict(resolved.suggestion))
        else:
            plan = plan_from(self.construct_update_dict(resolved.suggestion, shown=shown))
        plan.refused.update(resolved.refused)
        return suggestion, resolved, plan

    # -- the step --------------------------------------------------------------------------

    def _respond(
        self,
        summary: FunctionFeedback,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str,
        mask: Sequence[str] | None,
    ) -> str:
        """The reply the step works with (one LLM call here; several in OptoPrimeMulti)."""
        return self.call_llm(
            system_prompt, user_prompt, verbose=verbose, max_tokens=self.max_tokens
        )

    def _step(self, verbose: bool | str = False, mask: Sequence[str] | None = None) -> StepResult:
        no_feedback = self.missing_feedback()
        if no_feedback is not None:
            return StepResult(error=no_feedback)
        summary = self.summarize()
        system_prompt, user_prompt = self.construct_prompt(summary, mask=mask)
        self._call_usages = []
        reply = self._respond(summary, system_prompt, user_prompt, verbose, mask)
        usage = None
        for used in self._call_usages:
            usage = add_usage(usage, used)
        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt},
        ]
        parsed = self._parse(reply)
        shown = summary.nodes.variables if summary.nodes is not None else None
        names = PromptNames.of_problem(summary.nodes, self.parameters)
        suggestion, resolved, plan = self._plan(reply, parsed, shown, names)
        for _ in range(self.repair_attempts):
            if parsed.terminate or not (plan.refused or not suggestion):
                break
            messages = [*messages, {"role": "assistant", "content": reply}]
            request = self._repair_request(parsed, suggestion, plan)
            messages.append({"role": "user", "content": request})
            reply, more_usage = self._ask(messages, verbose)
            usage = add_usage(usage, more_usage)
            parsed = self._parse(reply)
            suggestion, resolved, repaired = self._plan(reply, parsed, shown, names)
            plan = merge_plans(plan, repaired)
        result = self._result(parsed, suggestion, plan)
        self.memory.add(
            {
                "variables": {p.py_name: p._data for p in self.parameters if p.trainable},
                "feedback": summary.user_feedback,
            }
        )
        self._pending_notes = self._suggestion_feedback.note(resolved, result, names)
        report_note(type(self).__name__, self._pending_notes, verbose)
        self._record(system_prompt, user_prompt, reply, parsed, suggestion, result, usage, summary)
        return result

    def _repair_request(
        self, parsed: ParsedReply, suggestion: Mapping[str, Any], plan: UpdatePlan
    ) -> str:
        return repair_request(parsed, suggestion, plan, "JSON")

    def _result(
        self, parsed: ParsedReply, suggestion: Mapping[str, Any], plan: UpdatePlan
    ) -> StepResult:
        error = None
        if not parsed.terminate and not suggestion:
            error = parsed.error or "the reply has no suggestion"
            if not self.ignore_extraction_error:
                raise SuggestionExtractionError(f"no suggestion could be extracted: {error}")
            warn_user(f"OptoPrime: no suggestion in the LLM reply ({error})")
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
        suggestion: Mapping[str, Any],
        result: StepResult,
        usage: Any,
        summary: FunctionFeedback,
    ) -> None:
        if self.log is None:
            return
        self.log.append(
            step_record(system_prompt, user_prompt, reply, parsed, suggestion, result, usage)
        )
        self.summary_log.append(
            {"problem_instance": self.problem_instance(summary), "summary": summary}
        )

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


def _is_memory_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("variables"), dict)
        and isinstance(entry.get("feedback"), str)
    )


OptoPrimeV1 = OptoPrime
