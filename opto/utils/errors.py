"""The roots of what opto raises and warns: `OptoError` and `OptoWarning`.

Every exception class opto defines derives from `OptoError`, so ``except opto.OptoError``
catches whatever opto itself raised (an LLM failure, a trace error, a sandbox refusal, a bad
checkpoint ...) and nothing else. Each class keeps its other, standard bases as well
(``ValueError``, ``TimeoutError``, ``PermissionError`` ...), so code written against those
keeps working.

Warnings are not errors: opto's warning classes derive from `OptoWarning` (a ``UserWarning``),
not from `OptoError`, so ``warnings.simplefilter("ignore", opto.OptoWarning)`` silences all of
them while ``except OptoError`` never catches a warning turned into an error by ``-W error``.

This module is at the bottom of the layers (nothing in it imports from opto), so every package
can derive its errors from it.
"""

from __future__ import annotations


class OptoError(Exception):
    """Base class of every exception opto defines."""


class OptoWarning(UserWarning):
    """Base class of every warning opto defines."""
