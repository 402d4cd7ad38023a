"""opto: generative optimization with execution traces.

A drop-in replacement for Microsoft's Trace (``trace-opt``): the same import paths and names,
faster, in bounded memory. Importing opto loads no LLM provider SDK.

``opto.trace`` is imported with the package. The other subpackages (``opto.optimizers``,
``opto.trainer``, ``opto.utils`` ...) are attributes too, as in Trace, but each is imported
the first time it is used, so ``import opto`` stays fast.
"""

import importlib
from typing import Any

from opto import trace

__all__ = ["__version__", "trace"]

_SUBPACKAGES = frozenset(
    {
        "discovery",
        "features",
        "llm",
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
    if name in _SUBPACKAGES:
        try:
            return importlib.import_module(f"opto.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"opto.{name}":
                raise
    raise AttributeError(f"module 'opto' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBPACKAGES, "__version__"})
