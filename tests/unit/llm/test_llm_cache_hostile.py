"""A cache folder is hostile input: nothing in it is unpickled or executed, a damaged entry is
dropped (the model is asked), a file that is not an opto cache is refused, and the files are
private to their owner."""

import json
import os
import pickle
import sqlite3
import stat
import warnings

import pytest

from opto.llm import ScriptedLLM, configure_cache, get_cache, get_usage
from opto.llm.cache import LLMCache, request_key
from opto.llm.errors import CacheError, CacheWarning
from opto.llm.reply_store import MAX_ENTRY_CHARS, STORE_FILE

QUESTION = [{"role": "user", "content": "what is 2 + 2?"}]


class RunsCodeWhenUnpickled:
    """A pickle whose load creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def key_of_question():
    """The cache key of `ScriptedLLM(...)(messages=QUESTION)`."""
    return request_key({"model": "scripted", "messages": QUESTION})


def plant_diskcache_pickle(folder, key, payload):
    """A `cache.db` as diskcache lays it out, with a row marked as pickled (mode 4) under the
    key opto would look up. Written with sqlite3 only: the attacker needs no library."""
    folder.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(folder / "cache.db") as db:
        db.execute(
            "CREATE TABLE Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
            "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, "
            "tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)"
        )
        db.execute(
            "INSERT INTO Cache (key, raw, store_time, access_time, mode, value) "
            "VALUES (?, 1, 0, 0, 4, ?)",
            (key, pickle.dumps(payload)),
        )


def test_a_pickled_row_in_a_crafted_cache_db_is_never_loaded(tmp_path):
    folder, marker = tmp_path / "run" / "llm-cache", tmp_path / "code-ran"
    plant_diskcache_pickle(folder, key_of_question(), RunsCodeWhenUnpickled(marker))
    configure_cache(directory=folder)
    llm = ScriptedLLM(["4"], cache=True)
    assert llm(messages=QUESTION).content == "4"  # asked the model: the planted row is no reply
    assert not marker.exists()
    assert llm(messages=QUESTION).cache_hit  # and the real reply is cached next to it
    assert not marker.exists()


def test_a_pickle_planted_in_the_reply_store_is_dropped_unread(tmp_path):
    folder, marker = tmp_path / "c", tmp_path / "code-ran"
    LLMCache(folder).set("warm-up", {"a": 1})  # creates a sound store
    with sqlite3.connect(folder / STORE_FILE) as db:
        db.execute(
            "INSERT INTO replies VALUES (?, ?, 1, 0)",
            (key_of_question(), pickle.dumps(RunsCodeWhenUnpickled(marker))),
        )
    configure_cache(directory=folder)
    llm = ScriptedLLM(["4"], cache=True)
    with pytest.warns(CacheWarning, match="blob, not a reply"):
        assert llm(messages=QUESTION).content == "4"
    assert not marker.exists()
    assert llm(messages=QUESTION).cache_hit


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER spy AFTER INSERT ON replies BEGIN DELETE FROM replies; END",
        "CREATE VIEW everything AS SELECT * FROM replies",
        "CREATE TABLE Settings (key TEXT, value)",
        "CREATE INDEX by_value ON replies (value)",
    ],
)
def test_a_store_holding_anything_but_the_replies_table_is_refused(tmp_path, sql):
    LLMCache(tmp_path / "c").set("k", {"a": 1})
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        db.execute(sql)
    cache = LLMCache(tmp_path / "c")
    with pytest.raises(CacheError, match="not an opto reply cache"):
        cache.get("k")


def test_a_store_with_other_columns_is_refused(tmp_path):
    (tmp_path / "c").mkdir()
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        db.execute("CREATE TABLE replies (key TEXT PRIMARY KEY, value BLOB, extra)")
    with pytest.raises(CacheError, match="table 'replies' defined differently"):
        LLMCache(tmp_path / "c").get("k")


def test_a_file_that_is_not_a_database_is_refused_with_a_typed_error(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / STORE_FILE).write_bytes(b"\x80\x04 certainly not SQLite" * 100)
    with pytest.raises(CacheError, match="delete it"):
        LLMCache(tmp_path / "c").get("k")


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_a_symlink_in_place_of_the_store_or_its_journal_is_refused(tmp_path, suffix):
    (tmp_path / "c").mkdir()
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (tmp_path / "c" / (STORE_FILE + suffix)).symlink_to(victim)
    with pytest.raises(CacheError, match="cannot open"):
        LLMCache(tmp_path / "c").set("k", {"a": 1})
    assert victim.read_text() == "keep me"


SOUND_REPLY = {"choices": [{"message": {"role": "assistant", "content": "4"}}]}


@pytest.mark.parametrize(
    "damage",
    [
        {"choices": "not a list"},
        {"choices": [{"message": {"content": ["not text"]}}]},
        {"choices": [{"message": "not an object"}]},
        {"no": "choices"},
    ],
)
def test_a_damaged_entry_is_dropped_and_the_model_asked(damage):
    get_cache().set(key_of_question(), damage)
    llm = ScriptedLLM(["4", "never"], cache=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = llm(messages=QUESTION)
    assert [w.category for w in caught] == [CacheWarning]
    assert first.content == "4" and not first.cache_hit
    second = llm(messages=QUESTION)  # the entry was replaced, not left to fail again
    assert second.cache_hit and second.content == "4"
    assert get_usage().total.calls == 1


@pytest.mark.parametrize(
    "noise",
    [
        {"created": "yesterday"},
        {"created": 1e999},
        {"created": None, "id": ["x"]},
        {"usage": {"prompt_tokens": "many", "completion_tokens": [1], "total_tokens": 1e999}},
    ],
)
def test_unreadable_bookkeeping_fields_of_a_cached_reply_do_not_fail_the_call(noise):
    get_cache().set(key_of_question(), {**SOUND_REPLY, **noise})
    reply = ScriptedLLM([], cache=True)(messages=QUESTION)
    assert reply.cache_hit and reply.content == "4"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "[" * 100_000])
def test_entries_that_are_not_json_objects_are_dropped(tmp_path, text):
    cache = LLMCache(tmp_path / "c", memory_items=0)
    cache.set("k", {"a": 1})
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        db.execute("UPDATE replies SET value = ? WHERE key = 'k'", (text,))
    with pytest.warns(CacheWarning):
        assert cache.get("k") is None
    assert len(cache) == 0


def test_an_oversized_entry_is_dropped_without_being_read(tmp_path):
    cache = LLMCache(tmp_path / "c", memory_items=0)
    cache.set("k", {"a": 1})
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        db.execute("UPDATE replies SET value = ? WHERE key = 'k'", ("x" * (MAX_ENTRY_CHARS + 1),))
    with pytest.warns(CacheWarning, match="text over"):
        assert cache.get("k") is None


def test_cache_files_are_private_to_their_owner(tmp_path):
    folder = tmp_path / "new" / "llm-cache"
    previous = os.umask(0o022)
    try:
        cache = LLMCache(folder)
        cache.set("k", {"a": 1})
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}
        cache.close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert len(modes) >= 2 and all(mode == 0o600 for mode in modes.values()), modes  # + the log


def test_the_oldest_replies_go_when_the_store_passes_its_size(tmp_path):
    cache = LLMCache(tmp_path / "c", memory_items=0, max_bytes=20_000)
    for i in range(200):
        cache.set(f"k{i}", {"text": "x" * 200})
    assert 0 < len(cache) < 200
    assert cache.get("k199") == {"text": "x" * 200} and cache.get("k0") is None
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        ((stored,),) = db.execute("SELECT SUM(size) FROM replies").fetchall()
    assert stored <= 20_000


def test_replies_survive_reopening_as_json_text(tmp_path):
    cache = LLMCache(tmp_path / "c")
    cache.set("k", {"a": [1, "é"]})
    cache.close()
    with sqlite3.connect(tmp_path / "c" / STORE_FILE) as db:
        ((value, kind),) = db.execute("SELECT value, typeof(value) FROM replies").fetchall()
    assert kind == "text" and json.loads(value) == {"a": [1, "é"]}
    assert LLMCache(tmp_path / "c").get("k") == {"a": [1, "é"]}
