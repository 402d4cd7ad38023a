"""Archives of the earlier loop, read-only: loading, unknown fields, unusable files, ranking,
usage, the table."""

import json

import pytest

from opto.discovery import Archive, ArchiveError, Entry
from opto.discovery.archive import ARCHIVE_FORMAT

from .archive_files import write_archive


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
def path(tmp_path):
    return tmp_path / "run" / "archive.json"


def load(path, *entries):
    return Archive.load(write_archive(path, list(entries)))


def test_a_written_archive_loads_with_its_entries_settings_and_prompt(path):
    archive = load(
        path,
        values("a", fitness=0.3, usage={"prompt_tokens": 10, "cost": 0.001}),
        values("b", status="failed", stage="train", error="Training failed: x"),
    )
    assert [e.name for e in archive.entries] == ["a", "b"]
    assert archive.entries[1].error == "Training failed: x"
    assert archive.settings == {"objective": {"preset": "base"}}
    assert archive.system_prompt == "sys"
    on_disk = json.loads(path.read_text())
    assert [e.to_dict() for e in archive.entries] == on_disk["entries"]
    assert on_disk["format"] == ARCHIVE_FORMAT


def test_unknown_fields_in_a_newer_file_are_ignored(path):
    write_archive(path, [values("a")])
    data = json.loads(path.read_text())
    data["entries"][0]["future_field"] = 1
    path.write_text(json.dumps(data))
    assert Archive.load(path).entries[0].name == "a"


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


def test_ranking_counts_and_best(path):
    archive = load(
        path,
        values("seed", fitness=0.2, origin="seed", generation=0),
        values("low", fitness=0.1, generation=1),
        values("bad", status="invalid", generation=2),
        values("high", fitness=0.5, generation=3),
        values("tie", fitness=0.5, generation=4),
    )
    assert [e.name for e in archive.ranked()] == ["high", "tie", "seed", "low"]
    assert archive.best().name == "high"
    assert len(archive.proposals) == archive.generations == 4
    assert [e.name for e in archive.seeds] == ["seed"]
    assert archive.counts() == {"valid": 4, "invalid": 1}
    assert archive.get(3).name == "bad"


def test_usage_sums_tokens_and_cost_and_says_when_cost_is_unknown(path):
    entries = [
        values("a", usage={"prompt_tokens": 100, "completion_tokens": 20, "cost": 0.5}),
        values("b", usage={"prompt_tokens": 50, "completion_tokens": 5, "cost": 0.25}),
        values("s", origin="seed", generation=0),
    ]
    archive = load(path, *entries)
    assert archive.usage() == {
        "calls": 2,
        "prompt_tokens": 150,
        "completion_tokens": 25,
        "cost": 0.75,
        "estimated": False,
    }
    entries.append(values("c", usage={"prompt_tokens": 1, "completion_tokens": 1, "cost": None}))
    archive = load(path, *entries)
    assert archive.usage()["cost"] is None
    entries.append(values("d", usage={"prompt_tokens": 9, "cost": 0.0, "estimated": True}))
    archive = load(path, *entries)
    assert archive.usage()["estimated"] is True
    assert archive.usage()["prompt_tokens"] == 160


def test_the_table_has_one_row_per_entry_with_its_outcome(path):
    archive = load(
        path,
        values("dpo", fitness=0.3192, origin="seed", generation=0),
        values("dup", status="duplicate", duplicate_of=1),
        values("broken", status="invalid", error="SyntaxError at line 2:\n  oops"),
    )
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
