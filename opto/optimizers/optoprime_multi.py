"""OptoPrimeMulti: several candidate replies per step, then one is selected.

Candidates come from one of five generation techniques and are requested concurrently where
they are independent; a selection technique picks (or writes) the reply that is parsed and
checked exactly as OptoPrime's.
"""

from __future__ import annotations

import contextvars
import difflib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opto.optimizers.optoprime import OptoPrime, _add_usage
from opto.trace.nodes import ParameterNode

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
    """OptoPrime with ``num_responses`` candidate replies per step and a selection rule."""

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *args: Any,
        num_responses: int = 3,
        temperature_min_max: tuple[float, float] | list[float] | None = None,
        selector: Callable[[list[str]], str] | None = None,
        generation_technique: str = "temperature_variation",
        selection_technique: str = "best_of_n",
        experts_list: list[str] | None = None,
        llm_profiles: list[str] | None = None,
        llm_weights: list[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parameters, llm, *args, **kwargs)
        if generation_technique not in GENERATION_TECHNIQUES:
            raise ValueError(f"generation_technique must be one of {GENERATION_TECHNIQUES}")
        if selection_technique not in SELECTION_TECHNIQUES:
            raise ValueError(f"selection_technique must be one of {SELECTION_TECHNIQUES}")
        if num_responses < 1:
            raise ValueError("num_responses must be at least 1")
        self.num_responses = num_responses
        low, high = temperature_min_max or (0.0, 1.0)
        self.temperature_min_max = (float(low), float(high))
        self.selector = selector
        self.generation_technique = generation_technique
        self.selection_technique = selection_technique
        self.experts_list = list(experts_list or DEFAULT_EXPERTS)
        self.llm_profiles = list(llm_profiles or [])
        self.llm_weights = list(llm_weights or [])
        self.candidates: list[str] = []

    # -- generation ------------------------------------------------------------------------

    def _ask(self, messages: list[dict], verbose: bool | str) -> tuple[str, Any]:
        generate = getattr(self, f"_generate_{self.generation_technique}")
        candidates, usage = generate(messages)
        self.candidates = candidates
        chosen, more = self._select(messages, candidates)
        return chosen, _add_usage(usage, more)

    def _one(self, messages: list[dict], llm: Any = None, **options: Any) -> tuple[str, Any]:
        response = self._call(messages, llm, **options)
        return response.choices[0].message.content or "", getattr(response, "usage", None)

    def _concurrently(self, jobs: list[Callable[[], tuple[str, Any]]]) -> tuple[list[str], Any]:
        with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
            contexts = [contextvars.copy_context() for _ in jobs]  # the run's cache and budget
            results = list(pool.map(lambda context, job: context.run(job), contexts, jobs))
        usage = None
        for _, used in results:
            usage = _add_usage(usage, used)
        return [text for text, _ in results], usage

    def _generate_temperature_variation(self, messages: list[dict]) -> tuple[list[str], Any]:
        low, high = self.temperature_min_max
        count = self.num_responses
        temperatures = [high - (high - low) * i / max(count - 1, 1) for i in range(count)]
        jobs = [lambda t=t: self._one(messages, temperature=t) for t in temperatures]
        return self._concurrently(jobs)

    def _generate_multi_experts(self, messages: list[dict]) -> tuple[list[str], Any]:
        experts = [self.experts_list[i % len(self.experts_list)] for i in range(self.num_responses)]
        jobs = [
            lambda e=e: self._one(_with_system_note(messages, f"You are a {e}.")) for e in experts
        ]
        return self._concurrently(jobs)

    def _generate_multi_llm(self, messages: list[dict]) -> tuple[list[str], Any]:
        if not self.llm_profiles:
            raise ValueError("generation_technique='multi_llm' needs llm_profiles=[...]")
        from opto.llm import LLM

        clients = [LLM(profile=p) for p in self.llm_profiles]
        order = _weighted_round_robin(len(clients), self.llm_weights, self.num_responses)
        jobs = [lambda c=clients[i]: self._one(messages, llm=c) for i in order]
        return self._concurrently(jobs)

    def _generate_self_refinement(self, messages: list[dict]) -> tuple[list[str], Any]:
        candidates: list[str] = []
        usage = None
        for _ in range(self.num_responses):
            note = (
                ""
                if not candidates
                else "Here is a previous answer; improve it if you can:\n" + candidates[-1]
            )
            text, used = self._one(_with_system_note(messages, note) if note else messages)
            candidates.append(text)
            usage = _add_usage(usage, used)
        return candidates, usage

    def _generate_iterative_alternatives(self, messages: list[dict]) -> tuple[list[str], Any]:
        candidates: list[str] = []
        usage = None
        for _ in range(self.num_responses):
            note = ""
            if candidates:
                note = "Give an answer that is clearly different from these earlier ones:\n" + (
                    "\n---\n".join(candidates)
                )
            text, used = self._one(_with_system_note(messages, note) if note else messages)
            candidates.append(text)
            usage = _add_usage(usage, used)
        return candidates, usage

    # -- selection -------------------------------------------------------------------------

    def _select(self, messages: list[dict], candidates: list[str]) -> tuple[str, Any]:
        if self.selector is not None:
            return self.selector(candidates), None
        if len(candidates) == 1 or self.selection_technique == "last":
            return candidates[-1], None
        if self.selection_technique == "majority":
            return _medoid(candidates), None
        listing = "\n\n".join(f"Candidate {i + 1}:\n{c}" for i, c in enumerate(candidates))
        problem = messages[-1]["content"]
        if self.selection_technique == "best_of_n":
            ask = (
                f"{problem}\n\nThese candidate responses were proposed:\n\n{listing}\n\n"
                f"Reply with the number (1 to {len(candidates)}) of the best candidate only."
            )
            response = self.llm(
                messages=[messages[0], {"role": "user", "content": ask}], max_tokens=16
            )
            text, usage = (
                response.choices[0].message.content or "",
                getattr(response, "usage", None),
            )
            index = _first_number(text, len(candidates))
            return candidates[index - 1 if index else -1], usage
        ask = (
            f"{problem}\n\nThese candidate responses were proposed:\n\n{listing}\n\n"
            "Write one response, in the required format, that combines their best ideas."
        )
        return self._one([messages[0], {"role": "user", "content": ask}])


def _with_system_note(messages: list[dict], note: str) -> list[dict]:
    system = {"role": "system", "content": f"{messages[0]['content']}\n{note}"}
    return [system, *messages[1:]]


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
