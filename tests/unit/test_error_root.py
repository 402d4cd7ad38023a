"""Every exception opto defines derives from `opto.OptoError`, every warning from
`opto.OptoWarning`, and each keeps its standard bases.

The test imports every module under opto and walks all subclasses of ``BaseException`` that
those modules define, so a new error class anywhere is checked without being listed here.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import opto
from opto.llm import InvalidRequestError, LLMConnectionError, LLMTimeoutError, UnknownProfileError
from opto.runtime.errors import ForbiddenOperationError, TimeLimitExceeded
from opto.trace.errors import BackwardError
from opto.trainer.snapshots import SnapshotError
from opto.utils.errors import OptoError, OptoWarning

OPTO_DIR = Path(opto.__file__).parent
CHILD_SIDE = {"opto.runtime._wire_format"}
"""Modules that also run inside the sandbox child, which imports nothing from opto (only the
standard library): their errors cannot derive from OptoError and never reach a user from the
parent process (the child turns them into its answer)."""


def opto_modules():
    names = []
    for info in pkgutil.walk_packages(opto.__path__, "opto."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def defined_exception_classes():
    for name in opto_modules():
        importlib.import_module(name)
    found, pending = set(), [BaseException]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return sorted(
        (cls for cls in found if cls.__module__.split(".")[0] == "opto"),
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


def test_every_opto_exception_derives_from_opto_error():
    classes = defined_exception_classes()
    assert len(classes) > 60  # the walk saw the whole package
    wrong = []
    for cls in classes:
        if cls.__module__ in CHILD_SIDE:
            continue
        if issubclass(cls, Warning):
            if not issubclass(cls, OptoWarning) or issubclass(cls, OptoError):
                wrong.append(f"{cls.__module__}.{cls.__qualname__} (a warning)")
        elif issubclass(cls, Exception) and not issubclass(cls, OptoError):
            wrong.append(f"{cls.__module__}.{cls.__qualname__}")
    assert wrong == []


def test_interrupts_are_not_errors():
    """Classes that deliberately escape ``except Exception`` (they stop a run from inside user
    code) derive from BaseException only, so ``except OptoError`` must not catch them either."""
    interrupts = [cls for cls in defined_exception_classes() if not issubclass(cls, Exception)]
    assert interrupts, "the walk should see opto's interrupt classes"
    for cls in interrupts:
        assert not issubclass(cls, OptoError)


def test_child_side_modules_really_import_nothing_from_opto():
    for name in CHILD_SIDE:
        path = OPTO_DIR.joinpath(*name.split(".")[1:]).with_suffix(".py")
        tree = ast.parse(path.read_text())
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        assert not [m for m in imported if m and m.split(".")[0] == "opto"], name


@pytest.mark.parametrize(
    ("error", "standard"),
    [
        (InvalidRequestError, ValueError),
        (LLMTimeoutError, TimeoutError),
        (LLMConnectionError, ConnectionError),
        (UnknownProfileError, KeyError),
        (TimeLimitExceeded, TimeoutError),
        (ForbiddenOperationError, PermissionError),
        (BackwardError, AttributeError),
        (SnapshotError, KeyError),
    ],
)
def test_standard_bases_are_kept(error, standard):
    assert issubclass(error, OptoError) and issubclass(error, standard)


def test_the_roots_are_exported_by_opto_and_warnings_can_be_silenced_together():
    assert opto.OptoError is OptoError and opto.OptoWarning is OptoWarning
    assert issubclass(OptoWarning, UserWarning) and not issubclass(OptoWarning, OptoError)
    try:
        raise InvalidRequestError("bad messages")
    except opto.OptoError as caught:
        assert isinstance(caught, ValueError)
