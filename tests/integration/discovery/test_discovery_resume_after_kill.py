"""Kill the example's discovery run with SIGKILL mid-run, run the same command again, and find
every scripted proposal in the run's transcript exactly once, in order."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "discopop_discovery.py"
GENERATIONS = 6


def scripted_replies(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    spec = importlib.util.spec_from_file_location("discopop_discovery_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCRIPTED[:GENERATIONS]


def command(run_dir):
    return [
        sys.executable, str(EXAMPLE), "--offline", "--quick", "--run-dir", str(run_dir),
        "--generations", str(GENERATIONS),
    ]  # fmt: skip


def checkpoint(run_dir):
    """The run's checkpoint (the trainer writes it atomically), or None before the first."""
    path = run_dir / "checkpoint.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_a_killed_run_resumes_and_records_every_proposal_once(tmp_path, monkeypatch):
    expected = scripted_replies(monkeypatch)
    run_dir = tmp_path / "run"
    run = subprocess.Popen(command(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ((saved := checkpoint(run_dir)) and saved["step"] >= 1):
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no proposal was checkpointed in time"
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGKILL)  # most likely while proposal 2 is being evaluated
    finally:
        run.kill()
        run.wait()

    done = checkpoint(run_dir)["step"]
    assert 1 <= done < GENERATIONS
    finished = subprocess.run(command(run_dir), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "The proposals were SCRIPTED" in finished.stdout
    assert "stopped: completed" in finished.stdout

    final = checkpoint(run_dir)
    assert final["step"] == GENERATIONS
    turns = final["optimizers"][0]["turns"]
    assert [t["content"] for t in turns if t["role"] == "assistant"] == expected
    answers = [t["content"] for t in turns if t["role"] == "user"]
    assert len(answers) == GENERATIONS - 1
    assert answers[0].startswith("Score: ")  # focal_logistic was evaluated
    assert answers[1].startswith("This proposal was not kept")  # the DPO duplicate
