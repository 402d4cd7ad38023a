"""Bounded memories kept by optimizers."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any


class FIFOBuffer:
    """Keeps the last ``size`` items; ``size <= 0`` keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer: deque = deque(maxlen=max(size, 0))

    def add(self, item: Any) -> None:
        """Append ``item``, dropping the oldest one when full."""
        if self.size > 0:
            self.buffer.append(item)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.buffer)

    def __len__(self) -> int:
        return len(self.buffer)

    def __getitem__(self, index: int) -> Any:
        return list(self.buffer)[index]

    def clear(self) -> None:
        """Forget every item."""
        self.buffer.clear()
