"""Fixtures: the toy chat server, and isolated LLM state (fresh ledger, private cache)."""

import os

import pytest
from llm_isolation import clean_llm_state
from toy_server import ToyServer


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
    with clean_llm_state(tmp_path / "global-llm-cache"):
        yield
