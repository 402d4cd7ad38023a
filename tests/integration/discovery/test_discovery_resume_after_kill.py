"""Kill the example's discovery run with SIGKILL mid-run, run the same command again, and find
every scripted proposal in the archive exactly once."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from opto.discovery import Archive, ProposalParseError, parse_proposal

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "discopop_discovery.py"


def scripted_names(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    spec = importlib.util.spec_from_file_location("discopop_discovery_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = []
    for reply in module.SCRIPTED:
        try:
            names.append(parse_proposal(reply).name)
        except ProposalParseError:
            names.append("(unreadable reply)")
    return names


def command(archive):
    return [sys.executable, str(EXAMPLE), "--offline", "--quick", "--archive", str(archive)]


def test_a_killed_run_resumes_and_records_every_proposal_once(tmp_path, monkeypatch):
    expected = scripted_names(monkeypatch)
    archive_path = tmp_path / "archive.json"
    env = dict(os.environ)
    run = subprocess.Popen(
        command(archive_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not (archive_path.exists() and Archive.load(archive_path).generations >= 1):
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no generation was recorded in time"
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGKILL)  # most likely while proposal 2 is being evaluated
    finally:
        run.kill()
        run.wait()

    interrupted = Archive.load(archive_path)  # the file is complete despite the kill
    done = interrupted.generations
    assert 1 <= done < len(expected)
    finished = subprocess.run(
        command(archive_path), env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"already holds {done} generation(s); continuing" in finished.stdout
    assert "The proposals were SCRIPTED" in finished.stdout

    final = Archive.load(archive_path)
    assert [entry.name for entry in final.seeds] == ["dpo", "slic", "ipo"]
    assert [entry.name for entry in final.proposals] == expected
    assert [entry.generation for entry in final.proposals] == list(range(1, len(expected) + 1))
    assert [entry.id for entry in final.entries] == list(range(1, len(final.entries) + 1))
    kept = [entry.to_dict() for entry in interrupted.entries]
    assert [entry.to_dict() for entry in final.entries[: len(kept)]] == kept
    statuses = {entry.name: entry.status for entry in final.proposals}
    assert statuses["bradley_terry"] == "duplicate"
    assert statuses["endless_refinement"] == statuses["cached_logistic"] == "failed"
    assert statuses["sqrt_margin"] == statuses["early_exit"] == "invalid"
