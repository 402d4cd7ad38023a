"""``Scores``: what ``evaluate`` returns, a numpy array with each example's feedback and error.

Trace's ``evaluate`` returns a numpy array (shape ``(N,)``, or ``(N, num_samples)`` when every
input is run several times), and Trace programs use it as one: ``np.mean(scores)``,
``scores.mean(axis=1)``, ``scores.shape``. ``Scores`` is that array, plus ``feedback`` and
``errors`` (one entry per run, in input order; arrays derived from it, such as slices,
do not carry them). An example that failed without a
``min_score`` has the score ``None``, which makes the array's dtype ``object``; for such arrays
``mean`` leaves the missing scores out instead of failing, and a dict score (several metrics)
counts as the mean of its values.

numpy is imported by this module only; ``evaluate`` loads it on first use.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from opto.trainer.objectives import to_score_dict


class Scores(np.ndarray):
    """Scores in input order, as a numpy array, with ``feedback`` and ``errors`` lists.

    ``values`` are the scores (a list, or a list of lists with several samples per input);
    ``feedback`` and ``errors`` are the guide's text and the failure message of each run
    (None where a run did not fail).
    """

    feedback: list | None
    errors: list | None

    def __new__(cls, values: list, feedback: list | None = None, errors: list | None = None):
        array = np.asarray(values)
        if array.dtype.kind in "USV":  # text scores stay Python objects, not numpy strings
            array = np.asarray(values, dtype=object)
        scores = array.view(cls)
        scores.feedback = feedback
        scores.errors = errors
        return scores

    def __array_finalize__(self, obj: Any) -> None:
        # Slices and results of arithmetic no longer line up with the examples.
        self.feedback = None
        self.errors = None

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, **kwargs: Any) -> Any:
        """numpy's mean; for an array holding None or dicts, the mean of what is a number.

        ``axis``, ``dtype`` and ``out`` mean what they mean to ``numpy.mean``.

        Returns None (for ``axis=None``) when there is no score at all.
        """
        if self.dtype != object:
            return np.asarray(self).mean(axis=axis, dtype=dtype, out=out, **kwargs)
        numbers = np.vectorize(_as_number, otypes=[float])(np.asarray(self))
        if axis is None and np.isnan(numbers).all():
            return None
        with warnings.catch_warnings():  # a row without any score is nan, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(numbers, axis=axis, dtype=dtype, out=out, **kwargs)


def _as_number(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, dict):
        scores = to_score_dict(value)
        return sum(scores.values()) / len(scores)
    return float(value)
