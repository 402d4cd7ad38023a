"""opto: generative optimization with execution traces.

A drop-in replacement for Microsoft's Trace (``trace-opt``): the same import paths and names,
faster, in bounded memory. Importing opto loads no LLM provider SDK.

``opto.trace`` is imported with the package. The other subpackages (``opto.optimizers``,
``opto.trainer``, ``opto.utils`` ...) are attributes too, as in Trace, but each is imported
the first time it is used, so ``import opto`` stays fast.

``opto.set_log_level("INFO")`` (or ``OPTO_LOG_LEVEL=INFO``) makes opto's ``logging`` output
visible; ``opto.inspect_history(n)`` prints the last n LLM calls (docs/logging.md).

Every exception opto defines derives from ``opto.OptoError`` and every warning from
``opto.OptoWarning`` (docs/errors.md).
"""

import importlib
from typing import Any

from opto import trace
from opto.utils.errors import OptoError, OptoWarning
from opto.utils.logging_setup import configure_from_environment, set_log_level

__all__ = ["OptoError", "OptoWarning", "__version__", "inspect_history", "set_log_level", "trace"]

configure_from_environment()

_SUBPACKAGES = frozenset(
    {
        "discovery",
        "features",
        "llm",
        "optimize_anything",
        "optimizers",
        "runtime",
        "trainer",
        "utils",
        "version",
    }
)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # Read from the package metadata on first use: importing importlib.metadata costs
        # more than the rest of `import opto`.
        from opto.version import __version__

        return __version__
    if name == "inspect_history":
        from opto.llm.history import inspect_history

        return inspect_history
    if name in _SUBPACKAGES:
        try:
            return importlib.import_module(f"opto.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"opto.{name}":
                raise
    raise AttributeError(f"module 'opto' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBPACKAGES, "__version__", "inspect_history"})
