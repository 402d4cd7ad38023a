"""Kill a training process with SIGKILL in the middle of a step, resume it, lose nothing.

The child trains the toy agent against the toy server (both the agent's calls and the
optimizer's go there). Checkpoints are written after every step. The server holds the
optimizer request of step 4 unanswered; the test kills the child while it waits. Resuming
re-runs step 4 with the replies of its forward pass from the run's LLM cache, so each request
is answered exactly once over both processes, and the result equals an uninterrupted run.
"""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from toy_server import ToyServer, is_optimizer_request

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "resumable_run.py"


def child(url: str, run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), url, str(run_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def canonical(bodies: list[dict]) -> Counter:
    return Counter(json.dumps(body, sort_keys=True) for body in bodies)


def test_sigkill_mid_step_then_resume_repeats_no_paid_call_and_ends_the_same(tmp_path, toy_server):
    reference_server = ToyServer()
    try:
        uninterrupted = child(reference_server.url, tmp_path / "uninterrupted")
        toy_server.hold_at = 4  # the optimizer request of step 4
        run_dir = tmp_path / "killed"
        process = child(toy_server.url, run_dir)
        expected = finish(uninterrupted)
        reference_log = list(reference_server.answered)
    finally:
        reference_server.close()
    assert expected["steps"] == 6 and expected["parameters"] == {"offset": 7}
    step4 = [i for i, body in enumerate(reference_log) if is_optimizer_request(body)][3]
    assert not is_optimizer_request(reference_log[step4 - 1])  # step 4's forward came first

    assert toy_server.held.wait(60), process.stderr.read() if process.poll() is not None else ""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    toy_server.release()
    assert process.returncode == -signal.SIGKILL
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    assert checkpoint["step"] == 3 and checkpoint["stopped"] is None
    assert checkpoint["pool"]["candidates"][0]["snapshot"] == {"offset": 6}
    answered_before_kill = len(toy_server.answered)
    assert answered_before_kill == step4  # the forward calls of step 4 were paid

    toy_server.hold_at = None
    resumed = finish(child(toy_server.url, run_dir))
    assert resumed == expected
    both = canonical(toy_server.answered)
    assert max(both.values()) == 1  # no request was answered (paid) twice
    assert both == canonical(reference_log)  # and none is missing
    assert (
        toy_server.answered[answered_before_kill] == reference_log[step4]
    )  # resumed at the held call
    final = json.loads((run_dir / "checkpoint.json").read_text())
    assert final["step"] == 6 and final["stopped"] == "completed"
    # usage: what the checkpoint counted before the kill plus what the resumed process paid
    # (the calls of step 4 made before the kill were after the last checkpoint)
    paid_after_resume = len(toy_server.answered) - answered_before_kill
    assert final["usage"]["calls"] == checkpoint["usage"]["calls"] + paid_after_resume
    assert final["usage"]["cache_hits"] >= 2
    events = [
        json.loads(line)["event"] for line in (run_dir / "run.jsonl").read_text().splitlines()
    ]
    assert events.count("resume") == 1


def test_killed_again_and_again_at_other_moments_the_run_still_ends_the_same(tmp_path, toy_server):
    """Kills while the 2nd forward call of step 1 waits (no checkpoint yet), while the 1st
    forward call of step 3 waits (right after a checkpoint), and while the 2nd forward call of
    step 4 waits (mid-batch); each time the next process resumes. Each step makes 3 calls."""
    reference_server = ToyServer()
    try:
        expected = finish(child(reference_server.url, tmp_path / "uninterrupted"))
        reference_log = list(reference_server.answered)
    finally:
        reference_server.close()
    run_dir = tmp_path / "killed"
    for answered_before in (1, 6, 10):
        toy_server.rearm()
        toy_server.hold_after = answered_before
        process = child(toy_server.url, run_dir)
        assert toy_server.held.wait(60), process.stderr.read() if process.poll() is not None else ""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        toy_server.release()
        assert process.returncode == -signal.SIGKILL
        assert len(toy_server.answered) == answered_before  # nothing was asked twice so far
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    assert checkpoint["step"] == 3

    toy_server.hold_after = None
    assert finish(child(toy_server.url, run_dir)) == expected
    both = canonical(toy_server.answered)
    assert max(both.values()) == 1
    assert both == canonical(reference_log)
    events = [
        json.loads(line)["event"] for line in (run_dir / "run.jsonl").read_text().splitlines()
    ]
    assert events.count("start") == 2  # the first process never reached a checkpoint
    assert events.count("resume") == 2
