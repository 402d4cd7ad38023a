"""OptoPrimeMulti: several candidate replies per step, then one is selected.

``generate_candidates`` asks for candidates with one of five techniques (concurrently where
they are independent); ``select_candidate`` picks (or writes) the reply that is then parsed
and checked exactly as OptoPrime's. Both can be overridden, and every technique can be changed
for one step: ``step(num_responses=5, selection_technique="majority")``.
"""

from __future__ import annotations

import contextvars
import difflib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opto.optimizers.function_feedback import FunctionFeedback
from opto.optimizers.optoprime import OptoPrime
from opto.trace.nodes import ParameterNode
from opto.trace.propagators import GraphPropagator
from opto.utils.user_warnings import warn_user

__all__ = ["GraphPropagator", "OptoPrime", "OptoPrimeMulti"]

GENERATION_TECHNIQUES = (
    "temperature_variation",
    "self_refinement",
    "iterative_alternatives",
    "multi_experts",
    "multi_llm",
)
SELECTION_TECHNIQUES = ("best_of_n", "moa", "mixture_of_agents", "majority", "last")
DEFAULT_EXPERTS = (
    "careful software engineer who checks edge cases",
    "domain expert who reads the feedback literally",
    "reviewer who prefers the smallest change that fixes the problem",
)


class OptoPrimeMulti(OptoPrime):
    """OptoPrime with ``num_responses`` candidate replies per step and a selection rule.

    Takes OptoPrime's arguments (``parameters``, ``llm``, ...; see ``help(OptoPrime)``) and:
    ``generation_technique``, how candidates are asked for: ``temperature_variation``
    (temperatures spread over ``temperature_min_max``, default (0, 1)), ``self_refinement``
    (each candidate improves the previous one), ``iterative_alternatives`` (each one differs
    from the earlier ones), ``multi_experts`` (each from a persona of ``experts_list``) or
    ``multi_llm`` (each from a client of ``llm_profiles``, chosen in proportion to
    ``llm_weights``). ``selection_technique`` picks the reply to use (see
    :meth:`select_candidate`), unless ``selector``, a function from the candidates to one,
    is given. ``temperature_range`` (Trace 0.1's name) is accepted for
    ``temperature_min_max``.
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
        """``num_responses`` replies to one request (as a list of texts).

        ``system_prompt`` and ``user_prompt`` make the request; ``temperature`` is sent with
        it; ``llm`` is the client to ask (None: this optimizer's); ``max_tokens`` bounds each
        reply; ``verbose`` prints the prompt and replies as in OptoPrime.
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
        generation_technique: str | None = None,
        temperature_min_max: Sequence[float] | None = None,
        experts_list: list[str] | None = None,
        temperature_range: Sequence[float] | None = None,
    ) -> list[str]:
        """Candidate replies to the step's prompt; a failed request is left out (warned).

        ``system_prompt`` and ``user_prompt`` are the step's prompt (built from ``summary``
        with ``mask``); ``verbose`` and ``max_tokens`` are passed to each call. The other
        arguments override the constructor's for this step: ``num_responses``,
        ``generation_technique``, ``temperature_min_max`` (or Trace's ``temperature_range``)
        and ``experts_list``.
        """
        technique = generation_technique or self.generation_technique
        count = num_responses or self.num_responses
        _check_options(technique, self.selection_technique, count)
        low, high = _temperatures(temperature_min_max, temperature_range, self.temperature_min_max)
        experts = list(experts_list or self.experts_list)

        def ask(system: str, **options: Any) -> str:
            return self.call_llm(system, user_prompt, verbose, max_tokens, **options)[0]

        if technique == "temperature_variation":
            temperatures = [high - (high - low) * i / max(count - 1, 1) for i in range(count)]
            jobs = [lambda t=t: ask(system_prompt, temperature=t) for t in temperatures]
            return _concurrently(jobs)
        if technique == "multi_experts":
            chosen = [experts[i % len(experts)] for i in range(count)]
            jobs = [lambda e=e: ask(f"{system_prompt}\nYou are a {e}.") for e in chosen]
            return _concurrently(jobs)
        if technique == "multi_llm":
            clients = self._profile_clients()
            order = _weighted_round_robin(len(clients), self.llm_weights, count)
            jobs = [lambda c=clients[i]: ask(system_prompt, llm=c) for i in order]
            return _concurrently(jobs)
        candidates: list[str] = []
        for _ in range(count):
            note = _follow_up_note(technique, candidates)
            candidates.append(ask(f"{system_prompt}\n{note}" if note else system_prompt))
        return candidates

    def _profile_clients(self) -> list[Any]:
        if not self.llm_profiles:
            raise ValueError("generation_technique='multi_llm' needs llm_profiles=[...]")
        from opto.llm import LLM

        return [LLM(profile=profile) for profile in self.llm_profiles]

    # -- selection -------------------------------------------------------------------------

    def select_candidate(
        self,
        candidates: list[str],
        selection_technique: str | None = None,
        problem_summary: str = "",
    ) -> str:
        """The reply to use: by ``selector`` when given, else by the selection technique.

        ``best_of_n`` asks the LLM for the best candidate's number, ``moa`` (or
        ``mixture_of_agents``) asks it to write one reply from all, ``majority`` takes the
        candidate most similar to the others, ``last`` the last one. No candidates: ``""``.
        ``selection_technique`` overrides the constructor's for this call;
        ``problem_summary`` is the problem text shown to the LLM with the candidates.
        """
        technique = selection_technique or self.selection_technique
        if not candidates:
            return ""
        if self.selector is not None:
            return self.selector(candidates)
        if len(candidates) == 1 or technique == "last":
            return candidates[-1]
        if technique == "majority":
            return _medoid(candidates)
        listing = "\n\n".join(f"Candidate {i + 1}:\n{c}" for i, c in enumerate(candidates))
        asked = f"{problem_summary}\n\nThese candidate responses were proposed:\n\n{listing}\n\n"
        system = self.replace_symbols(
            self.representation_prompt + self.output_format_prompt, self.prompt_symbols
        )
        if technique == "best_of_n":
            question = f"Reply with the number (1 to {len(candidates)}) of the best candidate only."
            response = self.llm(
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": asked + question},
                ],
                max_tokens=16,
            )
            self._call_usages.append(getattr(response, "usage", None))
            index = _first_number(response.choices[0].message.content or "", len(candidates))
            return candidates[index - 1 if index else -1]
        request = (
            asked + "Write one response, in the required format, that combines their best ideas."
        )
        return self.call_llm(system, request)[0]

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


def _check_options(generation: str, selection: str, count: int) -> None:
    if generation not in GENERATION_TECHNIQUES:
        raise ValueError(f"generation_technique must be one of {GENERATION_TECHNIQUES}")
    if selection not in SELECTION_TECHNIQUES:
        raise ValueError(f"selection_technique must be one of {SELECTION_TECHNIQUES}")
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


def _follow_up_note(technique: str, earlier: list[str]) -> str:
    if not earlier:
        return ""
    if technique == "self_refinement":
        return "Here is a previous answer; improve it if you can:\n" + earlier[-1]
    return "Give an answer that is clearly different from these earlier ones:\n" + (
        "\n---\n".join(earlier)
    )


def _concurrently(jobs: list[Callable[[], str]]) -> list[str]:
    """Run the requests in threads; failed ones are dropped with a warning (all failed:
    the first error is raised)."""
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        # each job in a copy of this context: the caller's cache, budget and usage scopes
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
    texts, errors = [], []
    for future in futures:
        error = future.exception()
        if error is None:
            texts.append(future.result())
        else:
            errors.append(error)
    if errors and not texts:
        raise errors[0]
    if errors:
        warn_user(
            f"OptoPrimeMulti: {len(errors)} of {len(jobs)} candidate requests failed "
            f"({type(errors[0]).__name__}: {errors[0]})"
        )
    return texts


def _weighted_round_robin(count: int, weights: list[float], total: int) -> list[int]:
    weights = weights or [1.0] * count
    credits = [0.0] * count
    order = []
    for _ in range(total):
        credits = [c + w for c, w in zip(credits, weights, strict=False)]
        best = max(range(count), key=lambda i: credits[i])
        credits[best] -= sum(weights)
        order.append(best)
    return order


def _medoid(candidates: list[str]) -> str:
    """The candidate most similar to all the others (the 'majority' answer)."""

    def total_similarity(index: int) -> float:
        return sum(
            difflib.SequenceMatcher(None, candidates[index], other).ratio()
            for j, other in enumerate(candidates)
            if j != index
        )

    return candidates[max(range(len(candidates)), key=total_similarity)]


def _first_number(text: str, limit: int) -> int | None:
    for token in "".join(ch if ch.isdigit() else " " for ch in text).split():
        value = int(token)
        if 1 <= value <= limit:
            return value
    return None
