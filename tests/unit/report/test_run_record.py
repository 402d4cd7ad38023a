"""What a training run records for reports: proposals, components, per-metric scores, usage,
and the summary the run ends with."""

from __future__ import annotations

import io
import json

from report_toys import HOSTILE, make_run
from rich.console import Console

from opto.trainer import train
from opto.trainer.loggers import ConsoleLogger


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_optimizer_step_is_recorded_with_its_prompt_reply_outcome_values_and_graph(beam_run):
    proposals = lines(beam_run / "proposals.jsonl")
    assert [(p["step"], p["index"]) for p in proposals][:3] == [(1, 0), (1, 1), (2, 0)]
    first = proposals[0]
    assert first["optimizer"] == "OptoPrime"
    assert (first["parent"], first["child"]) == (0, 1)
    call = first["call"]
    assert "#Variables" in call["user_prompt"] and call["system_prompt"]
    assert json.loads(call["response"])["suggestion"] == {"offset0": 1}
    assert call["applied"] == {"offset0": 1}
    assert first["before"] == {"offset": 0, "prefix": "Answer:"}
    assert first["after"] == {"offset": 1, "prefix": "Answer:"}
    graph = first["graph"]
    kinds = {node["name"]: node["kind"] for node in graph["nodes"]}
    assert kinds["offset0"] == "parameter" and kinds["show0"] == "operation"
    assert ["offset0", "add0"] in graph["edges"]
    hostile = proposals[1]
    assert hostile["call"]["applied"]["prefix0"] == HOSTILE
    assert hostile["after"]["prefix"] == HOSTILE


def test_refused_and_unknown_suggestions_are_recorded_with_the_reason(beam_run):
    third = next(p for p in lines(beam_run / "proposals.jsonl") if p["call"]["refused"])["call"]
    assert set(third["refused"]) == {"offset0"}
    assert "'a lot'" in third["refused"]["offset0"]
    assert third["unknown"] == ["temperature"]


def test_the_configuration_names_the_model_optimizer_and_guide_classes(beam_run):
    config = json.loads((beam_run / "config.json").read_text())
    assert config["components"] == {
        "model": "report_toys:Labeller",
        "optimizers": ["OptoPrime"],
        "guide": "MetricGuide",
    }


def test_step_records_hold_the_score_of_each_metric(beam_run):
    steps = [r for r in lines(beam_run / "run.jsonl") if r["event"] == "step"]
    assert set(steps[-1]["best_scores"]) == {"accuracy", "brevity"}


def test_no_run_directory_no_proposal_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert make_run(None).run_dir is None
    assert not list(tmp_path.rglob("proposals.jsonl"))


def test_the_result_carries_the_usage_and_a_summary(tmp_path):
    result = make_run(tmp_path / "run")
    assert result.usage["calls"] == 14
    assert (
        result.usage["tokens"] == result.usage["prompt_tokens"] + result.usage["completion_tokens"]
    )
    assert result.usage["cost"] > 0
    summary = result.summary()
    assert summary.splitlines()[0] == "Training finished"
    for label in ("best score", "steps", "calls", "tokens", "cost", "saved in"):
        assert label in summary
    assert f"opto show {tmp_path / 'run'}" in summary


def test_the_console_logger_ends_the_run_with_the_summary(tmp_path):
    from report_toys import DATA, Labeller, scripted_replies, two_objectives

    from opto.llm import ScriptedLLM
    from opto.optimizers import OptoPrime

    buffer = io.StringIO()
    logger = ConsoleLogger(console=Console(file=buffer, width=120), progress=False)
    agent = Labeller()
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=OptoPrime(agent.parameters(), llm=ScriptedLLM([scripted_replies()] * 10)),
        guide=two_objectives,
        num_steps=2,
        logger=logger,
        run_dir=tmp_path / "run",
    )
    printed = buffer.getvalue()
    assert "summary Training finished" in printed
    tail = printed[printed.index("summary") :]
    assert "steps       2 (completed)" in tail and "calls       2" in tail
    assert str(tmp_path / "run") in tail


def test_console_event_messages_are_text_not_markup():
    buffer = io.StringIO()
    logger = ConsoleLogger(console=Console(file=buffer, width=120), progress=False)
    logger.log_event("stop", {"message": "budget [bold red]x[/bold red] [link=file:///etc]y"})
    assert "[bold red]x[/bold red] [link=file:///etc]y" in buffer.getvalue()
