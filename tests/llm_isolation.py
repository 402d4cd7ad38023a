"""A clean LLM state for the tests of one folder, shared by the conftests that need it: an empty
usage ledger, a default cache in a private folder (closed afterwards), and no warning about
scripted replies that carry no suggestion (the tests check the step results instead)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import opto.llm as llm_pkg


@contextmanager
def clean_llm_state(cache_folder: Path) -> Iterator[None]:
    """Reset the usage ledger and point the default cache at ``cache_folder`` for the block."""
    llm_pkg.reset_usage()
    llm_pkg.configure_cache(enabled=None, directory=cache_folder)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="OptoPrime: no suggestion")
        yield
    llm_pkg.get_cache().close()
    llm_pkg.reset_usage()
