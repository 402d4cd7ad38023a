"""OptoPrimeMulti: several candidate replies per step, then one is selected.

``generate_candidates`` asks for candidates with a generation strategy (five built in,
concurrent where the requests are independent); ``select_candidate`` picks (or writes) the
reply with a selection strategy; the reply is then parsed and checked exactly as OptoPrime's.
Strategies are small objects (``opto.optimizers.candidates``) named by Trace's technique
names or given directly; both methods can be overridden, and every technique can be changed
for one step: ``step(num_responses=5, selection_technique="majority")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opto.optimizers.candidates import (
    DEFAULT_EXPERTS,
    GENERATION_STRATEGIES,
    SELECTION_STRATEGIES,
    CandidateRequest,
    GenerationStrategy,
    SelectionRequest,
    SelectionStrategy,
    generation_strategy,
    selection_strategy,
)
from opto.optimizers.function_feedback import FunctionFeedback
from opto.optimizers.optoprime import OptoPrime
from opto.trace.nodes import ParameterNode
from opto.trace.propagators import GraphPropagator

__all__ = ["GraphPropagator", "OptoPrime", "OptoPrimeMulti"]

GENERATION_TECHNIQUES = tuple(GENERATION_STRATEGIES)
SELECTION_TECHNIQUES = tuple(SELECTION_STRATEGIES)


class OptoPrimeMulti(OptoPrime):
    """OptoPrime with ``num_responses`` candidate replies per step and a selection rule.

    Arguments: ``parameters`` to train; ``llm`` (default ``LLM()``, made at the first step);
    ``num_responses`` (default 3, at least 1: candidates per step); ``temperature_min_max``
    (default ``(0.0, 1.0)``: the temperatures ``temperature_variation`` spreads its requests
    over); ``selector`` (a function ``candidates -> reply`` that replaces the selection
    strategy, e.g. a rule of your own; default None); ``generation_technique`` (default
    ``"temperature_variation"``) and ``selection_technique`` (default ``"best_of_n"``): a
    name of ``GENERATION_STRATEGIES`` / ``SELECTION_STRATEGIES`` or a strategy object, an
    unknown name raises ``ValueError`` here rather than at the first step;
    ``experts_list`` (the roles ``multi_experts`` gives the LLM, default ``DEFAULT_EXPERTS``);
    ``llm_profiles`` (``LLM`` profile names ``multi_llm`` asks, required for it) and
    ``llm_weights`` (their shares of the requests, default equal). ``temperature_range``
    (Trace 0.1's name) is accepted for ``temperature_min_max``. Every other keyword argument
    is OptoPrime's.
    """

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        num_responses: int = 3,
        temperature_min_max: Sequence[float] | None = None,
        selector: Callable[[list[str]], str] | None = None,
        generation_technique: str = "temperature_variation",
        selection_technique: str = "best_of_n",
        experts_list: list[str] | None = None,
        llm_profiles: list[str] | None = None,
        llm_weights: list[float] | None = None,
        temperature_range: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, llm, *args, **kwargs)
        self.num_responses = num_responses
        self.temperature_min_max = _temperatures(temperature_min_max, temperature_range)
        self.selector = selector
        self.generation_technique = generation_technique
        self.selection_technique = selection_technique
        self.experts_list = list(experts_list or DEFAULT_EXPERTS)
        self.llm_profiles = list(llm_profiles or [])
        self.llm_weights = list(llm_weights or [])
        self.candidates: list[str] = []
        self.selected_candidate: str | None = None
        _check_options(self.generation_technique, self.selection_technique, self.num_responses)

    # -- one call --------------------------------------------------------------------------

    def call_llm(  # type: ignore[override]
        self,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str = False,
        max_tokens: int | None = None,
        num_responses: int = 1,
        temperature: float = 0.0,
        llm: Any = None,
    ) -> list[str]:
        """``num_responses`` replies (a list of texts) to ``system_prompt`` + ``user_prompt``.

        ``temperature`` (default 0.0) is sent with the request; ``llm`` is the client to ask
        (None: the optimizer's, ``multi_llm`` passes a profile's); ``max_tokens`` caps each
        reply (None: the optimizer's ``max_tokens``); ``verbose`` prints as in
        ``OptoPrime.call_llm``. Usage is added to the step's record.
        """
        messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt},
        ]
        options: dict[str, Any] = {"temperature": temperature}
        if num_responses != 1:
            options["n"] = num_responses
        if verbose not in (False, "output"):
            print("Prompt\n", system_prompt + user_prompt)
        response = self._call(messages, llm, max_tokens=max_tokens, **options)
        self._call_usages.append(getattr(response, "usage", None))
        texts = [choice.message.content or "" for choice in response.choices]
        if verbose:
            print("LLM response:\n", texts)
        return texts

    # -- candidates ------------------------------------------------------------------------

    def generate_candidates(
        self,
        summary: FunctionFeedback,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str = False,
        mask: Sequence[str] | None = None,
        max_tokens: int | None = None,
        num_responses: int | None = None,
        generation_technique: str | GenerationStrategy | None = None,
        temperature_min_max: Sequence[float] | None = None,
        experts_list: list[str] | None = None,
        temperature_range: Sequence[float] | None = None,
    ) -> list[str]:
        """Candidate replies to the step's ``system_prompt`` and ``user_prompt`` by the
        generation strategy; the concurrent ones leave a failed request out (all failed: the
        first error is raised), the sequential ones raise it.

        Each option left None takes the constructor's value for this call:
        ``generation_technique`` (a name of ``GENERATION_STRATEGIES`` or a strategy object),
        ``num_responses`` (how many candidates), ``temperature_min_max`` (or Trace 0.1's
        ``temperature_range``), ``experts_list``. ``max_tokens`` caps each reply and
        ``verbose`` prints as in ``call_llm``. ``summary`` (the step's problem) and ``mask``
        (its hidden sections) are passed so an override can build its own prompts; the
        built-in strategies only use the two prompts.
        """
        strategy = generation_strategy(generation_technique or self.generation_technique)
        count = num_responses or self.num_responses
        _check_count(count)

        def ask(system: str, **options: Any) -> str:
            return self.call_llm(system, user_prompt, verbose, max_tokens, **options)[0]

        request = CandidateRequest(
            system_prompt=system_prompt,
            ask=ask,
            count=count,
            temperatures=_temperatures(
                temperature_min_max, temperature_range, self.temperature_min_max
            ),
            experts=list(experts_list or self.experts_list),
            clients=self._profile_clients,
            weights=list(self.llm_weights),
        )
        return strategy.generate(request)

    def _profile_clients(self) -> list[Any]:
        if not self.llm_profiles:
            raise ValueError("generation_technique='multi_llm' needs llm_profiles=[...]")
        from opto.llm import LLM

        return [LLM(profile=profile) for profile in self.llm_profiles]

    # -- selection -------------------------------------------------------------------------

    def select_candidate(
        self,
        candidates: list[str],
        selection_technique: str | SelectionStrategy | None = None,
        problem_summary: str = "",
    ) -> str:
        """The reply to use among ``candidates``: by ``selector`` when given, else by the
        selection strategy ``selection_technique`` (a name or a strategy object; None: the
        constructor's). ``problem_summary`` is the user prompt the candidates answered, shown
        to the LLM when it judges them; one candidate is returned as it is.

        ``best_of_n`` asks the LLM for the best candidate's number, ``moa`` (or
        ``mixture_of_agents``) asks it to write one reply from all, ``majority`` takes the
        candidate most similar to the others, ``last`` the last one; a strategy object may be
        given instead of a name. No candidates: ``""``.
        """
        strategy = selection_strategy(selection_technique or self.selection_technique)
        if not candidates:
            return ""
        if self.selector is not None:
            return self.selector(candidates)
        if len(candidates) == 1:
            return candidates[0]
        system = self.prompt_format.system_prompt(self)
        request = SelectionRequest(
            system_prompt=system,
            problem_summary=problem_summary,
            ask_short=self._ask_short,
            ask=lambda system_prompt, user: self.call_llm(system_prompt, user)[0],
        )
        return strategy.select(candidates, request)

    def _ask_short(self, messages: list[dict]) -> str:
        response = self.llm(messages=messages, max_tokens=16)
        self._call_usages.append(getattr(response, "usage", None))
        return response.choices[0].message.content or ""

    # -- the step --------------------------------------------------------------------------

    def _respond(
        self,
        summary: FunctionFeedback,
        system_prompt: str,
        user_prompt: str,
        verbose: bool | str,
        mask: Sequence[str] | None,
    ) -> str:
        self.candidates = self.generate_candidates(
            summary, system_prompt, user_prompt, verbose=verbose, mask=mask
        )
        self.selected_candidate = self.select_candidate(
            self.candidates, problem_summary=user_prompt
        )
        return self.selected_candidate

    def _step(  # type: ignore[override]
        self,
        verbose: bool | str = False,
        mask: Sequence[str] | None = None,
        num_responses: int | None = None,
        temperature_min_max: Sequence[float] | None = None,
        selector: Callable[[list[str]], str] | None = None,
        generation_technique: str | None = None,
        selection_technique: str | None = None,
        experts_list: list[str] | None = None,
        temperature_range: Sequence[float] | None = None,
    ) -> Any:
        """OptoPrime's step; the options given here replace the constructor's for this step."""
        if temperature_range is not None:
            temperature_min_max = _temperatures(None, temperature_range)
        given = {
            "num_responses": num_responses,
            "temperature_min_max": temperature_min_max,
            "selector": selector,
            "generation_technique": generation_technique,
            "selection_technique": selection_technique,
            "experts_list": experts_list,
        }
        overrides = {name: value for name, value in given.items() if value is not None}
        saved = {name: getattr(self, name) for name in overrides}
        for name, value in overrides.items():
            setattr(self, name, value)
        try:
            _check_options(self.generation_technique, self.selection_technique, self.num_responses)
            return super()._step(verbose=verbose, mask=mask)
        finally:
            for name, value in saved.items():
                setattr(self, name, value)


def _check_options(generation: Any, selection: Any, count: int) -> None:
    generation_strategy(generation)
    selection_strategy(selection)
    _check_count(count)


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError("num_responses must be at least 1")


def _temperatures(
    min_max: Sequence[float] | None,
    trace_range: Sequence[float] | None,
    default: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """``(low, high)`` from ``temperature_min_max`` or Trace 0.1's ``temperature_range``."""
    chosen = min_max if min_max is not None else trace_range
    if chosen is None:
        return default
    low, high = (float(value) for value in chosen)
    return (min(low, high), max(low, high))
