"""Where a training run reports: the console, a JSON-lines file, TensorBoard, MLflow, W&B.

Every logger has Trace's ``log(name, data, step)``. The training loop calls ``log_step(record)``
once per step with a dict (step, scores, tokens, cost, parameters...) and ``log_event(name,
record)`` for start, resume, checkpoint and stop; by default those become ``log`` calls, so a
custom logger only needs ``log``. TensorBoard, MLflow and W&B load only when such a logger is
made, and say how to install them if they are missing.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from opto.utils.errors import OptoError

STEP_FIELDS = ("train_score", "validation_score", "best_score", "test_score", "tokens", "cost")


class LoggerUnavailableError(OptoError, ImportError):
    """The package a logger needs is not installed."""


class BaseLogger:
    """Base class; subclasses implement ``log`` (and may refine ``log_step``/``log_event``).

    ``log_dir`` is where a logger that writes files puts them (None: it writes none); other
    keyword arguments are accepted for Trace's loggers and not used here.
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, **kwargs: Any) -> None:
        self.log_dir = log_dir

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        """Record the value ``data`` under ``name`` at ``step`` (Trace's logger call);
        keyword arguments such as ``color=`` are hints a logger may use."""

    def log_step(self, record: dict[str, Any]) -> None:
        """Record the summary of one training step, ``record`` (step, scores, tokens, cost,
        ...); by default each known figure goes through :meth:`log`."""
        for name in STEP_FIELDS:
            if record.get(name) is not None:
                self.log(name, record[name], record["step"])

    def log_event(self, event: str, record: dict[str, Any]) -> None:
        """Record the run event ``event`` (``start``, ``checkpoint``, ``stop``, ...) with its
        data ``record`` (a ``step`` and a ``message``, mostly)."""
        self.log(event, record, record.get("step", 0))

    def close(self) -> None:
        """Flush and release what the logger holds."""


class ConsoleLogger(BaseLogger):
    """One line per step on the console (rich): step, epoch, scores, tokens and cost.

    On a terminal a progress bar shows the same figures while the run goes on; ``progress``
    True/False forces it on or off. ``log_dir`` is accepted for Trace and not used (nothing
    is written to files).
    """

    def __init__(self, log_dir: Any = None, progress: bool | None = None, **kwargs: Any) -> None:
        super().__init__(log_dir)
        from rich.console import Console

        self.console = kwargs.pop("console", None) or Console()
        self._want_progress = self.console.is_terminal if progress is None else progress
        self._progress: Any = None
        self._task: Any = None

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        """Print ``[Step <step>] <name>: <data>``, in ``color=`` when it is a known colour."""
        self.console.print(
            f"[Step {step}] {name}: {data}",
            style=_known_style(kwargs.get("color")),
            markup=False,
            highlight=False,
        )

    def log_step(self, record: dict[str, Any]) -> None:
        parts = [
            f"step {record['step']}"
            + (f"/{record['total_steps']}" if record.get("total_steps") else "")
        ]
        if record.get("epoch") is not None:
            total = f"/{record['num_epochs']}" if record.get("num_epochs") else ""
            parts.append(f"epoch {record['epoch']}{total}")
        for label, key in (
            ("train", "train_score"),
            ("val", "validation_score"),
            ("best", "best_score"),
            ("test", "test_score"),
        ):
            if record.get(key) is not None:
                parts.append(f"{label} {record[key]:.4g}")
        parts.append(f"tokens {record.get('tokens', 0):,}")
        parts.append(f"${record.get('cost', 0.0):.4f}")
        line = " | ".join(parts)
        if self._want_progress:
            self._update_bar(record, line)
        self._print(line)

    def log_event(self, event: str, record: dict[str, Any]) -> None:
        from rich.markup import escape

        details = escape(str(record.get("message") or ""))  # text, not console markup
        self._print(f"[bold]{event}[/bold] {details}".rstrip())

    def _update_bar(self, record: dict[str, Any], line: str) -> None:
        if self._progress is None:
            from rich.progress import BarColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]training"),
                BarColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(line, total=record.get("total_steps"))
        self._progress.update(self._task, completed=record["step"], description=line)

    def _print(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


DefaultLogger = ConsoleLogger


def _known_style(color: Any) -> Any:
    """A rich style for a colour name, or None (plain text) for anything rich does not know."""
    if not isinstance(color, str):
        return None
    from rich.style import Style

    try:
        return Style.parse(color)
    except Exception:  # rich's StyleSyntaxError and friends: print uncoloured
        return None


class _ConsoleEcho:
    """What ``verbose=True`` adds to a logger: each value also printed to the console."""

    def __init__(self, verbose: bool) -> None:
        self.console_logger = ConsoleLogger(progress=False) if verbose else None

    def echo(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        if self.console_logger is not None:
            self.console_logger.log(name, data, step, **kwargs)


class NullLogger(BaseLogger):
    """Reports nothing (tests, library use)."""


def _private(path: str, flags: int) -> int:
    """Open as ``open`` does, but a new file is readable by its owner only (0600), like the
    checkpoints next to it: a log holds prompts, replies and scores."""
    return os.open(path, flags, 0o600)


class JSONLinesLogger(BaseLogger):
    """One JSON object per line: every step record and every event, appended as they happen.

    A process killed while writing can leave half a line at the end of the file; opening the
    log again cuts it off, so that every line stays valid JSON when a resumed run appends.
    The file is created 0600 and its folder, when it is made here, 0700. ``path`` is the
    file; other keyword arguments are accepted like any logger's and not used.
    """

    def __init__(self, path: str | os.PathLike, **kwargs: Any) -> None:
        super().__init__(Path(path).parent)
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._drop_torn_tail()

    def _drop_torn_tail(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=repr, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8", opener=_private) as handle:
            handle.write(line + "\n")

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        self._write({"event": "value", "name": name, "data": data, "step": step})

    def log_step(self, record: dict[str, Any]) -> None:
        self._write({"event": "step", **record})

    def log_event(self, event: str, record: dict[str, Any]) -> None:
        self._write({"event": event, **record})


class CompositeLogger(BaseLogger):
    """Sends everything to several loggers."""

    def __init__(self, *loggers: BaseLogger) -> None:
        super().__init__()
        self.loggers = [item for item in loggers if item is not None]

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        for item in self.loggers:
            item.log(name, data, step, **kwargs)

    def log_step(self, record: dict[str, Any]) -> None:
        for item in self.loggers:
            item.log_step(record)

    def log_event(self, event: str, record: dict[str, Any]) -> None:
        for item in self.loggers:
            item.log_event(event, record)

    def close(self) -> None:
        for item in self.loggers:
            item.close()


def _require(module: str, logger: str, install: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise LoggerUnavailableError(
            f"{logger} needs the {install.split()[-1]} package, which is not installed: {install}"
        ) from error


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class TensorboardLogger(BaseLogger):
    """Scalars (and text for other values) to TensorBoard, through tensorboardX.

    Args:
        log_dir: where the event files go.
        verbose: also print every value to the console, as ``ConsoleLogger`` does.
        **kwargs: passed to tensorboardX's ``SummaryWriter``.
    """

    def __init__(
        self, log_dir: str | os.PathLike = "./logs", verbose: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(log_dir)
        module = _require("tensorboardX", "TensorboardLogger", "pip install tensorboardX")
        self.verbose = verbose
        self._echo = _ConsoleEcho(verbose)
        self.writer = module.SummaryWriter(str(log_dir), **kwargs)

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        self._echo.echo(name, data, step, **kwargs)
        if _is_number(data):
            self.writer.add_scalar(name, data, step)
        else:
            self.writer.add_text(name, str(data), step)

    def close(self) -> None:
        self.writer.close()


class WandbLogger(BaseLogger):
    """Values to Weights & Biases.

    Args:
        log_dir: wandb's ``dir``.
        verbose: also print every value to the console, as ``ConsoleLogger`` does.
        project, name: the wandb project and run name.
        **kwargs: passed to ``wandb.init``.
    """

    def __init__(
        self,
        log_dir: Any = None,
        verbose: bool = True,
        project: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log_dir)
        self.wandb = _require("wandb", "WandbLogger", "pip install wandb")
        self.verbose = verbose
        self._echo = _ConsoleEcho(verbose)
        self.run = self.wandb.init(project=project, name=name, dir=log_dir, **kwargs)

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        self._echo.echo(name, data, step, **kwargs)
        self.wandb.log({name: data if _is_number(data) else str(data)}, step=step)

    def log_step(self, record: dict[str, Any]) -> None:
        values = {k: record[k] for k in STEP_FIELDS if _is_number(record.get(k))}
        self.wandb.log(values, step=record["step"])

    def close(self) -> None:
        self.wandb.finish()


class MLflowLogger(BaseLogger):
    """Metrics to MLflow (numbers as metrics, other values as text artifacts).

    Args:
        log_dir: accepted like any logger's; MLflow decides where its files go.
        experiment_name: the MLflow experiment (None: MLflow's active one).
        run_name: the name of the MLflow run this logger starts.
        tracking_uri: the MLflow server or folder (None: MLflow's default).
        **kwargs: passed to ``mlflow.start_run``.
    """

    def __init__(
        self,
        log_dir: Any = None,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tracking_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log_dir)
        self.mlflow = _require("mlflow", "MLflowLogger", "pip install mlflow")
        if tracking_uri:
            self.mlflow.set_tracking_uri(tracking_uri)
        if experiment_name:
            self.mlflow.set_experiment(experiment_name)
        self.run = self.mlflow.start_run(run_name=run_name, **kwargs)

    def log(self, name: str, data: Any, step: int, **kwargs: Any) -> None:
        if _is_number(data):
            self.mlflow.log_metric(name, data, step=step)
        else:
            self.mlflow.log_text(str(data), f"{name}/step_{step}.txt")

    def log_step(self, record: dict[str, Any]) -> None:
        values = {k: record[k] for k in STEP_FIELDS if _is_number(record.get(k))}
        self.mlflow.log_metrics(values, step=record["step"])

    def close(self) -> None:
        self.mlflow.end_run()
