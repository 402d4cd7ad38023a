"""trace-opt's side is recorded by an OpenAI-compatible proxy over a ReplayLLM on 127.0.0.1,
and replayed by the same server without an upstream: checked here with the openai SDK."""

import json

import openai
import pytest
from qbench.proxy import ReplayServer

from opto.llm import ReplayLLM, ScriptedLLM


def _client(server: ReplayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=30)


def _ask(client: openai.OpenAI, text: str, **options):
    return client.chat.completions.create(
        model="any", messages=[{"role": "user", "content": text}], **options
    )


def test_a_recorded_exchange_replays_offline_with_the_same_reply(tmp_path):
    path = tmp_path / "replies.json"
    upstream = ScriptedLLM(
        [
            {
                "choices": [{"message": {"content": "first"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 3},
            },
            "second",
        ]
    )
    with ReplayServer(ReplayLLM(path, llm=upstream)) as server:
        client = _client(server)
        one = _ask(client, "hello", temperature=0, max_tokens=5)
        two = _ask(client, "hello", temperature=0, max_tokens=5)
    assert (one.choices[0].message.content, two.choices[0].message.content) == ("first", "second")
    assert one.usage.prompt_tokens == 11
    entries = json.loads(path.read_text())["entries"]
    assert len(entries) == 1 and len(entries[0]["responses"]) == 2
    assert "model" not in entries[0]["request"]
    assert upstream.requests[0]["max_tokens"] == 5

    with ReplayServer(ReplayLLM(path)) as server:
        client = _client(server)
        again = [_ask(client, "hello", temperature=0, max_tokens=5) for _ in range(2)]
        assert [r.choices[0].message.content for r in again] == ["first", "second"]
        assert again[0].usage.completion_tokens == 3
        with pytest.raises(openai.APIStatusError) as missing:
            _ask(client, "never recorded", temperature=0, max_tokens=5)
    assert missing.value.status_code == 502
    assert "no recorded reply" in missing.value.message


def test_malformed_requests_get_a_client_error(tmp_path):
    import urllib.error
    import urllib.request

    with ReplayServer(ReplayLLM(tmp_path / "r.json", llm=ScriptedLLM([]))) as server:
        url = server.base_url + "/chat/completions"
        for body in (b"not json", b'{"messages": "x"}', b'{"messages": [], "stream": true}'):
            request = urllib.request.Request(url, data=body, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 400
        request = urllib.request.Request(server.base_url + "/embeddings", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(request, timeout=10)
        assert unknown.value.code == 404


def test_a_request_with_the_same_lines_in_another_order_replays_in_turn(tmp_path):
    """trace-opt orders some prompt lines by memory address; the replay must still match."""
    path = tmp_path / "replies.json"
    ordered = "#Inputs\n(str) question0=a\n(str) question1=b"
    with ReplayServer(ReplayLLM(path, llm=ScriptedLLM(["one", "two"]))) as server:
        _ask(_client(server), ordered, temperature=0)
        _ask(_client(server), ordered, temperature=0)
    swapped = "#Inputs\n(str) question1=b\n(str) question0=a"
    with ReplayServer(ReplayLLM(path), recording=path) as server:
        client = _client(server)
        replies = [_ask(client, swapped, temperature=0).choices[0].message.content for _ in "ab"]
        assert replies == ["one", "two"]
        with pytest.raises(openai.APIStatusError):  # asked once more than recorded
            _ask(client, swapped, temperature=0)
        with pytest.raises(openai.APIStatusError):  # other lines: no match
            _ask(client, swapped + "\n(str) question2=c", temperature=0)
