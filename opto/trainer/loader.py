"""Datasets and minibatches.

A dataset is ``{"inputs": [...], "infos": [...]}`` (equal lengths; ``infos`` holds what the
guide needs, e.g. the reference answer). ``DataLoader`` hands out batches in an order drawn
from its own seeded ``random.Random``; its whole state (order, position, epoch, RNG) is plain
data, so a resumed run sees exactly the batches the interrupted run would have seen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from opto.utils.errors import OptoError


class DatasetError(OptoError, ValueError):
    """A dataset is not ``{"inputs": [...], "infos": [...]}`` with equal lengths."""


def check_dataset(dataset: Any, name: str = "dataset") -> dict[str, list]:
    """The dataset with ``inputs``/``infos`` as lists, or a DatasetError saying what is wrong;
    ``name`` is how the message calls it (``train_dataset``, ``validate_dataset``, ...)."""
    if not isinstance(dataset, dict):
        raise DatasetError(
            f'{name} must be a dict {{"inputs": [...], "infos": [...]}}, got {type(dataset).__name__}'
        )
    missing = [key for key in ("inputs", "infos") if key not in dataset]
    if missing:
        raise DatasetError(f"{name} has no {' or '.join(map(repr, missing))} key")
    inputs, infos = list(dataset["inputs"]), list(dataset["infos"])
    if len(inputs) != len(infos):
        raise DatasetError(
            f"{name} has {len(inputs)} inputs but {len(infos)} infos; they must pair up"
        )
    if not inputs:
        raise DatasetError(f"{name} is empty")
    return {**dataset, "inputs": inputs, "infos": infos}


class DataLoader:
    """Batches of ``(inputs, infos)``, shuffled each epoch with an explicit seed.

    Args:
        dataset: ``{"inputs": [...], "infos": [...]}``.
        batch_size: examples per batch.
        randomize: use a random order, a new one every epoch (else the dataset's order).
        replacement: draw every batch independently, with replacement.
        shuffle: with False, the dataset's order (as Trace programs see it, whatever
            ``randomize`` says).
        seed: the seed of the loader's own random generator.

    Iterating yields one epoch's worth of batches (``ceil(n / batch_size)``). Batches always
    have ``batch_size`` items: the last batch of an epoch is completed from the next epoch's
    order, as in Trace. ``replacement=True`` draws every batch independently instead.
    """

    def __init__(
        self,
        dataset: dict,
        batch_size: int = 1,
        randomize: bool = True,
        replacement: bool = False,
        shuffle: bool = True,
        seed: int | None = 0,
    ) -> None:
        self.dataset = check_dataset(dataset)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.shuffle = bool(randomize and shuffle)
        self.replacement = replacement
        self._rng = random.Random(seed)
        self.n_epochs = 0
        self._position = 0
        self._order = self._new_order()

    @property
    def dataset(self) -> dict[str, list]:
        """The data, ``{"inputs": [...], "infos": [...]}``. Assigning replaces it (checked);
        a dataset of another size starts a new order from its start."""
        return self._dataset

    @dataset.setter
    def dataset(self, dataset: dict) -> None:
        checked = check_dataset(dataset)
        resized = hasattr(self, "_dataset") and len(checked["inputs"]) != len(
            self._dataset["inputs"]
        )
        self._dataset = checked
        if resized:
            self._position = 0
            self._order = self._new_order()

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(len(self.dataset["inputs"]) / self.batch_size)

    def _new_order(self) -> list[int]:
        order = list(range(len(self.dataset["inputs"])))
        if self.shuffle:
            self._rng.shuffle(order)
        return order

    def next_indices(self) -> list[int]:
        """The dataset indices of the next batch (crossing into the next epoch if needed)."""
        size = len(self.dataset["inputs"])
        if self.replacement:
            self._position += self.batch_size
            while self._position >= size:
                self._position -= size
                self.n_epochs += 1
            return [self._rng.randrange(size) for _ in range(self.batch_size)]
        indices: list[int] = []
        while len(indices) < self.batch_size:
            if self._position >= size:
                self.n_epochs += 1
                self._position = 0
                self._order = self._new_order()
            take = min(self.batch_size - len(indices), size - self._position)
            indices.extend(self._order[self._position : self._position + take])
            self._position += take
        if self._position >= size:
            self.n_epochs += 1
            self._position = 0
            self._order = self._new_order()
        return indices

    def sample(self) -> tuple[list, list]:
        """The next batch as ``(inputs, infos)``."""
        return self.batch(self.next_indices())

    def batch(self, indices: list[int]) -> tuple[list, list]:
        """The examples at ``indices`` as ``(inputs, infos)``."""
        inputs, infos = self.dataset["inputs"], self.dataset["infos"]
        return [inputs[i] for i in indices], [infos[i] for i in indices]

    def __iter__(self) -> Iterator[tuple[list, list]]:
        for _ in range(len(self)):
            yield self.sample()

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Order, position, epoch and RNG state as JSON-friendly data."""
        version, internal, gauss = self._rng.getstate()
        return {
            "order": list(self._order),
            "position": self._position,
            "n_epochs": self.n_epochs,
            "rng": [version, list(internal), gauss],
            "size": len(self.dataset["inputs"]),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``, what :meth:`state_dict` returned (same order, position,
        epoch and random state); a state saved for data of another size is refused."""
        size = len(self.dataset["inputs"])
        if state.get("size") != size:
            raise DatasetError(
                f"the saved loader state is for a dataset of {state.get('size')} examples, "
                f"this one has {size}; resume with the same training data"
            )
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))
        self._order = list(state["order"])
        self._position = int(state["position"])
        self.n_epochs = int(state["n_epochs"])
