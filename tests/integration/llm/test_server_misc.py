"""Missing keys and pickled clients, against the loopback server (embeddings:
test_server_engine.py)."""

from __future__ import annotations

import pickle

import pytest

from opto.llm import LLM, AuthenticationError


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_missing_api_key_is_a_typed_error_without_network(backend):
    llm = LLM("gpt-4o-mini", backend=backend)
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        llm(messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_clients_pickle_without_their_connections(chat_server, backend):
    model = "local" if backend == "openai" else "openai/local"
    llm = LLM(model, backend=backend, base_url=chat_server.url, api_key="k", temperature=0.5)
    llm(messages=[{"role": "user", "content": "before"}])
    restored = pickle.loads(pickle.dumps(llm))
    assert restored(messages=[{"role": "user", "content": "after"}]).content == "echo: after"
    assert restored.default_params == {"temperature": 0.5}
