"""Base types for values that travel through traced flows."""

from __future__ import annotations


class TraceObject:
    """Base of user objects shown to optimizers: prompts show ``str(value)``, so a subclass
    must define ``__str__`` (this base raises NotImplementedError instead of showing an
    address that changes on every run)."""

    def __str__(self) -> str:
        raise NotImplementedError("Subclasses must implement __str__")
