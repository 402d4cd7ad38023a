"""The Projection base class."""

from __future__ import annotations

from typing import Any


class Projection:
    """Maps a suggested value onto the set of allowed values (``project``)."""

    def project(self, x: Any) -> Any:
        raise NotImplementedError

    def __call__(self, x: Any) -> Any:
        return self.project(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
