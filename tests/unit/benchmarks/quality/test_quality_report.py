"""The loop's records, the summary table, the plot, and the replay comparison."""

import pytest
from qbench import compare, loop, report
from qbench.adapters.common import Counters, StepStats


class FakeSide:
    name = "fake"

    def __init__(self, replies):
        self.counters = Counters()
        self.replies = list(replies)

    def optimizer(self, parameters):
        return FakeOptimizer()

    def step(self, optimizer):
        self.counters.add("optimizer", 1, 100, 20)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return StepStats(reply=reply, parsed=True, suggested=["x0"], applied=["x0"])


class FakeOptimizer:
    def zero_feedback(self):
        pass

    def backward(self, output, feedback):
        self.feedback = feedback


class Program:
    """Score goes up by a fixed amount per step."""

    def __init__(self, increments):
        self.score = 0.0
        self.increments = list(increments)

    def parameters(self):
        return []

    def evaluate(self):
        return loop.Evaluation(self.score, self.score >= 1.0)

    def forward(self):
        self.score += self.increments.pop(0)
        return object(), "feedback"


TASK = {"id": "numeric/0", "family": "numeric", "budget": 4}


def test_the_loop_stops_once_solved_and_counts_the_steps():
    records = []
    summary = loop.run(FakeSide(["a", "b", "c"]), Program([0.5, 0.5, 0.5]), TASK, records.append)
    assert [r["kind"] for r in records] == ["step", "step", "step", "run"]
    assert summary["success"] and summary["steps_to_solve"] == 2
    assert summary["scores"] == [0.0, 0.5, 1.0]
    assert summary["usage"]["by_purpose"]["optimizer"]["calls"] == 2
    assert (summary["parsed"], summary["replies"], summary["applied"]) == (2, 2, 2)


def test_a_failing_step_ends_the_run_with_its_error_and_keeps_the_steps_done():
    records = []
    side = FakeSide(["a", RuntimeError("endpoint gone")])
    summary = loop.run(side, Program([0.1, 0.1]), TASK, records.append)
    assert not summary["success"] and summary["error"] == "RuntimeError: endpoint gone"
    assert summary["scores"] == [0.0, 0.1]
    assert any(r["kind"] == "error" for r in records)


def _records(impl, scores, tokens):
    records = []
    for step, (score, used) in enumerate(zip(scores, tokens, strict=True)):
        records.append(
            {
                "kind": "step",
                "task": "numeric/0",
                "family": "numeric",
                "impl": impl,
                "step": step,
                "score": score,
                "success": score >= 1,
                "details": {},
                "usage": {"prompt_tokens": used, "completion_tokens": 0},
                "elapsed_s": step,
            }
        )
    steps = [r for r in records]
    usage = {
        "calls": len(scores) - 1,
        "prompt_tokens": tokens[-1],
        "completion_tokens": 10,
        "by_purpose": {"optimizer": {"calls": len(scores) - 1}},
    }
    records.append(
        loop.summarize(
            {"task": "numeric/0", "family": "numeric", "impl": impl}, steps, None, 3.0, usage
        )
    )
    return records


def test_the_table_sums_tokens_and_prices_them(tmp_path):
    records = _records("opto", [0.0, 1.0], [0, 1000]) + _records(
        "trace-opt", [0.0, 0.2, 0.4], [0, 900, 1800]
    )
    rows = {row["impl"]: row for row in report.rows(records, (2.0, 10.0))}
    assert rows["opto"]["solved"] == 1 and rows["trace-opt"]["solved"] == 0
    assert rows["opto"]["cost $"] == pytest.approx((1000 * 2.0 + 10 * 10.0) / 1e6)
    assert rows["trace-opt"]["score start -> end"] == "0.00 -> 0.40"
    table = report.markdown_table(records)
    assert table.count("\n") == 3 and "| numeric | opto | 1 | 1 |" in table
    curves = report.curves(records)
    assert curves[("numeric", "opto")]["score"] == [0.0, 1.0]
    assert curves[("numeric", "trace-opt")]["tokens"] == [0, 900, 1800]
    picture = report.plot(records, tmp_path / "scores.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_replay_must_match_its_recording_except_for_time():
    recorded = _records("opto", [0.0, 0.5], [0, 100])
    replayed = _records("opto", [0.0, 0.5], [0, 100])
    replayed[-1]["wall_s"] = 99.0
    replayed[0]["elapsed_s"] = 42
    assert compare.differences(recorded, replayed) == []
    replayed[1]["score"] = 0.6
    replayed[-1]["scores"] = [0.0, 0.6]
    found = compare.differences(recorded, replayed)
    assert any("scores" in line for line in found) and any("step 1 score" in line for line in found)
