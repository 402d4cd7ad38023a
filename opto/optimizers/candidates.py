"""Candidate strategies of OptoPrimeMulti: how candidate replies are asked for, and which wins.

A generation strategy gets a ``CandidateRequest`` (the step's system prompt, a function that
asks the LLM once, how many candidates) and returns the candidate replies; a selection
strategy gets the candidates and a ``SelectionRequest`` and returns the reply the step parses.
Both are small objects with one method, so a new technique is a class, not a new branch in
the optimizer: ``OptoPrimeMulti(params, generation_technique=MyStrategy())``. The built-in
ones are registered under the names Trace uses (``GENERATION_STRATEGIES``,
``SELECTION_STRATEGIES``).
"""

from __future__ import annotations

import contextvars
import difflib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from opto.utils.user_warnings import warn_user

__all__ = [
    "GENERATION_STRATEGIES",
    "SELECTION_STRATEGIES",
    "BestOfN",
    "CandidateRequest",
    "FollowUps",
    "GenerationStrategy",
    "LastCandidate",
    "Majority",
    "MixtureOfAgents",
    "MultiExperts",
    "MultiLLM",
    "SelectionRequest",
    "SelectionStrategy",
    "TemperatureVariation",
]

DEFAULT_EXPERTS = (
    "careful software engineer who checks edge cases",
    "domain expert who reads the feedback literally",
    "reviewer who prefers the smallest change that fixes the problem",
)


@dataclass(frozen=True)
class CandidateRequest:
    """What a generation strategy may use for one step.

    ``system_prompt`` is the step's system prompt; ``ask(system_prompt, **options)`` sends
    the step's user prompt with a system prompt and returns one reply (options:
    ``temperature``, ``llm``); ``count`` is how many candidates to ask for; ``temperatures``
    is the ``(low, high)`` range to spread requests over; ``experts`` are the roles for
    ``multi_experts``; ``clients()`` builds the LLMs of ``llm_profiles`` (for ``multi_llm``)
    and ``weights`` are their shares of the requests (empty: equal).
    """

    system_prompt: str
    ask: Callable[..., str]
    count: int
    temperatures: tuple[float, float] = (0.0, 1.0)
    experts: Sequence[str] = DEFAULT_EXPERTS
    clients: Callable[[], list[Any]] = list
    weights: Sequence[float] = ()


@dataclass(frozen=True)
class SelectionRequest:
    """What a selection strategy may use: the step's ``system_prompt``, the user prompt the
    candidates answered (``problem_summary``), ``ask_short(messages)`` for a short reply (a
    number), and ``ask(system, user)`` for a full one (a reply in the step's format)."""

    system_prompt: str
    problem_summary: str
    ask_short: Callable[[list[dict]], str]
    ask: Callable[[str, str], str]


class GenerationStrategy(Protocol):
    """How a step asks for its candidate replies: any object with this ``generate``."""

    def generate(self, request: CandidateRequest) -> list[str]:
        """The candidate replies, asked through ``request`` (``request.count`` of them; a
        failed request may be left out)."""
        ...


class SelectionStrategy(Protocol):
    """How a step picks (or writes) the reply it parses: any object with this ``select``."""

    def select(self, candidates: list[str], request: SelectionRequest) -> str:
        """The reply to use, from at least two ``candidates``; ``request`` gives the prompts
        and the ways to ask the LLM."""
        ...


@dataclass(frozen=True)
class TemperatureVariation:
    """``count`` concurrent requests at temperatures spread from high to low."""

    def generate(self, request: CandidateRequest) -> list[str]:
        """``request.count`` replies, from the top of ``request.temperatures`` down to its
        bottom, so the set mixes bold and safe answers."""
        low, high = request.temperatures
        steps = max(request.count - 1, 1)
        temperatures = [high - (high - low) * i / steps for i in range(request.count)]
        return concurrently(
            [lambda t=t: request.ask(request.system_prompt, temperature=t) for t in temperatures]
        )


@dataclass(frozen=True)
class MultiExperts:
    """Concurrent requests, each with the system prompt ending "You are a <expert>."."""

    def generate(self, request: CandidateRequest) -> list[str]:
        """``request.count`` replies, the experts of ``request`` taken in turn (repeating
        when there are fewer experts than candidates)."""
        experts = list(request.experts) or list(DEFAULT_EXPERTS)
        chosen = [experts[i % len(experts)] for i in range(request.count)]
        return concurrently(
            [lambda e=e: request.ask(f"{request.system_prompt}\nYou are a {e}.") for e in chosen]
        )


@dataclass(frozen=True)
class MultiLLM:
    """Concurrent requests spread over the ``llm_profiles`` by weighted round robin."""

    def generate(self, request: CandidateRequest) -> list[str]:
        """``request.count`` replies, each from one of ``request.clients()``, chosen in
        proportion to ``request.weights``."""
        clients = request.clients()
        order = weighted_round_robin(len(clients), list(request.weights), request.count)
        return concurrently(
            [lambda c=clients[i]: request.ask(request.system_prompt, llm=c) for i in order]
        )


@dataclass(frozen=True)
class FollowUps:
    """Requests one after the other; each after the first sees earlier replies in a note.

    ``note(earlier_replies)`` writes the text added to the system prompt (Trace's
    ``self_refinement`` asks to improve the last reply, ``iterative_alternatives`` to differ
    from all of them).
    """

    note: Callable[[list[str]], str]

    def generate(self, request: CandidateRequest) -> list[str]:
        """``request.count`` replies, asked in order; a failed request raises."""
        candidates: list[str] = []
        for _ in range(request.count):
            note = self.note(candidates) if candidates else ""
            system = f"{request.system_prompt}\n{note}" if note else request.system_prompt
            candidates.append(request.ask(system))
        return candidates


def _improve_last(earlier: list[str]) -> str:
    return "Here is a previous answer; improve it if you can:\n" + earlier[-1]


def _differ_from_all(earlier: list[str]) -> str:
    return "Give an answer that is clearly different from these earlier ones:\n" + (
        "\n---\n".join(earlier)
    )


@dataclass(frozen=True)
class LastCandidate:
    """The last candidate, without asking the LLM (the cheapest rule)."""

    def select(self, candidates: list[str], request: SelectionRequest) -> str:
        """``candidates[-1]``; ``request`` is not used."""
        return candidates[-1]


@dataclass(frozen=True)
class Majority:
    """The candidate most similar to all the others (by difflib ratio)."""

    def select(self, candidates: list[str], request: SelectionRequest) -> str:
        """The candidate of ``candidates`` with the highest summed similarity to the others
        (the first on a tie); no LLM call, so ``request`` is not used."""

        def total_similarity(index: int) -> float:
            return sum(
                difflib.SequenceMatcher(None, candidates[index], other).ratio()
                for j, other in enumerate(candidates)
                if j != index
            )

        return candidates[max(range(len(candidates)), key=total_similarity)]


def _listing(candidates: list[str], request: SelectionRequest) -> str:
    shown = "\n\n".join(f"Candidate {i + 1}:\n{c}" for i, c in enumerate(candidates))
    return f"{request.problem_summary}\n\nThese candidate responses were proposed:\n\n{shown}\n\n"


@dataclass(frozen=True)
class BestOfN:
    """Asks the LLM for the number of the best candidate (the last one if it gives none)."""

    def select(self, candidates: list[str], request: SelectionRequest) -> str:
        """One of ``candidates``, as numbered by the LLM's short reply to ``request``'s
        problem and the listed candidates."""
        question = f"Reply with the number (1 to {len(candidates)}) of the best candidate only."
        text = request.ask_short(
            [
                {"role": "system", "content": request.system_prompt},
                {"role": "user", "content": _listing(candidates, request) + question},
            ]
        )
        index = first_number(text, len(candidates))
        return candidates[index - 1 if index else -1]


@dataclass(frozen=True)
class MixtureOfAgents:
    """Asks the LLM to write one reply combining the candidates' best ideas."""

    def select(self, candidates: list[str], request: SelectionRequest) -> str:
        """A new reply written by the LLM from all ``candidates`` and ``request``'s problem,
        in the step's format (it may be none of the candidates)."""
        ask = "Write one response, in the required format, that combines their best ideas."
        return request.ask(request.system_prompt, _listing(candidates, request) + ask)


GENERATION_STRATEGIES: dict[str, GenerationStrategy] = {
    "temperature_variation": TemperatureVariation(),
    "self_refinement": FollowUps(_improve_last),
    "iterative_alternatives": FollowUps(_differ_from_all),
    "multi_experts": MultiExperts(),
    "multi_llm": MultiLLM(),
}
SELECTION_STRATEGIES: dict[str, SelectionStrategy] = {
    "best_of_n": BestOfN(),
    "moa": MixtureOfAgents(),
    "mixture_of_agents": MixtureOfAgents(),
    "majority": Majority(),
    "last": LastCandidate(),
}


def generation_strategy(technique: str | GenerationStrategy) -> GenerationStrategy:
    """The strategy named ``technique`` (or ``technique`` itself if it has ``generate``)."""
    if hasattr(technique, "generate"):
        return technique  # type: ignore[return-value]
    if technique not in GENERATION_STRATEGIES:
        raise ValueError(f"generation_technique must be one of {tuple(GENERATION_STRATEGIES)}")
    return GENERATION_STRATEGIES[technique]


def selection_strategy(technique: str | SelectionStrategy) -> SelectionStrategy:
    """The strategy named ``technique`` (or ``technique`` itself if it has ``select``)."""
    if hasattr(technique, "select"):
        return technique  # type: ignore[return-value]
    if technique not in SELECTION_STRATEGIES:
        raise ValueError(f"selection_technique must be one of {tuple(SELECTION_STRATEGIES)}")
    return SELECTION_STRATEGIES[technique]


def concurrently(jobs: list[Callable[[], str]]) -> list[str]:
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


def weighted_round_robin(count: int, weights: list[float], total: int) -> list[int]:
    """``total`` indices below ``count``, each chosen in proportion to its weight."""
    weights = weights or [1.0] * count
    credits = [0.0] * count
    order = []
    for _ in range(total):
        credits = [c + w for c, w in zip(credits, weights, strict=False)]
        best = max(range(count), key=lambda i: credits[i])
        credits[best] -= sum(weights)
        order.append(best)
    return order


def first_number(text: str, limit: int) -> int | None:
    """The first whole number in ``text`` between 1 and ``limit``, else None."""
    for token in "".join(ch if ch.isdigit() else " " for ch in text).split():
        value = int(token)
        if 1 <= value <= limit:
            return value
    return None
