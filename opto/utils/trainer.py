"""trace-opt 0.1's ``opto.utils.trainer``: a holder of a metric and an optimizer.

trace-opt 0.1 shipped this class before it had a training loop; it only keeps the two objects
it is given. Programs written for it keep working; the training loops are in ``opto.trainer``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Trainer"]


class Trainer:
    """Keeps ``metric`` and ``optimizer`` as attributes, as trace-opt 0.1 did.

    Args:
        metric: the function (or guide) that scores outputs.
        optimizer: the optimizer to use.
    """

    def __init__(self, metric: Any, optimizer: Any) -> None:
        self.metric = metric
        self.optimizer = optimizer
