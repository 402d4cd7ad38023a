"""``POLCA``: priority search that keeps its memory diverse and can learn from its history
(Trace's ``opto.trainer.algorithms.polca``).

- Diversity: each candidate's values are embedded (a text embedding of
  ``{parameter name: value}``); a new proposal enters only if it is farther than ``epsilon``
  (Euclidean distance) from every candidate kept so far, the farthest first. A candidate whose
  embedding could not be had is kept without this test.
- History (``use_summarizer=True``): before proposing, a ``Summarizer`` writes advice from the
  memory; the advice goes to each optimizer through its ``set_context`` if it has one, else it
  is appended to the optimizer's ``objective`` (replacing the previous advice).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from opto.trainer.algorithms.candidate_memory import ModuleCandidate
from opto.trainer.algorithms.priority_search import PrioritySearch
from opto.trainer.summarizer import Summarizer
from opto.trainer.utils import async_run
from opto.utils.llm import embed
from opto.utils.user_warnings import warn_user

__all__ = ["POLCA", "calculate_distance_to_memory", "embed"]

DEFAULT_CONTEXT = "Recommendations for better parameter values, from what worked before: "
ADVICE_MARKER = "\n\nAdvice from earlier candidates:\n"


def calculate_distance_to_memory(memory: list[tuple[Any, Any]], new_candidate: Any) -> float:
    """The smallest Euclidean distance from ``new_candidate``'s embedding to those of the
    ``(priority, candidate)`` pairs in ``memory`` (``inf`` for an empty memory)."""
    mine = getattr(new_candidate, "embedding", None)
    if mine is None:
        raise ValueError("the new candidate has no embedding")
    distances = []
    for _, candidate in memory:
        other = getattr(candidate, "embedding", None)
        if other is None:
            raise ValueError("a candidate in memory has no embedding")
        distances.append(math.dist(mine, other))
    return min(distances, default=math.inf)


class POLCA(PrioritySearch):
    """Priority search with diverse candidates and optional advice (see the module docstring).

    Args:
        agent: the model to train.
        optimizer: an optimizer of the agent's parameters, or a list.
        num_threads: how many runs at once by default.
        logger: where values are logged.
        epsilon: the least embedding distance between kept candidates (0: no filtering).
        use_summarizer: write advice from the memory before proposing.
        context: the text the advice starts with.
        embedding_model: the model of the default embedding function.
        embedding_fn: ``text -> vector`` (default: ``opto.utils.llm.embed`` with
            ``embedding_model``; None means it failed).
        summarizer: the ``Summarizer`` (default: a new one).
    """

    def __init__(
        self,
        agent: Any,
        optimizer: Any,
        num_threads: int | None = None,
        logger: Any = None,
        *args: Any,
        epsilon: float = 0.1,
        use_summarizer: bool = False,
        context: str = DEFAULT_CONTEXT,
        embedding_model: str = "gemini/gemini-embedding-001",
        embedding_fn: Callable[[str], list[float] | None] | None = None,
        summarizer: Summarizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(agent, optimizer, num_threads, logger, *args, **kwargs)
        self.epsilon = epsilon
        self.use_summarizer = use_summarizer
        self.context = context
        self.embedding_model = embedding_model
        self.embedding_fn = embedding_fn or (lambda text: embed(self.embedding_model, text))
        self.summarizer = summarizer or Summarizer()

    def compress_candidate_memory(self, candidate: ModuleCandidate) -> ModuleCandidate:
        """Keep ``candidate`` with whole rollouts when the summarizer needs them; else
        compress it as PrioritySearch does."""
        return candidate if self.use_summarizer else super().compress_candidate_memory(candidate)

    def propose(self, samples: Any, verbose: Any = False, **kwargs: Any) -> list:
        """PrioritySearch's proposals from ``samples``, after giving each exploration
        candidate's optimizer the summarizer's advice (with ``use_summarizer``); ``verbose``
        also prints the advice."""
        if self.use_summarizer:
            self._advise(verbose)
        return super().propose(samples, verbose=verbose, **kwargs)

    def _advise(self, verbose: Any) -> None:
        history = list(self.memory) + [(None, c) for c in self._exploration_candidates or []]
        try:
            summary = self.summarizer.summarize(history)
        except Exception as error:  # no advice this round; the search goes on
            warn_user(f"the summarizer failed: {error}")
            return
        self.context = DEFAULT_CONTEXT + summary
        if verbose:
            print(f"Summary of the history: {summary}")
        for candidate in self._exploration_candidates or []:
            optimizer = candidate.optimizer
            if optimizer is None:
                continue
            if hasattr(optimizer, "set_context"):
                optimizer.set_context(self.context)
            elif isinstance(getattr(optimizer, "objective", None), str):
                base = optimizer.objective.split(ADVICE_MARKER)[0]
                optimizer.objective = base + ADVICE_MARKER + self.context

    def filter_candidates(self, new_candidates: list[ModuleCandidate]) -> list[ModuleCandidate]:
        """The ``new_candidates`` that keep the memory diverse: farthest first, each more
        than ``epsilon`` away (in embedding space) from the memory and from those accepted
        before it (all of them when ``epsilon`` is 0)."""
        if self.epsilon == 0:
            return new_candidates
        known = [c for _, c in self.memory] + list(self._exploration_candidates or [])
        self._embed([*known, *new_candidates])
        kept = [(None, c) for c in known if c.embedding is not None]
        accepted, pending, unembedded = [], [], []
        for candidate in new_candidates:
            (pending if candidate.embedding is not None else unembedded).append(candidate)
        while pending:
            distances = [calculate_distance_to_memory(kept, c) for c in pending]
            farthest = max(range(len(pending)), key=lambda i: distances[i])
            if distances[farthest] <= self.epsilon:
                break
            chosen = pending.pop(farthest)
            accepted.append(chosen)
            kept.append((None, chosen))
        return accepted + unembedded

    def _embed(self, candidates: list[ModuleCandidate]) -> None:
        missing = [c for c in candidates if not hasattr(c, "embedding")]
        texts = [str({p.py_name: v for p, v in c.update_dict.items()}) for c in missing]

        def vector(text: str) -> list[float] | None:
            try:
                return self.embedding_fn(text)
            except Exception as error:  # the candidate is kept unfiltered
                warn_user(f"embedding failed: {error}")
                return None

        vectors = async_run(
            [vector] * len(texts),
            [(t,) for t in texts],
            max_workers=self.num_threads,
            description="Embedding candidates",
        )
        for candidate, value in zip(missing, vectors, strict=True):
            candidate.embedding = value
