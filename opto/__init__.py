"""opto: generative optimization with execution traces.

A drop-in replacement for Microsoft's Trace (``trace-opt``): the same import paths and names,
faster, in bounded memory. Importing opto loads no LLM provider SDK.
"""

from opto import trace

__version__ = "0.1.0"

__all__ = ["__version__", "trace"]
