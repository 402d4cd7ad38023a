"""Report and command-line tests: a fresh usage ledger, a private cache, no LLM variables."""

from __future__ import annotations

import json
import os

import pytest
from llm_isolation import clean_llm_state

_LLM_VARIABLES = ("DEFAULT_LITELLM_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(autouse=True)
def isolated_llm_state(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("OPTO_", "TRACE_")) or name in _LLM_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    with clean_llm_state(tmp_path / "global-llm-cache"):
        yield


@pytest.fixture
def beam_run(tmp_path):
    """A finished three-step beam search with refusals and hostile text in its files."""
    from report_toys import make_run

    run_dir = tmp_path / "beam-run"
    make_run(run_dir)
    return run_dir


@pytest.fixture
def archive_file(tmp_path):
    """A discovery archive: two seeds, valid and failed proposals, one with hostile text."""
    from report_toys import HOSTILE

    path = tmp_path / "disc" / "archive.json"
    entries = []

    def add(name, generation, status="valid", fitness=None, origin="llm", **extra):
        values = {
            "generation": generation,
            "origin": origin,
            "name": name,
            "thought": f"why {name}",
            "code": f"def {name}(a, b, c, d, beta):\n    return a - b\n",
            "code_hash": f"hash-{name}",
            "status": status,
            "usage": {"prompt_tokens": 100 * generation, "completion_tokens": 10, "cost": 0.001}
            if origin == "llm"
            else {},
        }
        if fitness is not None:
            values["fitness"] = {"mean": fitness, "sd": 0.05, "n": 2, "per_seed": [fitness] * 2}
        values.update(extra)
        entries.append(values)

    add("dpo", 0, fitness=0.40, origin="seed")
    add("slic", 0, fitness=0.42, origin="seed")
    add("focal", 1, fitness=0.35)
    add("broken", 2, status="invalid", error="SyntaxError at line 2")
    add("best_one", 3, fitness=0.47, code=f"def best_one(a, b, c, d, beta):\n    # {HOSTILE}\n")
    add(HOSTILE, 4, status="failed", error=HOSTILE)
    return write_archive(path, entries, {"objective": {"preset": "base"}}, "s")


def write_archive(path, entries, settings, system_prompt):
    """Write an archive file as the earlier DiscoveryLoop did (ids 1, 2, ... in order); opto
    reads such files but no longer writes them."""
    from opto.discovery.archive import ARCHIVE_FORMAT, ARCHIVE_VERSION, Entry

    items = [
        Entry(id=index, created="2026-01-01T00:00:00+00:00", **values).to_dict()
        for index, values in enumerate(entries, start=1)
    ]
    document = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "settings": settings,
        "system_prompt": system_prompt,
        "entries": items,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path
