"""The Projection base class."""

from __future__ import annotations

from typing import Any


class Projection:
    """Maps a suggested value onto the set of allowed values (``project``).

    Subclasses implement ``project``; constructor arguments are the subclass's own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Accepts and ignores arguments, so subclasses may call it with theirs."""

    def project(self, x: Any) -> Any:
        """The allowed value closest to ``x`` (subclasses define what that means)."""
        raise NotImplementedError(f"{type(self).__name__} must implement project()")

    def __call__(self, x: Any) -> Any:
        """``project(x)``: a projection is used as a function of the proposed value ``x``."""
        return self.project(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
