import io
import json
import sys
import types

import pytest
from rich.console import Console
from trainer_toys import DATA, Adder, guided_reply, make_guide, optimizer_for

from opto.trainer import train
from opto.trainer.loggers import (
    BaseLogger,
    CompositeLogger,
    ConsoleLogger,
    DefaultLogger,
    JSONLinesLogger,
    LoggerUnavailableError,
    MLflowLogger,
    TensorboardLogger,
    WandbLogger,
)

RECORD = {
    "step": 3,
    "total_steps": 10,
    "epoch": 1,
    "train_score": 0.5,
    "validation_score": None,
    "best_score": 0.75,
    "tokens": 1234,
    "cost": 0.0021,
    "parameters": {"p": "x"},
}


def console_output(logger_action) -> str:
    stream = io.StringIO()
    logger = ConsoleLogger(console=Console(file=stream, width=200), progress=False)
    logger_action(logger)
    logger.close()
    return stream.getvalue()


def test_console_logger_prints_a_line_per_step_with_score_tokens_and_cost():
    text = console_output(lambda logger: logger.log_step(RECORD))
    assert text.strip() == "step 3/10 | epoch 1 | train 0.5 | best 0.75 | tokens 1,234 | $0.0021"
    assert DefaultLogger is ConsoleLogger


def test_console_logger_keeps_traces_log_call_and_shows_events():
    text = console_output(
        lambda logger: (
            logger.log("Average test score", 0.5, 2, color="green"),
            logger.log_event("stop", {"message": "budget"}),
        )
    )
    assert "[Step 2] Average test score: 0.5" in text
    assert "stop budget" in text


def test_console_logger_progress_bar_on_a_terminal():
    stream = io.StringIO()
    logger = ConsoleLogger(console=Console(file=stream, force_terminal=True, width=120))
    logger.log_step(RECORD)
    logger.log_step({**RECORD, "step": 4})
    logger.close()
    assert "step 4/10" in stream.getvalue()


def test_a_custom_logger_only_needs_log():
    seen = []

    class Mine(BaseLogger):
        def log(self, name, data, step, **kwargs):
            seen.append((name, data, step))

    Mine().log_step(RECORD)
    assert seen == [
        ("train_score", 0.5, 3),
        ("best_score", 0.75, 3),
        ("tokens", 1234, 3),
        ("cost", 0.0021, 3),
    ]


def test_json_lines_logger_appends_records(tmp_path):
    path = tmp_path / "logs" / "run.jsonl"
    logger = CompositeLogger(JSONLinesLogger(path), BaseLogger())
    logger.log_step(RECORD)
    logger.log_event("stop", {"step": 3, "message": "done"})
    logger.log("note", {1, 2}, 3)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"event": "step", **RECORD}
    assert lines[1] == {"event": "stop", "step": 3, "message": "done"}
    assert lines[2]["data"] == "{1, 2}"


def test_a_half_written_last_line_is_cut_off_when_the_log_is_opened_again(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"event": "start", "step": 0}\n{"event": "step", "step": 1, "train_sc')
    JSONLinesLogger(path).log_event("resume", {"step": 0})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["start", "resume"]
    path.write_text('{"event": "st')  # nothing complete at all
    JSONLinesLogger(path).log_event("resume", {"step": 0})
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["resume"]


@pytest.mark.parametrize(
    ("cls", "module", "hint"),
    [
        (TensorboardLogger, "tensorboardX", "pip install tensorboardX"),
        (WandbLogger, "wandb", "pip install wandb"),
        (MLflowLogger, "mlflow", "pip install mlflow"),
    ],
)
def test_optional_loggers_say_how_to_install_what_they_need(monkeypatch, cls, module, hint):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(LoggerUnavailableError, match=hint):
        cls()
    assert issubclass(LoggerUnavailableError, ImportError)


class Calls:
    """A stand-in module that records every call made on it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return self

        return record


def fake_module(monkeypatch, name):
    calls = Calls()
    module = types.ModuleType(name)
    module.__getattr__ = calls.__getattr__
    monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_tensorboard_logger_writes_scalars_and_text(monkeypatch, tmp_path):
    calls = fake_module(monkeypatch, "tensorboardX")
    logger = TensorboardLogger(log_dir=tmp_path)
    logger.log("score", 0.5, 1)
    logger.log("prompt", "be brief", 1)
    logger.close()
    names = [c[0] for c in calls.calls]
    assert names == ["SummaryWriter", "add_scalar", "add_text", "close"]
    assert calls.calls[1][1] == ("score", 0.5, 1)


def test_wandb_logger_logs_step_records(monkeypatch):
    calls = fake_module(monkeypatch, "wandb")
    logger = WandbLogger(project="p", name="run")
    logger.log_step(RECORD)
    logger.close()
    assert calls.calls[0][0] == "init" and calls.calls[0][2]["project"] == "p"
    assert calls.calls[1] == (
        "log",
        ({"train_score": 0.5, "best_score": 0.75, "tokens": 1234, "cost": 0.0021},),
        {"step": 3},
    )
    assert calls.calls[-1][0] == "finish"


def test_mlflow_logger_logs_metrics(monkeypatch):
    calls = fake_module(monkeypatch, "mlflow")
    logger = MLflowLogger(experiment_name="e", tracking_uri="file:///tmp/x")
    logger.log("score", 1.0, 2)
    logger.log("prompt", "text", 2)
    logger.log_step(RECORD)
    logger.close()
    names = [c[0] for c in calls.calls]
    assert names == [
        "set_tracking_uri",
        "set_experiment",
        "start_run",
        "log_metric",
        "log_text",
        "log_metrics",
        "end_run",
    ]


def test_train_reports_each_step_to_the_logger():
    stream = io.StringIO()
    agent = Adder(0)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer_for(agent, guided_reply),
        guide=make_guide(),
        logger=ConsoleLogger(console=Console(file=stream, width=200)),
        batch_size=2,
        num_steps=2,
    )
    lines = stream.getvalue().splitlines()
    assert lines[0] == "start MinibatchAlgorithm"
    assert lines[1].startswith("step 1/2 | epoch 1 | train 0.1667 | tokens ")
    stop = lines.index("stop completed")
    assert lines[stop + 1] == "summary Training finished"  # then the run's summary
    assert lines[-1].split() == ["cost", "$0.0000"]


def test_console_logger_prints_values_with_brackets_as_they_are_in_any_colour():
    text = console_output(
        lambda logger: (
            logger.log("Parameter/prompt", "[bold]Answer[/bold] in [1, 2]", 4, color="orange"),
            logger.log("score", 1, 5, color="not-a-colour"),
        )
    )
    assert "[Step 4] Parameter/prompt: [bold]Answer[/bold] in [1, 2]" in text
    assert "[Step 5] score: 1" in text
