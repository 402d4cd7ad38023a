"""Cache shared by two processes, record/replay against a real server, no network at import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opto.llm import LLM, ReplayLLM, ReplayMissError, configure_cache, get_usage

SECOND_PROCESS = textwrap.dedent(
    """
    import json, sys
    import opto.llm as L
    L.configure_cache(directory=sys.argv[2])
    llm = L.LLM("local", backend="openai", base_url=sys.argv[1], api_key="other-key")
    messages = [{"role": "user", "content": "What is 2+2?"}]
    response = llm(messages=messages, temperature=0)
    print(json.dumps({
        "content": response.content,
        "cache_hit": response.cache_hit,
        "usage": L.get_usage().total.to_dict(),
        "openai_loaded": "openai" in sys.modules,
    }))
    """
)


def run_second_process(url: str, cache_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, url, str(cache_dir)],
        env={"PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cache_hit_across_two_processes(chat_server, tmp_path):
    cache_dir = tmp_path / "shared-cache"
    configure_cache(directory=cache_dir)
    chat_server.push(chat_server.reply("4"))
    llm = LLM("local", backend="openai", base_url=chat_server.url, api_key="first-key")
    assert llm(messages=[{"role": "user", "content": "What is 2+2?"}], temperature=0).content == "4"
    assert chat_server.count == 1

    other = run_second_process(chat_server.url, cache_dir)
    assert other["content"] == "4" and other["cache_hit"]
    assert other["usage"]["cache_hits"] == 1 and other["usage"]["calls"] == 0
    assert other["usage"]["total_tokens"] == 0
    assert not other["openai_loaded"]  # a hit never reaches the SDK
    assert chat_server.count == 1
    assert "first-key" not in "".join(
        p.read_text(errors="ignore") for p in cache_dir.rglob("*") if p.is_file()
    )


def test_record_against_the_server_then_replay_offline(chat_server, tmp_path):
    path = tmp_path / "recording.json"
    real = LLM("local", backend="openai", base_url=chat_server.url, api_key="secret-key")
    recorder = ReplayLLM(path, llm=real)
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    recorded = [recorder(messages=p, max_tokens=20).content for p in prompts]
    assert chat_server.count == 3
    assert "secret-key" not in path.read_text() and chat_server.url not in path.read_text()

    replay = ReplayLLM(path)
    assert [replay(messages=p, max_tokens=20).content for p in prompts] == recorded
    with pytest.raises(ReplayMissError, match="question 9"):
        replay(messages=[{"role": "user", "content": "question 9"}], max_tokens=20)
    assert chat_server.count == 3
    assert get_usage().by_model["replay"].calls == 3


NO_NETWORK_IMPORT = textwrap.dedent(
    """
    import ipaddress, os, socket
    attempts = []
    original = socket.socket.connect
    def connect(self, address):
        attempts.append(address)
        raise OSError("blocked")
    socket.socket.connect = connect
    def lookup(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror("blocked")
    socket.getaddrinfo = lookup
    from opto.llm.litellm_backend import import_litellm
    litellm = import_litellm()
    print(os.environ["LITELLM_LOCAL_MODEL_COST_MAP"], len(litellm.model_cost) > 100, attempts)
    """
)


def test_litellm_import_makes_no_network_access():
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_IMPORT],
        env={"PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True []"
