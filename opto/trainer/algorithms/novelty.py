"""Novelty: refuse a child that is the same as a candidate the pool already has.

The loop itself refuses exact repeats (same snapshot). ``Novelty`` is an acceptance criterion
(``opto.trainer.algorithms.acceptance``) that goes further, before anything is spent on the
child: two candidates are the same when every parameter has the same canonical form (for code,
``canonical_code``: renamed local variables, formatting, comments, docstrings and reordered
independent statements do not count), and, with an ``embed`` function, when their texts'
embeddings are closer than ``threshold`` (cosine similarity).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from opto.trainer.algorithms.acceptance import AcceptanceCriterion, Trial
from opto.trainer.algorithms.candidates import Candidate
from opto.trainer.algorithms.canonical_code import canonical_code


def canonical_snapshot(snapshot: dict[str, Any], canonical: Callable[[str], str]) -> str:
    """One string for a snapshot: each string value in canonical form, the rest as JSON."""
    forms = {
        path: canonical(value)
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, default=repr)
        for path, value in sorted(snapshot.items())
    }
    return json.dumps(forms, sort_keys=True)


class Novelty(AcceptanceCriterion):
    """Accept a child only if no candidate of the pool is the same (see the module docstring).

    Args:
        canonical: the canonical form of a string value (default ``canonical_code``, which
            also normalises plain text: its non-blank lines, stripped).
        embed: optional ``text -> vector`` (for example ``lambda t: embedder(t).vector`` with
            an ``opto.llm.Embedder``); None compares canonical forms only.
        threshold: the cosine similarity from which two embedded candidates are the same.
    """

    needs_minibatch_scores = False

    def __init__(
        self,
        canonical: Callable[[str], str] = canonical_code,
        embed: Callable[[str], Sequence[float]] | None = None,
        threshold: float = 0.95,
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}")
        self.canonical = canonical
        self.embed = embed
        self.threshold = threshold
        self.forms: dict[str, str] = {}
        self.vectors: dict[str, list[float]] = {}
        self.refused = 0

    def accept(self, trial: Trial) -> bool:
        form = self._form(trial.child)
        if any(self._form(c) == form for c in trial.pool.candidates):
            self.refused += 1
            return False
        if self.embed is not None:
            vector = self._vector(trial.child)
            for candidate in trial.pool.candidates:
                if _cosine(vector, self._vector(candidate)) >= self.threshold:
                    self.refused += 1
                    return False
        return True

    def _form(self, candidate: Candidate) -> str:
        if candidate.key not in self.forms:
            self.forms[candidate.key] = canonical_snapshot(candidate.snapshot, self.canonical)
        return self.forms[candidate.key]

    def _vector(self, candidate: Candidate) -> list[float]:
        if candidate.key not in self.vectors:
            text = "\n\n".join(str(v) for _, v in sorted(candidate.snapshot.items()))
            self.vectors[candidate.key] = [float(x) for x in self.embed(text)]
        return self.vectors[candidate.key]

    def __repr__(self) -> str:
        embedded = ", embed" if self.embed is not None else ""
        return f"Novelty(threshold={self.threshold}{embedded})"


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise ValueError(f"embeddings of different sizes ({len(a)} and {len(b)})")
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 0.0 if norm == 0 else sum(x * y for x, y in zip(a, b, strict=True)) / norm
