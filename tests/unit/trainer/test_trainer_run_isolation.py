"""Two runs in one process keep their LLM cache, usage and budget apart, and a run's files are
private to their owner."""

import json
import os
import pickle
import sqlite3
import stat
import threading
import warnings

from trainer_toys import DATA, Adder, guided_reply, make_guide

from opto.llm import CacheWarning, DummyLLM
from opto.llm.reply_store import STORE_FILE
from opto.optimizers import OptoPrime
from opto.trace import bundle, model
from opto.trainer import resume, train
from opto.trainer.loggers import NullLogger

LIVENESS_SECONDS = 120  # only against a hang


class Run:
    """One training run with LLM clients of its own: an agent that asks its model to echo
    ``x + offset`` (cacheable) and an optimizer that follows the feedback."""

    def __init__(self, tag, optimizer_reply=guided_reply):
        self.agent_prompts = []

        def echo(*args, **kwargs):
            prompt = kwargs["messages"][0]["content"]
            self.agent_prompts.append(prompt)
            return prompt.split()[-1]

        self.agent_llm = DummyLLM(echo, cache=None)  # follows the run's cache switch
        self.optimizer_llm = DummyLLM(optimizer_reply)
        agent_llm = self.agent_llm

        @bundle()
        def echo_plus(x, offset):
            """x + offset, computed by asking the LLM to echo it."""
            reply = agent_llm(messages=[{"role": "user", "content": f"{tag}: say {x + offset}"}])
            return int(reply.content)

        @model
        class Echoing(Adder):
            def forward(self, x):
                return echo_plus(x, self.offset)

        self.agent = Echoing(0)

    def train(self, run_dir, num_steps=3, **options):
        optimizer = OptoPrime(self.agent.parameters(), llm=self.optimizer_llm)
        return train(
            model=self.agent,
            train_dataset=DATA,
            optimizer=optimizer,
            guide=make_guide(),
            batch_size=2,
            num_steps=num_steps,
            run_dir=run_dir,
            logger=NullLogger(),
            **options,
        )

    def own_calls(self):
        return self.agent_llm.usage.total.calls + self.optimizer_llm.usage.total.calls


def cached_entries(run_dir):
    with sqlite3.connect(run_dir / "llm-cache" / STORE_FILE) as db:
        return db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]


def side_by_side(tmp_path, **a_options):
    """Run A starts; its first optimizer call waits while all of run B happens in another
    thread; then A finishes. Returns both runs and their results."""
    a_waiting, b_done = threading.Event(), threading.Event()
    first = []

    def a_reply(*args, **kwargs):
        if not first:
            first.append(1)
            a_waiting.set()
            assert b_done.wait(LIVENESS_SECONDS)
        return guided_reply(*args, **kwargs)

    run_a, run_b = Run("A", a_reply), Run("B")
    results = {}

    def train_a():
        results["a"] = run_a.train(tmp_path / "a", **a_options)

    def train_b():
        assert a_waiting.wait(LIVENESS_SECONDS)
        try:
            results["b"] = run_b.train(tmp_path / "b")
        finally:
            b_done.set()

    threads = [threading.Thread(target=train_a), threading.Thread(target=train_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LIVENESS_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    return run_a, run_b, results


def test_two_runs_in_threads_count_and_cache_only_their_own_calls(tmp_path):
    run_a, run_b, results = side_by_side(tmp_path)
    for run, name in ((run_a, "a"), (run_b, "b")):
        usage = json.loads((tmp_path / name / "checkpoint.json").read_text())["usage"]
        assert usage["calls"] == run.own_calls() > 0
        assert usage["cache_hits"] == run.agent_llm.usage.total.cache_hits
        assert cached_entries(tmp_path / name) == len(set(run.agent_prompts)) > 0
        assert results[name].stopped == "completed"


def test_a_run_budget_is_spent_only_by_that_run(tmp_path):
    calibration = Run("A")
    calibration.train(tmp_path / "alone")
    _, run_b, results = side_by_side(tmp_path, max_calls=calibration.own_calls())
    assert results["a"].stopped == "completed"
    assert results["b"].stopped == "completed"  # B's calls are not charged to A's budget
    assert run_b.own_calls() > 0


def test_run_files_are_private_to_their_owner(tmp_path):
    previous = os.umask(0o022)
    try:
        Run("A").train(tmp_path / "run")
    finally:
        os.umask(previous)
    paths = [tmp_path / "run", *(tmp_path / "run").rglob("*")]
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert {"run/run.jsonl", "run/checkpoint.json", "run/llm-cache"} <= set(modes)
    expected = {name: 0o700 if (tmp_path / name).is_dir() else 0o600 for name in modes}
    assert modes == expected


class RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_tampered_cache_runs_no_code_when_the_run_is_continued(tmp_path):
    run_dir, marker = tmp_path / "run", tmp_path / "code-ran"
    Run("A").train(run_dir, num_steps=2)
    bomb = pickle.dumps(RunsCodeWhenUnpickled(marker))
    with sqlite3.connect(run_dir / "llm-cache" / STORE_FILE) as db:
        keys = [key for (key,) in db.execute("SELECT key FROM replies")]
        db.execute("UPDATE replies SET value = ?", (bomb,))
    with sqlite3.connect(run_dir / "llm-cache" / "cache.db") as db:  # diskcache's layout
        db.execute(
            "CREATE TABLE Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
            "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, "
            "tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)"
        )
        db.executemany(
            "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) "
            "VALUES (?, 1, 0, 0, 4, ?)",
            [(key, bomb) for key in keys],
        )
    again = Run("A")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = resume(
            run_dir,
            model=again.agent,
            guide=make_guide(),
            optimizer=OptoPrime(again.agent.parameters(), llm=again.optimizer_llm),
            logger=NullLogger(),
            num_steps=8,  # the second epoch asks the first one's questions again
        )
    assert result.stopped == "completed" and result.steps == 8
    assert not marker.exists()
    assert any(w.category is CacheWarning for w in caught)  # planted entries met were dropped
