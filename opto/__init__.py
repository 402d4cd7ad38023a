"""opto: generative optimization with execution traces.

A drop-in replacement for Microsoft's Trace (``trace-opt``): the same import paths and names,
faster, in bounded memory. Importing opto loads no LLM provider SDK.
"""

from typing import Any

from opto import trace

__all__ = ["__version__", "trace"]


def __getattr__(name: str) -> Any:
    # The version is read from the package metadata on first use: importing
    # importlib.metadata costs more than the rest of `import opto`.
    if name == "__version__":
        from opto.version import __version__

        return __version__
    raise AttributeError(f"module 'opto' has no attribute {name!r}")
