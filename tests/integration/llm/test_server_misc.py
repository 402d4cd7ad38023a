"""Embeddings through litellm, and missing keys, against the loopback server."""

from __future__ import annotations

import pickle

import pytest
from werkzeug import Response

from opto.llm import LLM, AuthenticationError, get_usage
from opto.llm.embedding import embed_text
from opto.utils.llm import embed


def test_embeddings_through_litellm(http_server, monkeypatch):
    http_server.clear()
    body = '{"object": "list", "model": "e", "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}], "usage": {"prompt_tokens": 3, "total_tokens": 3}}'
    http_server.expect_request("/v1/embeddings", method="POST").respond_with_response(
        Response(body, content_type="application/json")
    )
    url = http_server.url_for("/v1")
    vector = embed_text("openai/e", "hello", api_base=url, api_key="k")
    assert vector == [0.5, -1.0]
    assert get_usage().by_model["openai/e"].prompt_tokens == 3
    http_server.clear()
    http_server.expect_request("/v1/embeddings").respond_with_data("down", status=500)
    monkeypatch.setenv("OPENAI_API_BASE", url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert (
        embed("openai/e", "hello", max_retries=1, base_delay=0.0) is None
    )  # Trace: None on failure
    # two attempts of ours; litellm's embedding path adds its own retries (it reads
    # max_retries=0 as "use the default"), so the server may see more requests
    assert len(http_server.log) >= 2


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
