"""A damaged discovery archive is an ArchiveError, never a raw error later in the run.

Each variant changes one thing in a realistic archive file. Loading it and using it as a run
does (ranking, table, usage, the best entry's code for a new run) must raise ArchiveError;
the intact file passes all of these. The archive is the format the earlier ``DiscoveryLoop``
wrote (``data/archive_written_by_discovery_loop.json`` is one it wrote), which still loads.
"""

import json
from pathlib import Path

import pytest

from opto.discovery import Archive, ArchiveError, best_code_of_archive
from opto.discovery.losses import reference_loss_source

from .archive_files import write_archive

WRITTEN_BY_THE_LOOP = Path(__file__).parent / "data" / "archive_written_by_discovery_loop.json"


def fitness(mean):
    return {"mean": mean, "sd": 0.01, "n": 2, "per_seed": [mean, mean], "beta_per_seed": [0.1, None]}


@pytest.fixture
def archive_file(tmp_path):
    """An archive as a run writes it: its settings, two seeds, a valid, a failed, a duplicate
    and an unreadable proposal."""
    old = json.loads(WRITTEN_BY_THE_LOOP.read_text())
    seeds = [
        dict(
            generation=0, origin="seed", name=name, thought="a seed",
            code=reference_loss_source(name), code_hash=f"h-{name}", status="valid",
            fitness=fitness(0.3 + index / 10), metrics={"0.1": {"reward": 0.3, "kl": 0.2}},
            diagnostics={"notes": ["pointwise"], "pointwise": True},
        )
        for index, name in enumerate(["dpo", "slic"])
    ]
    common = {"origin": "llm", "thought": "t", "reply": "{...}", "feedback": "fb",
              "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.001,
                        "estimated": False, "model": "m", "cache_hit": False}}
    proposals = [
        dict(generation=1, name="new", code="def loss(a, b, c, d, beta):\n    return a\n",
             code_hash="h-new", status="valid", fitness=fitness(0.5), seconds=1.5, **common),
        dict(generation=2, name="broken", code="def loss(:", code_hash="h-broken",
             status="invalid", stage="static", error="SyntaxError: bad", **common),
        dict(generation=3, name="again", code="def loss(a, b, c, d, beta):\n    return a\n",
             code_hash="h-new", status="duplicate", duplicate_of=3, **common),
        dict(generation=4, name="(unreadable reply)", code="", code_hash=None,
             status="invalid", stage="parse", error="no JSON", **common),
    ]
    path = tmp_path / "archive.json"
    write_archive(path, seeds + proposals, old["settings"], old["system_prompt"])
    return path


def entry(index):
    return lambda doc: doc["entries"][index]


def setting(path, value):
    def change(doc):
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def removing(path):
    def change(doc):
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        del target[last]

    return change


def nest(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


CHANGES = {
    "entries not a list": setting(["entries"], {"1": {}}),
    "entry not an object": setting(["entries", 0], "dpo"),
    "settings not an object": setting(["settings"], []),
    "system prompt a number": setting(["system_prompt"], 3),
    "no entries": removing(["entries"]),
    "no settings": removing(["settings"]),
    "id as text": setting(["entries", 0, "id"], "1"),
    "ids out of order": setting(["entries", 0, "id"], 7),
    "id missing": removing(["entries", 0, "id"]),
    "negative generation": setting(["entries", 2, "generation"], -1),
    "generation as text": setting(["entries", 2, "generation"], "1"),
    "unknown origin": setting(["entries", 2, "origin"], "oracle"),
    "unknown status": setting(["entries", 2, "status"], "great"),
    "name a number": setting(["entries", 2, "name"], 5),
    "code a list": setting(["entries", 2, "code"], ["def loss(): pass"]),
    "code hash a number": setting(["entries", 2, "code_hash"], 12),
    "thought null": setting(["entries", 2, "thought"], None),
    "fitness a number": setting(["entries", 2, "fitness"], 0.5),
    "fitness mean as text": setting(["entries", 2, "fitness", "mean"], "high"),
    "fitness mean null": setting(["entries", 2, "fitness", "mean"], None),
    "fitness without sd": removing(["entries", 2, "fitness", "sd"]),
    "fitness n as text": setting(["entries", 2, "fitness", "n"], "two"),
    "fitness betas not a list": setting(["entries", 0, "fitness", "beta_per_seed"], 0.1),
    "fitness betas of text": setting(["entries", 0, "fitness", "beta_per_seed"], ["x"]),
    "valid without fitness": setting(["entries", 2, "fitness"], None),
    "metrics a list": setting(["entries", 2, "metrics"], [1]),
    "diagnostics a list": setting(["entries", 0, "diagnostics"], ["notes"]),
    "notes not a list": setting(["entries", 0, "diagnostics", "notes"], "note"),
    "note a number": setting(["entries", 0, "diagnostics", "notes"], [3]),
    "error a number": setting(["entries", 3, "error"], 404),
    "stage a number": setting(["entries", 3, "stage"], 1),
    "duplicate of text": setting(["entries", 4, "duplicate_of"], "3"),
    "duplicate of a missing entry": setting(["entries", 4, "duplicate_of"], 99),
    "reply a number": setting(["entries", 2, "reply"], 7),
    "feedback null": setting(["entries", 2, "feedback"], None),
    "usage a list": setting(["entries", 2, "usage"], []),
    "usage tokens as text": setting(["entries", 2, "usage", "prompt_tokens"], "ten"),
    "usage negative tokens": setting(["entries", 2, "usage", "completion_tokens"], -5),
    "usage cost as text": setting(["entries", 2, "usage", "cost"], "cheap"),
    "usage negative cost": setting(["entries", 2, "usage", "cost"], -1.0),
    "seconds as text": setting(["entries", 2, "seconds"], "fast"),
    "negative seconds": setting(["entries", 2, "seconds"], -1),
    "created a number": setting(["entries", 2, "created"], 2024),
    "deep value": setting(["entries", 2, "metrics", "0.1"], nest(600)),
    "deep note": setting(["entries", 0, "diagnostics", "notes"], nest(300)),
}

RAW = {
    "empty": "",
    "truncated": None,
    "not JSON": "archive",
    "a list": "[]",
    "other format": '{"format": "other", "version": 1}',
    "other version": '{"format": "opto-discovery-archive", "version": 9}',
    "deep": "[" * 100_000 + "]" * 100_000,
    "int too long": '{"format": "opto-discovery-archive", "version": ' + "1" * 5000 + "}",
    "binary": b"\xff\xfe\x00",
}


def use_every_reader(path):
    archive = Archive.load(path)
    archive.ranked()
    archive.best()
    archive.table()
    archive.usage()
    archive.counts()
    for item in archive.entries:
        assert archive.get(item.id) is item
    if archive.best() is not None:
        assert best_code_of_archive(path) == archive.best().code


def test_the_intact_archive_is_usable(archive_file):
    use_every_reader(archive_file)


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_damaged_archive_is_refused(archive_file, change):
    document = json.loads(archive_file.read_text())
    CHANGES[change](document)
    archive_file.write_text(json.dumps(document))
    with pytest.raises(ArchiveError):
        use_every_reader(archive_file)


@pytest.mark.parametrize("name", list(RAW))
def test_an_archive_that_is_not_json_is_refused(archive_file, name):
    text = RAW[name]
    if text is None:
        text = archive_file.read_text()[:200]
    archive_file.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ArchiveError):
        Archive.load(archive_file)
