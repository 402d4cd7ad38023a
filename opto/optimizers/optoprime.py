"""OptoPrime: the optimizer of "Trace is the Next AutoDiff", and the core of its variants.

It shows the LLM the subgraph that links the parameters to the output (code, values,
feedback) and asks for new values. The text of that exchange is written by the prompt format
it is given (``prompt_format``, ``opto.optimizers.formats``); OptoPrimeV2, OPRO, OPROv2 and
OptoPrimeMulti are this class with other parts. Prompts are Trace's format by default, built by
the methods Trace users override (``summarize``, ``problem_instance``, ``repr_node_value``,
``construct_prompt``, ``call_llm``, ``extract_llm_suggestion``, ``construct_update_dict``) from
the class-level prompt pieces (``representation_prompt``, ``output_format_prompt``, ...).
What is different: the reply is parsed tolerantly, every value is checked before it is applied
(refusals are reported and shown in the next prompt), memory never hides the current problem,
each step is recorded, and the prompt can be held to a token budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opto.optimizers.buffers import FIFOBuffer
from opto.optimizers.formats import PromptFormat, SuggestionExtractionError, TraceJsonFormat
from opto.optimizers.formats.base import DEFAULT_JSON_KEYS, DEFAULT_OUTPUT_FORMAT
from opto.optimizers.function_feedback import (
    FunctionFeedback,
    ProblemInstance,
    constraint_lines,
    get_fun_name,
    node_to_function_feedback,
    repr_function_call,
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
from opto.optimizers.parsing import ParsedReply
from opto.optimizers.problem import build_problem
from opto.optimizers.prompt_budget import fit_to_budget
from opto.optimizers.prompts import optoprime as templates
from opto.optimizers.saved_state import checked_state
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


class OptoPrime(Optimizer):
    """Trace's OptoPrime with tolerant parsing, safe updates and bounded prompts.

    The core of every OptoPrime-style preset: it builds the problem, calls the LLM, applies
    values safely, repairs, remembers and logs; its ``prompt_format`` writes and reads the
    text (each preset chooses one in ``default_prompt_format``). The class attributes are the
    prompt pieces the formats read; a subclass (or an instance) may replace any of
    them. ``output_format_prompt`` is filled per instance from ``output_format_prompt_original``
    (or ``..._no_answer`` when ``json_keys["answer"]`` is None) unless a subclass sets its own.

    Arguments (Trace's, then opto's): ``parameters`` to train; ``llm`` (default ``LLM()``, made
    at the first step); ``propagator``; ``objective`` (default ``default_objective``);
    ``ignore_extraction_error`` (False: a reply without suggestion raises); ``include_example``
    (a worked example before the problem); ``memory_size`` (past rounds shown); ``max_tokens``;
    ``log`` (keep ``log`` and ``summary_log``); ``prompt_symbols`` (section markers);
    ``json_keys`` (names of the reply's keys; ``answer: None`` drops the answer);
    ``use_json_object_format`` (ask for JSON mode); ``highlight_variables`` (name the variables
    at the end); ``policy`` (how code it writes runs); ``prompt_token_budget`` (shrink the
    problem to fit); ``log_size`` (bound the logs); ``repair_attempts`` (ask again about values
    that could not be applied); ``prompt_tokenizer`` (how the budget counts tokens:
    ``"estimate"``, the default, ``"tiktoken"`` or a function, see ``opto.optimizers.tokens``);
    ``prompt_format`` (the part that writes the prompt and reads the reply; default
    ``default_prompt_format()``).
    """

    representation_prompt = templates.REPRESENTATION
    default_objective = templates.DEFAULT_OBJECTIVE
    output_format_prompt_original = templates.OUTPUT_FORMAT_WITH_ANSWER
    output_format_prompt_no_answer = templates.OUTPUT_FORMAT_NO_ANSWER
    output_format_prompt = DEFAULT_OUTPUT_FORMAT
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
        prompt_format: PromptFormat | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, *args, propagator=propagator, policy=policy, **kwargs)
        self._llm = llm
        self.prompt_format = prompt_format or self.default_prompt_format()
        symbols = self.prompt_format.default_prompt_symbols(self)
        if symbols is not type(self).default_prompt_symbols:
            self.default_prompt_symbols = dict(symbols)
        self.objective = objective or self.prompt_format.default_objective(self)
        self.ignore_extraction_error = ignore_extraction_error
        self.include_example = include_example
        self.memory = FIFOBuffer(memory_size)
        self.max_tokens = max_tokens
        self.prompt_symbols = {**self.default_prompt_symbols, **(prompt_symbols or {})}
        self.json_keys = {**self.default_json_keys, **(json_keys or {})}
        self.use_json_object_format = use_json_object_format and self.prompt_format.expects_json(
            self
        )
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
        self.prompt_format.initialize(self)

    def default_prompt_format(self) -> PromptFormat:
        """The part that decides the text when none is given (each preset chooses its own)."""
        return TraceJsonFormat()

    def initialize_prompt(self) -> None:
        """Fill the prompt pieces again (after changing ``json_keys`` or a symbol set)."""
        self.prompt_format.initialize(self)

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
        """``(type) name=value`` per entry of ``node_dict`` (prompt name -> ``(value,
        description)``), ``(code) name:source`` for code parameters (Trace's hook)."""
        return value_lines(node_dict)

    @staticmethod
    def repr_node_constraint(node_dict: Mapping[str, Any]) -> str:
        """``(type) name: description`` per entry of ``node_dict`` that has a description."""
        return constraint_lines(node_dict)

    def problem_instance(
        self, summary: FunctionFeedback, mask: Sequence[str] | None = None
    ) -> ProblemInstance:
        """The text of each section of ``summary`` (what ``summarize()`` returned), by the
        prompt format; a section whose marker (``"#Code"``...) is in ``mask`` is left empty."""
        return self.prompt_format.problem_instance(self, summary, mask)

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
        """``(system prompt, user prompt)`` for ``summary``, written by the prompt format;
        sections whose markers are in ``mask`` are left empty (None: all shown).

        Unlike Trace's, calling it has no side effect: memory is recorded by the step only.
        """
        return (
            self.prompt_format.system_prompt(self),
            self.prompt_format.user_prompt(self, summary, mask),
        )

    def problem_text(self, summary: FunctionFeedback, mask: Sequence[str] | None = None) -> str:
        """The problem block of ``summary`` (``render_problem(problem_instance(summary,
        mask))``, ``mask`` naming sections to leave empty), shrunk to ``prompt_token_budget``
        when one is set (variables, outputs and feedback stay whole); formats put it in the
        user prompt."""
        nodes = getattr(summary, "nodes", None)
        if not self.prompt_token_budget or nodes is None:
            return self.render_problem(self.problem_instance(summary, mask))

        def render(problem: Any, values: dict[str, str], omitted: dict[str, str]) -> str:
            shrunk = summary_from_nodes(problem, values, omitted)
            shrunk.user_feedback = summary.user_feedback  # a summarize() override may edit it
            return self.render_problem(self.problem_instance(shrunk, mask))

        return fit_to_budget(nodes, self.prompt_token_budget, render, self.prompt_tokenizer)

    def render_problem(self, instance: Any) -> str:
        """The text of ``instance`` (what ``problem_instance`` returned), by the prompt
        format (Trace's: with this optimizer's section markers; values are not rewritten)."""
        return self.prompt_format.render_problem(self, instance)

    def memory_text(self) -> str:
        """Past variables and feedback (empty before the first step or without memory)."""
        return self.prompt_format.memory_text(self)

    # -- the LLM ---------------------------------------------------------------------------

    def call_llm(
        self,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str = False,
        max_tokens: int | None = None,
    ) -> str:
        """Ask the LLM once with ``system_prompt`` and ``user_prompt``; returns the reply text.

        ``max_tokens`` caps the reply (None: the optimizer's ``max_tokens``); its usage is
        added to the step's record. ``verbose=True`` prints the system and the user prompt
        and the reply; ``verbose="output"`` prints the reply only.
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
        return self.prompt_format.parse(self, reply)

    def extract_llm_suggestion(
        self,
        response: str,
        suggestion_tag: str | None = None,
        reasoning_tag: str | None = None,
        return_only_suggestion: bool = True,
        ignore_extraction_error: bool | None = None,
    ) -> dict[str, Any]:
        """The suggested ``{name: value}`` of the reply text ``response`` (``{}`` if none).

        ``suggestion_tag`` and ``reasoning_tag`` replace the ``json_keys`` names of those keys
        for this call in a JSON format (None: as configured). ``return_only_suggestion=False``
        gives ``{"reasoning": ..., "variables": {...}}``. ``ignore_extraction_error=False``
        raises SuggestionExtractionError when nothing could be read; by default nothing is
        raised here and the step reports the problem. (The prompt format reads the reply; a
        tagged format returns ``{"reasoning", "variables"}``.)
        """
        return self.prompt_format.extract(
            self,
            response,
            suggestion_tag=suggestion_tag,
            reasoning_tag=reasoning_tag,
            return_only_suggestion=return_only_suggestion,
            ignore_extraction_error=ignore_extraction_error,
        )

    def _suggested_values(self, reply: str) -> Mapping[str, Any]:
        """The ``{name: value}`` part of what ``extract_llm_suggestion`` returns."""
        return self.prompt_format.suggested_values(self, reply)

    def construct_update_dict(
        self,
        suggestion: Mapping[str, Any],
        *,
        shown: Mapping[str, ParameterNode] | None = None,
    ) -> StepResult:
        """``{parameter: new value}`` for the values of ``suggestion`` (``{name: value}``,
        as ``extract_llm_suggestion`` returns it) that can be applied.

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
                "variables": {p.py_name: p.data for p in self.parameters if p.trainable},
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
        return repair_request(parsed, suggestion, plan, self.prompt_format.reply_label(self))

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
        memory, notes, objective = checked_state(state, self.objective)
        self.memory.clear()
        for entry in memory:
            self.memory.add(entry)
        self._pending_notes = notes
        self.objective = objective


OptoPrimeV1 = OptoPrime
