"""The whole harness, offline: a live run against a scripted endpoint on 127.0.0.1 records
every exchange, and replaying the run directory reproduces its results exactly."""

import json
import os
import re

import pytest
from qbench import pack, specs
from qbench.proxy import ReplayServer

from opto.llm import DummyLLM

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX sandbox and process limits")

SCANNER = (
    "def choose_shot(board):\n"
    "    for r, row in enumerate(board):\n"
    "        for c, cell in enumerate(row):\n"
    "            if cell == '.':\n"
    "                return (r, c)\n"
    "    return (0, 0)\n"
)


def scripted_endpoint():
    """Optimizer replies that solve the numeric task and improve the game policy; a wrong
    then right agent, so the prompt task's score moves."""
    numeric_task = specs.build(["numeric"], 0, "sample")[0]["data"]
    solution = dict(zip(("a0", "b0"), numeric_task["hidden_solution"], strict=False))

    def reply(*args, **request):
        system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
        if "suggestion" not in system:  # an agent call: right once told to be careful
            expression = user.split(" =")[0]
            assert re.fullmatch(r"[-+*() 0-9]+", expression)
            right = eval(expression, {"__builtins__": {}})  # generated arithmetic, checked above
            return f"Answer: {right if 'careful' in system else 'maybe'}"
        if "(float) a0" in user:
            return json.dumps({"reasoning": "solve", "suggestion": solution})
        if "choose_shot" in user:
            return "```json\n" + json.dumps({"suggestion": {"__code0": SCANNER}}) + "\n```"
        return json.dumps({"reasoning": "r", "suggestion": {"instruction0": "Be careful."}})

    return DummyLLM(reply)


def test_a_live_run_is_recorded_and_its_replay_reproduces_it(tmp_path, quality_run, capsys):
    run_dir = tmp_path / "live"
    with ReplayServer(scripted_endpoint()) as endpoint:
        status = quality_run.main(
            [
                "--base-url",
                endpoint.base_url,
                "--model",
                "scripted",
                "--plan",
                "sample",
                "--impl",
                "opto",
                "--tasks",
                "numeric",
                "battleship",
                "bbh",
                "--out",
                str(run_dir),
            ]
        )
    assert status == 0
    runs = {
        r["task"]: r
        for r in map(json.loads, (run_dir / "results.jsonl").open())
        if r["kind"] == "run"
    }
    assert set(runs) == {"numeric/0", "battleship/0", "bbh/multistep_arithmetic_two"}
    assert runs["numeric/0"]["success"] and runs["numeric/0"]["steps_to_solve"] == 1
    assert runs["battleship/0"]["scores"][0] < runs["battleship/0"]["scores"][1]
    assert runs["bbh/multistep_arithmetic_two"]["scores"] == [0.0, 1.0]
    assert runs["bbh/multistep_arithmetic_two"]["usage"]["by_purpose"]["agent"]["calls"] == 8
    assert all(r["error"] is None and r["parsed"] == r["replies"] for r in runs.values())
    replies = json.loads((run_dir / "replies" / "numeric__0.opto.json").read_text())
    assert replies["format"] == "opto-llm-replay" and len(replies["entries"]) == 1
    assert "| numeric | opto | 1 | 1 |" in (run_dir / "table.md").read_text()
    assert (run_dir / "scores.png").stat().st_size > 0

    packed = tmp_path / "packed"
    assert pack.pack(run_dir, packed) == [
        "numeric/0",
        "battleship/0",
        "bbh/multistep_arithmetic_two",
    ]
    assert sorted(p.name for p in (packed / "replies").iterdir())[0] == "battleship__0.opto.json.gz"
    assert not (packed / "logs").exists()
    status = quality_run.main(
        ["--replay", str(packed), "--impl", "opto", "--out", str(tmp_path / "replayed")]
    )
    assert status == 0
    assert "the replay reproduces the recording" in capsys.readouterr().out


def test_a_replay_that_diverges_fails_and_says_where(tmp_path, quality_run, capsys):
    run_dir = tmp_path / "live"
    with ReplayServer(scripted_endpoint()) as endpoint:
        quality_run.main(
            [
                "--base-url",
                endpoint.base_url,
                "--model",
                "scripted",
                "--plan",
                "sample",
                "--impl",
                "opto",
                "--tasks",
                "numeric",
                "--out",
                str(run_dir),
            ]
        )
    results = run_dir / "results.jsonl"
    records = [json.loads(line) for line in results.open()]
    for record in records:
        if record["kind"] == "run":
            record["parsed"] = 0
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    status = quality_run.main(
        ["--replay", str(run_dir), "--impl", "opto", "--out", str(tmp_path / "replayed")]
    )
    assert status == 1
    assert "numeric/0 [opto]: parsed 0 was recorded, the replay gave 1" in capsys.readouterr().out


def test_a_replay_of_something_else_is_refused(tmp_path, quality_run, capsys):
    (tmp_path / "manifest.json").write_text('{"format": "other"}')
    assert quality_run.main(["--replay", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not a opto-quality-run manifest" in capsys.readouterr().err
