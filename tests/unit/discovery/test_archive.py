"""The JSON archive: round trip, atomic writes, damaged files, dedup lookups, ranking, usage."""

import json
import os

import pytest

from opto.discovery import Archive, ArchiveError, Entry
from opto.discovery.archive import ARCHIVE_FORMAT


def values(name, status="valid", fitness=None, origin="llm", generation=1, **extra):
    data = {
        "generation": generation,
        "origin": origin,
        "name": name,
        "thought": f"why {name}",
        "code": f"def {name}(a, b, c, d, beta):\n    return a\n",
        "code_hash": f"hash-{name}",
        "status": status,
    }
    if fitness is None and status == "valid":
        fitness = 0.0  # the loop never writes a valid entry without one
    if fitness is not None:
        data["fitness"] = {"mean": fitness, "sd": 0.01, "n": 2, "per_seed": [fitness] * 2}
    data.update(extra)
    return data


@pytest.fixture
def archive(tmp_path):
    return Archive(tmp_path / "run" / "archive.json", {"objective": {"preset": "base"}}, "sys")


def test_entries_get_consecutive_ids_and_the_file_is_written_each_time(archive):
    first = archive.add(**values("a", fitness=0.3, origin="seed", generation=0))
    second = archive.add(**values("b", status="invalid", error="SyntaxError"))
    assert (first.id, second.id) == (1, 2)
    on_disk = json.loads(archive.path.read_text())
    assert on_disk["format"] == ARCHIVE_FORMAT
    assert [item["name"] for item in on_disk["entries"]] == ["a", "b"]
    assert first.created  # an ISO timestamp


def test_round_trip(archive):
    archive.add(**values("a", fitness=0.3, usage={"prompt_tokens": 10, "cost": 0.001}))
    archive.add(**values("b", status="failed", stage="train", error="Training failed: x"))
    again = Archive.load(archive.path)
    assert [e.to_dict() for e in again.entries] == [e.to_dict() for e in archive.entries]
    assert again.settings == archive.settings
    assert again.system_prompt == "sys"


def test_non_finite_numbers_are_stored_as_null(archive):
    archive.add(**values("a", metrics={"0.5": {"kl": float("inf"), "reward": float("nan")}}))
    stored = json.loads(archive.path.read_text())["entries"][0]["metrics"]["0.5"]
    assert stored == {"kl": None, "reward": None}


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(archive, monkeypatch):
    archive.add(**values("a", fitness=0.3))
    before = archive.path.read_text()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        archive.add(**values("b", fitness=0.4))
    monkeypatch.undo()
    assert archive.path.read_text() == before
    assert sorted(p.name for p in archive.path.parent.iterdir()) == ["archive.json"]


def test_unknown_fields_in_a_newer_file_are_ignored(archive):
    archive.add(**values("a"))
    data = json.loads(archive.path.read_text())
    data["entries"][0]["future_field"] = 1
    archive.path.write_text(json.dumps(data))
    assert Archive.load(archive.path).entries[0].name == "a"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no discovery archive"),
        ("{not json", "cannot read the discovery archive"),
        ('{"format": "something else"}', "is not a discovery archive"),
        (json.dumps({"format": ARCHIVE_FORMAT, "version": 99}), "version 99"),
        (json.dumps({"format": ARCHIVE_FORMAT, "version": 1}), "is damaged"),
        (
            json.dumps(
                {
                    "format": ARCHIVE_FORMAT,
                    "version": 1,
                    "settings": {},
                    "system_prompt": "",
                    "entries": [{"id": 1}],
                }
            ),
            "is damaged",
        ),
        *[
            (
                json.dumps(
                    {
                        "format": ARCHIVE_FORMAT,
                        "version": 1,
                        "settings": {},
                        "system_prompt": "",
                        "entries": [],
                        **damage,
                    }
                ),
                "is damaged",
            )
            for damage in (
                {"settings": 5},
                {"system_prompt": None},
                {"entries": {"1": {}}},
                {"entries": ["an entry"]},
            )
        ],
    ],
)
def test_unusable_files_raise_archive_error(tmp_path, content, message):
    path = tmp_path / "archive.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ArchiveError, match=message):
        Archive.load(path)


def test_duplicates_point_at_the_evaluated_original(archive):
    original = archive.add(**values("a", fitness=0.3))
    archive.add(**values("a2", status="duplicate", code_hash="hash-a", duplicate_of=1))
    assert archive.original_of("hash-a") is original
    assert archive.original_of("hash-z") is None
    assert archive.original_of(None) is None


def test_ranking_counts_generations_and_best(archive):
    archive.add(**values("seed", fitness=0.2, origin="seed", generation=0))
    archive.add(**values("low", fitness=0.1, generation=1))
    archive.add(**values("bad", status="invalid", generation=2))
    archive.add(**values("high", fitness=0.5, generation=3))
    archive.add(**values("tie", fitness=0.5, generation=4))
    assert [e.name for e in archive.ranked()] == ["high", "tie", "seed", "low"]
    assert archive.best().name == "high"
    assert archive.generations == 4
    assert [e.name for e in archive.seeds] == ["seed"]
    assert archive.counts() == {"valid": 4, "invalid": 1}
    assert archive.get(3).name == "bad"


def test_usage_sums_tokens_and_cost_and_says_when_cost_is_unknown(archive):
    archive.add(**values("a", usage={"prompt_tokens": 100, "completion_tokens": 20, "cost": 0.5}))
    archive.add(**values("b", usage={"prompt_tokens": 50, "completion_tokens": 5, "cost": 0.25}))
    archive.add(**values("s", origin="seed", generation=0))
    assert archive.usage() == {
        "calls": 2,
        "prompt_tokens": 150,
        "completion_tokens": 25,
        "cost": 0.75,
        "estimated": False,
    }
    archive.add(**values("c", usage={"prompt_tokens": 1, "completion_tokens": 1, "cost": None}))
    assert archive.usage()["cost"] is None
    archive.add(**values("d", usage={"prompt_tokens": 9, "cost": 0.0, "estimated": True}))
    assert archive.usage()["estimated"] is True
    assert archive.usage()["prompt_tokens"] == 160


def test_the_table_has_one_row_per_entry_with_its_outcome(archive):
    archive.add(**values("dpo", fitness=0.3192, origin="seed", generation=0))
    archive.add(**values("dup", status="duplicate", duplicate_of=1))
    archive.add(**values("broken", status="invalid", error="SyntaxError at line 2:\n  oops"))
    lines = archive.table().splitlines()
    assert lines[0].split() == ["id", "gen", "name", "status", "fitness", "note"]
    assert lines[1].split()[:6] == ["1", "seed", "dpo", "valid", "0.319", "±"]
    assert "same code as #1" in lines[2]
    assert lines[3].endswith("SyntaxError at line 2: oops")


def test_entry_from_dict_round_trips():
    entry = Entry(
        id=1,
        generation=0,
        origin="seed",
        name="a",
        thought="",
        code="",
        code_hash=None,
        status="valid",
    )
    assert Entry.from_dict(entry.to_dict()) == entry


def test_a_second_writer_is_refused_and_the_first_writers_entries_stay(archive):
    archive.add(**values("a"))
    mine, theirs = Archive.load(archive.path), Archive.load(archive.path)
    theirs.add(**values("theirs"))
    with pytest.raises(ArchiveError, match="written by another process"):
        mine.add(**values("mine"))
    assert [entry.name for entry in Archive.load(archive.path).entries] == ["a", "theirs"]
    resumed = Archive.load(archive.path)  # reading the file again is how to continue
    resumed.add(**values("mine"))
    assert [entry.name for entry in Archive.load(archive.path).entries] == ["a", "theirs", "mine"]


def test_saves_from_other_processes_are_serialised(archive):
    import multiprocessing

    archive.add(**values("a"))
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        outcomes = pool.map(_add_from_a_fresh_read, [(str(archive.path), i) for i in range(8)])
    names = [entry.name for entry in Archive.load(archive.path).entries]
    assert names[0] == "a" and len(names) == 1 + outcomes.count("saved")
    assert outcomes.count("saved") >= 1
    assert set(outcomes) <= {"saved", "refused"}


def _add_from_a_fresh_read(job):
    path, index = job
    try:
        Archive.load(path).add(**values(f"p{index}"))
    except ArchiveError:
        return "refused"
    return "saved"
