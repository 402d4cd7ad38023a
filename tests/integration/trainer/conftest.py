"""Fixtures: the toy chat server, and isolated LLM state (fresh ledger, private cache)."""

import os
import warnings

import pytest
from toy_server import ToyServer

import opto.llm as llm_pkg


@pytest.fixture
def toy_server():
    server = ToyServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("OPTO_", "TRACE_")) or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name, raising=False)
    llm_pkg.reset_usage()
    llm_pkg.configure_cache(enabled=None, directory=tmp_path / "global-llm-cache")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="OptoPrime: no suggestion")
        yield
    llm_pkg.get_cache().close()
    llm_pkg.reset_usage()
