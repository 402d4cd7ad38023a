"""How a run of the loop scores candidates: on minibatches, the validation set, the test set.

Every evaluation applies a candidate's snapshot to its own copy of the model (or, with a
process pool or Dask, sends the model and guide pickled once plus the snapshot) and runs the
examples in one pool of work (``opto.trainer.evaluators.score_jobs``), with the run's threads,
executor, ``min_score`` and progress setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opto.trainer.algorithms.candidates import Candidate
from opto.trainer.evaluators import ExampleResult, RemotePayload, score_jobs
from opto.trainer.objectives import aggregate_score_dicts, to_score_dict


class CandidateScoring:
    """Scores candidates for one run.

    Args:
        agent: the model (never changed: candidates run on copies).
        options: the run's resolved options (``executor``, ``num_threads``, ``min_score``,
            ``progress``).
        on_examples: called with the number of examples of each batch of work, before it
            runs (the loop counts the run's evaluations with it).
    """

    def __init__(
        self,
        agent: Any,
        options: dict[str, Any],
        on_examples: Callable[[int], None] | None = None,
    ) -> None:
        self.agent = agent
        self.options = options
        self.on_examples = on_examples
        self.payloads: dict[int, RemotePayload] = {}

    def run(self, guide: Any, jobs: list, description: str) -> list[list[ExampleResult]]:
        """The results of ``(snapshot, inputs, infos)`` ``jobs``, per job and example, scored
        by ``guide``; ``description`` labels the progress bar (``Validating``, ...)."""
        executor = self.options["executor"]
        payload = None
        if executor is not None:
            if id(guide) not in self.payloads:
                self.payloads[id(guide)] = RemotePayload(self.agent, guide)
            payload = self.payloads[id(guide)]
        if self.on_examples is not None:
            self.on_examples(sum(len(inputs) for _, inputs, _ in jobs))
        return score_jobs(
            self.agent,
            guide,
            jobs,
            mode="feedback",
            min_score=self.options["min_score"],
            num_threads=self.options["num_threads"],
            executor=executor,
            progress=self.options["progress"],
            description=description,
            payload=payload,
        )

    def mean_scores(self, guide: Any, jobs: list, description: str) -> list[dict[str, float]]:
        """The mean score dict of each ``(snapshot, inputs, infos)`` job of ``jobs``, scored
        by ``guide``; ``description`` labels the progress bar."""
        return [
            aggregate_score_dicts(to_score_dict(r.score) for r in rows)
            for rows in self.run(guide, jobs, description)
        ]


class RunValidationSet:
    """The run's validation data, as evaluation policies use it (``ValidationSet``).

    Args:
        scoring: the run's ``CandidateScoring``.
        data: the validation dataset (``{"inputs": [...], "infos": [...]}``).
        guide: the guide that scores it.
    """

    def __init__(self, scoring: CandidateScoring, data: dict[str, list], guide: Any) -> None:
        self.scoring = scoring
        self.data = data
        self.guide = guide
        self.size = len(data["inputs"])

    def score(self, candidates: Sequence[Candidate], examples: Sequence[Sequence[int]]) -> None:
        """Score each of ``candidates`` on its list of example indices in ``examples`` and
        store the score dicts in the candidate's ``validation``, by example index."""
        inputs, infos = self.data["inputs"], self.data["infos"]
        jobs = [
            (c.snapshot, [inputs[i] for i in indices], [infos[i] for i in indices])
            for c, indices in zip(candidates, examples, strict=True)
        ]
        results = self.scoring.run(self.guide, jobs, "Validating")
        for candidate, indices, rows in zip(candidates, examples, results, strict=True):
            for index, row in zip(indices, rows, strict=True):
                candidate.validation[index] = to_score_dict(row.score)
