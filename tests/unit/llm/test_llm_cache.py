import sqlite3
import subprocess
import sys
import textwrap

import pydantic
import pytest

import opto.llm as llm_pkg
from opto.llm import ScriptedLLM, configure_cache, get_cache, get_usage
from opto.llm.cache import LLMCache, canonical_json, default_cache_dir, request_key, should_cache
from opto.llm.reply_store import STORE_FILE


def user(text):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]




def test_key_ignores_key_order_and_credentials():
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    b = {
        "temperature": 0,
        "messages": [{"content": "x", "role": "user"}],
        "model": "m",
        "api_key": "sk-secret",
        "api_base": "http://a",
        "base_url": "http://b",
        "timeout": 5,
        "stream": True,
    }
    assert request_key(a) == request_key(b)
    assert "sk-secret" not in canonical_json(b) and "http://" not in canonical_json(b)


def test_key_changes_with_anything_that_changes_the_reply():
    base = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    keys = {request_key(base)}
    for change in (
        {"model": "m2"},
        {"temperature": 0.5},
        {"max_tokens": 10},
        {"n": 2},
        {"messages": [{"role": "user", "content": "y"}]},
        {"response_format": {"type": "json_object"}},
    ):
        keys.add(request_key({**base, **change}))
    assert len(keys) == 7


def test_key_of_pydantic_response_format_and_unserializable_values():
    class Answer(pydantic.BaseModel):
        value: int

    request = {"model": "m", "messages": [], "response_format": Answer}
    assert request_key(request) == request_key(dict(request))
    assert request_key({"model": "m", "tool": object()}) is None


def test_memory_lru_and_disk(tmp_path):
    cache = LLMCache(tmp_path / "c", memory_items=2)
    for i in range(3):
        cache.set(f"k{i}", {"i": i})
    assert len(cache._memory) == 2 and len(cache) == 3
    assert cache.get("k0") == {"i": 0}  # evicted from memory, still on disk
    cache.close()
    reopened = LLMCache(tmp_path / "c")
    assert reopened.get("k2") == {"i": 2} and reopened.get("missing") is None
    reopened.clear()
    assert reopened.get("k2") is None
    reopened.close()


def test_memory_only_cache():
    cache = configure_cache(disk=False)
    cache.set("k", {"a": 1})
    assert cache.get("k") == {"a": 1} and cache.directory is None


def test_values_on_disk_are_json_text(tmp_path):
    cache = LLMCache(tmp_path / "c")
    cache.set("k", {"a": [1, 2]})
    cache.close()
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as raw:
        assert raw.execute("SELECT key, value FROM replies").fetchall() == [("k", '{"a": [1, 2]}')]


def test_processes_share_the_disk_cache(tmp_path):
    writer = textwrap.dedent(
        """
        import sys
        from opto.llm.cache import LLMCache
        cache = LLMCache(sys.argv[1])
        for i in range(40):
            cache.set(f"{sys.argv[2]}-{i}", {"who": sys.argv[2], "i": i})
        """
    )
    env = {"PATH": ""}
    procs = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path / "shared"), name], env=env)
        for name in ("a", "b")
    ]
    assert [p.wait(60) for p in procs] == [0, 0]
    cache = LLMCache(tmp_path / "shared")
    assert all(cache.get(f"{n}-{i}") == {"who": n, "i": i} for n in "ab" for i in range(40))
    cache.close()


def test_switch_precedence(monkeypatch):
    zero, warm = {"temperature": 0}, {"temperature": 0.7}
    assert should_cache(None, None, zero) and not should_cache(None, None, warm)
    assert not should_cache(None, None, {})
    assert should_cache(True, False, warm) and not should_cache(False, True, zero)
    assert should_cache(None, True, warm) and not should_cache(None, False, zero)
    configure_cache(enabled=True)
    assert should_cache(None, None, warm) and not should_cache(None, False, warm)
    configure_cache(enabled=False)
    assert not should_cache(None, None, zero)
    configure_cache(enabled=None)
    monkeypatch.setenv("OPTO_LLM_CACHE", "on")
    assert should_cache(None, None, warm)


def test_default_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OPTO_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("OPTO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "opto" / "llm"


def test_temperature_zero_hits_cost_nothing_and_count_as_hits():
    llm = ScriptedLLM(["first", "second"], cache=None)
    a = llm(messages=user("q"), temperature=0)
    b = llm(messages=user("q"), temperature=0)
    assert a.content == b.content == "first"
    assert b.cache_hit and b.usage.total_tokens == 0 and b.usage.cost == 0
    assert llm.remaining == 1 and len(llm.requests) == 1
    total = get_usage().total
    assert (total.calls, total.cache_hits) == (1, 1)
    assert llm.usage.by_model["scripted"].cache_hits == 1


def test_warm_calls_are_not_cached_unless_asked():
    llm = ScriptedLLM(["a", "b", "c", "d"], cache=None)
    assert [llm(messages=user("q"), temperature=0.7).content for _ in range(2)] == ["a", "b"]
    assert llm(messages=user("q"), temperature=0.7, cache=True).content == "c"
    assert llm(messages=user("q"), temperature=0.7, cache=True).content == "c"
    assert llm(messages=user("q"), temperature=0, cache=False).content == "d"


def test_global_switch_caches_every_call():
    configure_cache(enabled=True)
    llm = ScriptedLLM(["a", "b"], cache=None)
    assert llm(messages=user("q")).content == llm(messages=user("q")).content == "a"


def test_doubles_ignore_the_global_switch_by_default():
    configure_cache(enabled=True)
    llm = ScriptedLLM(["a", "b"])
    assert [llm(messages=user("q")).content for _ in range(2)] == ["a", "b"]


def test_truncated_cached_reply_still_reports_truncation():
    llm = ScriptedLLM(
        [{"content": "cut", "finish_reason": "length"}], cache=True, on_truncation="ignore"
    )
    llm(messages=user("q"))
    again = llm(messages=user("q"))
    assert again.cache_hit and again.truncated


def test_cache_is_not_created_until_used(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_pkg.cache, "_state", {"cache": None, "enabled": None})
    monkeypatch.setenv("OPTO_CACHE_DIR", str(tmp_path / "lazy"))
    llm = ScriptedLLM(["a"])
    llm(messages=user("q"))
    assert not (tmp_path / "lazy").exists()
    cache = get_cache()
    cache.set("k", {"v": 1})
    assert (tmp_path / "lazy").exists()
    cache.close()


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_env_switch_off(monkeypatch, value):
    monkeypatch.setenv("OPTO_LLM_CACHE", value)
    assert not should_cache(None, None, {"temperature": 0})
