"""Every unit test gets a fresh usage ledger, a cache in a temporary folder and an environment
without LLM variables, so no test depends on the machine it runs on."""

from __future__ import annotations

import os

import pytest

import opto.llm as llm_pkg

_LLM_VARIABLES = ("DEFAULT_LITELLM_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("OPTO_", "TRACE_")) or name in _LLM_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    llm_pkg.reset_usage()
    llm_pkg.configure_cache(enabled=None, directory=tmp_path / "cache")
    yield
    llm_pkg.get_cache().close()
    llm_pkg.reset_usage()
