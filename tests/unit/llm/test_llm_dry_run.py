"""Dry runs: inside ``dry_run()`` no client sends anything; each call is recorded and answered
with a placeholder, free, uncached and out of the usage ledger."""

from __future__ import annotations

import asyncio
import threading

import pytest

import opto.llm as llm_pkg
from opto.llm import DummyLLM, ReplayLLM, ScriptedLLM
from opto.llm.dry_run import PLACEHOLDER_REPLY, active_dry_run, dry_run
from opto.llm.errors import ScriptExhaustedError

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x" * 400}]


def test_calls_are_recorded_and_answered_without_reaching_the_client():
    client = ScriptedLLM([], prices=(1e-6, 2e-6))  # any real call would raise
    with dry_run() as recorder:
        reply = client(messages=MESSAGES, max_tokens=64, n=2)
        assert active_dry_run() is recorder
    assert active_dry_run() is None
    assert [c.message.content for c in reply.choices] == [PLACEHOLDER_REPLY] * 2
    (call,) = recorder.calls
    assert (call.model, call.max_tokens, call.choices) == ("scripted", 64, 2)
    assert call.prompt_tokens > 100  # 400 characters of prompt
    assert tuple(call.price) == (1e-6, 2e-6)
    assert llm_pkg.get_usage().total.calls == 0 and client.usage.total.calls == 0
    assert client.requests == []
    with pytest.raises(ScriptExhaustedError):
        client(messages=MESSAGES)


def test_calls_from_other_threads_and_async_calls_are_recorded():
    client = DummyLLM(lambda *a, **k: pytest.fail("the model was called"))
    with dry_run() as recorder:
        workers = [threading.Thread(target=client, kwargs={"messages": MESSAGES}) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        asyncio.run(client.acall(messages=MESSAGES))
    assert len(recorder.calls) == 5


def test_a_recording_replay_client_stores_nothing_during_a_dry_run(tmp_path):
    real = DummyLLM(lambda *a, **k: "real reply")
    recording = ReplayLLM(tmp_path / "replay.json", llm=real)
    with dry_run() as recorder:
        assert recording(messages=MESSAGES).content == PLACEHOLDER_REPLY
    assert len(recorder.calls) == 1
    assert not (tmp_path / "replay.json").exists()


def test_dry_runs_nest_and_the_innermost_records():
    client = DummyLLM(lambda *a, **k: "real")
    with dry_run() as outer:
        with dry_run(reply="inner") as inner:
            assert client(messages=MESSAGES).content == "inner"
        client(messages=MESSAGES)
    assert (len(outer.calls), len(inner.calls)) == (1, 1)
