"""DiscoPOP on the core end to end: scripted proposals of every kind, the real sandbox, the run
directory, and what the transcript proposer is told after each one."""

import json

import pytest

from opto.discovery import LossEvaluator, ProposalEvaluator, discover
from opto.llm import ScriptedLLM


def proposal(name, code, thought="an idea"):
    return json.dumps({"thought": thought, "name": name, "code": code})


@pytest.fixture
def script(code, tmp_path):
    """(reply, expected name, status, stage) for each generation."""
    leak = tmp_path / "leak.npy"
    return [
        (
            proposal(
                "smoothed",
                code(
                    "smoothed",
                    "    x = beta * rho\n    return 0.9 * np.logaddexp(0.0, -x) + 0.1 * np.logaddexp(0.0, x)\n",
                ),
            ),
            "smoothed",
            "valid",
            None,
        ),
        (
            "Trying the classic again:\n```json\n"
            + proposal(
                "classic", code("classic", "    # DPO\n    return np.logaddexp(0.0, -beta * rho)\n")
            )
            + "\n```",
            "classic",
            "duplicate",
            None,
        ),
        (
            proposal("unclosed", code("unclosed", "    return (rho\n")),
            "unclosed",
            "invalid",
            "static",
        ),
        (
            proposal("log_margin", code("log_margin", "    return np.log(beta * rho)\n")),
            "log_margin",
            "invalid",
            "contract",
        ),
        (
            proposal("spin", code("spin", "    while True:\n        pass\n")),
            "spin",
            "failed",
            "contract",
        ),
        (
            proposal("leak", code("leak", f"    np.save({str(leak)!r}, rho)\n    return rho\n")),
            "leak",
            "failed",
            "contract",
        ),
        ("Let me think about ordinal regression first.", "(unreadable reply)", "invalid", "parse"),
        (
            proposal("hinge", code("hinge", "    return np.maximum(0.0, 0.5 - beta * rho)\n")),
            "hinge",
            "valid",
            None,
        ),
    ]


def run_discover(run_dir, script, objective, policies, skip=0):
    llm = ScriptedLLM([reply for reply, *_ in script][skip:])
    task = LossEvaluator(objective, evaluator=ProposalEvaluator(objective, **policies))
    result = discover(llm, run_dir, generations=len(script), evaluator=task, baselines=("dpo",))
    return result, llm


def test_discopop_on_the_core_end_to_end(tmp_path, script, objective, policies):
    result, llm = run_discover(tmp_path / "run", script, objective, policies)
    assert not (tmp_path / "leak.npy").exists()

    # The pool: the seed and every proposal that was evaluated (not the duplicate, not the
    # unreadable reply), each following the newest, with its status as a score.
    evaluated = [name for _, name, status, _ in script if status not in ("duplicate",)]
    evaluated = [name for name in evaluated if name != "(unreadable reply)"]
    assert [_name(code) for code in result.candidates] == ["dpo", *evaluated]
    assert result.parents == [[None]] + [[i] for i in range(len(evaluated))]
    statuses = {name: status for _, name, status, _ in script}
    for code, scores in zip(result.candidates[1:], result.val_aggregate_subscores[1:], strict=True):
        assert scores["valid"] == (1.0 if statuses[_name(code)] == "valid" else 0.0)
    valid = [i for i, s in enumerate(result.val_aggregate_subscores) if s["valid"] == 1.0]
    assert result.best_idx in valid

    # What the proposer read: the whole history, each reply followed by the answer to it.
    last = llm.requests[-1]["messages"]
    assert len(last) == 2 + 2 * (len(script) - 1)
    for index, (reply, *_) in enumerate(script[:-1]):
        assert last[2 + 2 * index] == {"role": "assistant", "content": reply}
    answers = [m["content"] for m in last[3::2]]
    assert "Fitness: " in answers[0]
    assert answers[1].startswith("This proposal was not kept: it is the same loss")
    assert "Code not valid. Error:\nSyntaxError at line 3" in answers[2]
    assert "Code not valid. Error:\nContract test failed" in answers[3]
    assert "Evaluation failed. Error:\nStopped during the contract test" in answers[4]
    assert "forbidden operation" in answers[5]
    assert answers[6].startswith("Reply not understood.")
    assert all(answer.endswith("Please generate the next one.") for answer in answers)


def test_a_run_directory_resumes_with_the_same_transcript(tmp_path, script, objective, policies):
    short = script[:3]
    _, straight = run_discover(tmp_path / "straight", short, objective, policies)
    run_discover(tmp_path / "run", short[:1], objective, policies)
    _, resumed = run_discover(tmp_path / "run", short, objective, policies, skip=1)
    assert resumed.requests == straight.requests[1:]


def _name(code):
    """The function a candidate defines (its first line: it may not parse)."""
    return code.split("(", 1)[0].removeprefix("def ")
