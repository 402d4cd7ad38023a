"""A training run directory, read without trusting it (see ``opto.trainer.checkpoint``).

``read_run(path)`` returns a ``TrainingRun``: configuration, checkpoint, step records,
events, proposals and the best model, each field checked. A missing directory, one that holds
no run, or a damaged ``config.json``/``checkpoint.json`` is a ``RunFileError`` with a message;
a damaged line of ``run.jsonl``/``proposals.jsonl`` (a kill can tear the last one) or a
damaged ``best_model.json`` is skipped and listed in ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opto.report.values import (
    RunFileError,
    integer,
    load_json_text,
    mapping,
    mean_scores,
    number,
    number_map,
    read_json_object,
    read_text,
    text,
    text_list,
)
from opto.trainer.checkpoint import CHECKPOINT_FORMAT, RunDirectory

MODULE_FORMAT = "opto.module/1"


@dataclass
class StepRow:
    """One step record of ``run.jsonl``.

    ``step`` and ``epoch`` place it; ``train``, ``validation``, ``best`` and ``test`` are
    the scores of that step (None when not measured) and ``best_scores`` the best
    candidate's score per metric; ``calls``, ``tokens`` and ``cost`` the run's totals so far
    (``cost`` None when unknown) and ``elapsed`` its seconds; ``candidate`` the current
    candidate's id and ``pool_size`` how many candidates are kept.
    """

    step: int
    epoch: int | None
    train: float | None
    validation: float | None
    best: float | None
    test: float | None
    best_scores: dict[str, float]
    calls: int
    tokens: int
    cost: float | None
    elapsed: float | None
    candidate: int | None
    pool_size: int | None


@dataclass
class CallView:
    """The optimizer's exchange with the model in one proposal.

    ``system_prompt`` and ``user_prompt`` are what was sent and ``response`` the reply;
    ``reasoning`` and ``suggestion`` what was parsed from it; ``applied`` the values written,
    ``refused`` the refused ones with why, ``unknown`` names that are no parameter;
    ``terminated`` says the LLM answered TERMINATE (nothing to change); ``error`` why the step
    produced no suggestion, if it did; ``usage`` its tokens and cost.
    """

    system_prompt: str
    user_prompt: str
    response: str
    reasoning: str
    suggestion: Any
    applied: dict[str, Any]
    refused: dict[str, str]
    unknown: list[str]
    terminated: bool
    error: str
    usage: dict[str, float]


@dataclass
class GraphView:
    """A step's trace graph: ``nodes`` (name, kind, description, value) and ``edges`` by
    node name; ``omitted`` counts the nodes left out of a graph too large to draw."""

    nodes: list[dict[str, str]]
    edges: list[tuple[str, str]]
    omitted: int = 0


@dataclass
class ProposalRow:
    """One optimizer step of ``proposals.jsonl``.

    ``step`` is the training step and ``index`` the proposal's position within it;
    ``optimizer`` the optimizer's class; ``parent`` the candidate it started from and
    ``child`` the candidate it made (None when nothing new); ``call`` its exchange with the
    model; ``before`` and ``after`` the parameter values (``after`` None when unchanged);
    ``graph`` the trace graph it saw.
    """

    step: int
    index: int
    optimizer: str
    parent: int | None
    child: int | None
    call: CallView | None
    before: dict[str, Any]
    after: dict[str, Any] | None
    graph: GraphView | None


@dataclass
class CandidateRow:
    """A candidate kept in the last checkpoint's pool, with its mean ``scores`` per metric;
    ``id`` is its number, ``parent`` the candidate it came from and ``step`` when."""

    id: int
    parent: int | None
    step: int
    scores: dict[str, float]


@dataclass
class TrainingRun:
    """Everything a run directory says, checked (see the module docstring).

    ``path`` is the directory; ``algorithm``, ``options`` and ``components`` come from
    ``config.json``; ``checkpoint_step``, ``stopped``, ``usage``, ``elapsed``,
    ``candidates`` and ``current`` (the current candidate's id) from the last checkpoint;
    ``steps``, ``events`` and ``proposals`` from the logs; ``best_model`` is the saved model
    file and ``best_parameters`` its values; ``problems`` lists what was skipped as damaged.
    """

    path: Path
    algorithm: str = "?"
    options: dict[str, Any] = field(default_factory=dict)
    components: dict[str, Any] = field(default_factory=dict)
    checkpoint_step: int | None = None
    stopped: str | None = None
    usage: dict[str, float] = field(default_factory=dict)
    elapsed: float | None = None
    candidates: list[CandidateRow] = field(default_factory=list)
    current: int | None = None
    steps: list[StepRow] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[ProposalRow] = field(default_factory=list)
    best_model: Path | None = None
    best_parameters: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``completed``, ``stopped by its budget``, ``interrupted`` or ``not started``."""
        if self.checkpoint_step is None:
            return "not started" if not self.steps else "interrupted (no checkpoint)"
        if self.stopped == "completed":
            return "completed"
        if self.stopped == "budget":
            return "stopped by its budget"
        if self.stopped:
            return f"stopped ({self.stopped})"
        return f"interrupted (last checkpoint at step {self.checkpoint_step})"

    @property
    def stop_reason(self) -> str:
        """The message of the last ``stop`` event, e.g. the budget that ran out."""
        for event in reversed(self.events):
            if event["event"] == "stop":
                return event["message"]
        return ""

    @property
    def best_score(self) -> float | None:
        """The best score at the last recorded step (None before any step)."""
        return self.steps[-1].best if self.steps else None

    @property
    def total_steps(self) -> int | None:
        """The configured number of steps (None when the run counts epochs instead)."""
        return integer(self.options.get("num_steps"))


def read_run(path: str | Path) -> TrainingRun:
    """Read the run directory at ``path`` (see the module docstring)."""
    files = RunDirectory(path)
    if not files.path.exists():
        raise RunFileError(f"{files.path} does not exist")
    if not files.path.is_dir():
        raise RunFileError(f"{files.path} is not a directory")
    present = [p for p in (files.config_path, files.checkpoint_path, files.log_path) if p.exists()]
    if not present:
        raise RunFileError(
            f"{files.path} is not an opto training run: it has no config.json, checkpoint.json "
            "or run.jsonl"
        )
    run = TrainingRun(path=files.path)
    if files.config_path.exists():
        _read_config(run, read_json_object(files.config_path, "run configuration"))
    if files.checkpoint_path.exists():
        _read_checkpoint(run, read_json_object(files.checkpoint_path, "checkpoint"), files)
    for line_number, record in _json_lines(files.log_path, run.problems):
        _read_log_record(run, record, line_number)
    run.proposals = _latest_attempts(
        [_proposal(r) for _, r in _json_lines(files.proposals_path, run.problems)]
    )
    if files.model_path.exists():
        _read_best_model(run, files.model_path)
    return run


def _read_config(run: TrainingRun, config: dict[str, Any]) -> None:
    run.algorithm = text(config.get("algorithm")) or "?"
    run.options = mapping(config.get("options"))
    run.components = mapping(config.get("components"))


def _read_checkpoint(run: TrainingRun, document: dict[str, Any], files: RunDirectory) -> None:
    if document.get("format") != CHECKPOINT_FORMAT:
        raise RunFileError(
            f"{files.checkpoint_path} is not an opto trainer checkpoint ({CHECKPOINT_FORMAT})"
        )
    run.checkpoint_step = integer(document.get("step"))
    if run.checkpoint_step is None:
        raise RunFileError(f"{files.checkpoint_path} is damaged: it has no step number")
    stopped = document.get("stopped")
    run.stopped = stopped if isinstance(stopped, str) else None
    run.usage = number_map(document.get("usage"))
    run.elapsed = number(document.get("elapsed_s"))
    pool = mapping(document.get("pool"))
    run.current = integer(pool.get("current"))
    for item in pool.get("candidates") if isinstance(pool.get("candidates"), list) else []:
        item = mapping(item)
        identifier = integer(item.get("id"))
        if identifier is None:
            continue
        validation = list(mapping(item.get("validation")).values())
        rollouts = item.get("rollouts") if isinstance(item.get("rollouts"), list) else []
        run.candidates.append(
            CandidateRow(
                id=identifier,
                parent=integer(item.get("parent")),
                step=integer(item.get("step")) or 0,
                scores=mean_scores(validation or rollouts),
            )
        )


def _json_lines(path: Path, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSON-lines file, with their line numbers; bad lines noted."""
    if not path.exists():
        return []
    try:
        content = read_text(path, "log")
    except RunFileError as error:
        problems.append(str(error))
        return []
    records = []
    bad = []
    for number_, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = load_json_text(line)
        except ValueError:
            bad.append(number_)
            continue
        if isinstance(record, dict):
            records.append((number_, record))
        else:
            bad.append(number_)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
        problems.append(f"{path.name}: {len(bad)} damaged line(s) skipped (line {shown})")
    return records


def _read_log_record(run: TrainingRun, record: dict[str, Any], line_number: int) -> None:
    event = record.get("event")
    if event == "step":
        step = integer(record.get("step"))
        if step is None:
            run.problems.append(f"run.jsonl line {line_number}: a step record without a step")
            return
        run.steps = [row for row in run.steps if row.step < step]  # a resumed run repeats steps
        run.steps.append(
            StepRow(
                step=step,
                epoch=integer(record.get("epoch")),
                train=number(record.get("train_score")),
                validation=number(record.get("validation_score")),
                best=number(record.get("best_score")),
                test=number(record.get("test_score")),
                best_scores=number_map(record.get("best_scores")),
                calls=integer(record.get("calls")) or 0,
                tokens=integer(record.get("tokens")) or 0,
                cost=number(record.get("cost")),
                elapsed=number(record.get("elapsed_s")),
                candidate=integer(record.get("candidate")),
                pool_size=integer(record.get("pool_size")),
            )
        )
    elif isinstance(event, str) and event != "value":
        run.events.append(
            {
                "event": event,
                "step": integer(record.get("step")),
                "message": text(record.get("message")),
            }
        )


def _proposal(record: dict[str, Any]) -> ProposalRow | None:
    step = integer(record.get("step"))
    if record.get("event") != "proposal" or step is None:
        return None
    after = record.get("after")
    return ProposalRow(
        step=step,
        index=integer(record.get("index")) or 0,
        optimizer=text(record.get("optimizer")),
        parent=integer(record.get("parent")),
        child=integer(record.get("child")),
        call=_call(record.get("call")),
        before=mapping(record.get("before")),
        after=mapping(after) if isinstance(after, dict) else None,
        graph=_graph(record.get("graph")),
    )


def _call(value: Any) -> CallView | None:
    if not isinstance(value, dict):
        return None
    return CallView(
        system_prompt=text(value.get("system_prompt")),
        user_prompt=text(value.get("user_prompt")),
        response=text(value.get("response")),
        reasoning=text(value.get("reasoning")),
        suggestion=value.get("suggestion"),
        applied=mapping(value.get("applied")),
        refused={key: text(reason) for key, reason in mapping(value.get("refused")).items()},
        unknown=text_list(value.get("unknown")),
        terminated=value.get("terminated") is True,
        error=text(value.get("error")),
        usage=number_map(value.get("usage")),
    )


def _graph(value: Any) -> GraphView | None:
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        return None
    nodes = []
    for item in value["nodes"]:
        item = mapping(item)
        name = text(item.get("name"))
        if name:
            nodes.append(
                {key: text(item.get(key)) for key in ("name", "kind", "description", "value")}
            )
    names = {node["name"] for node in nodes}
    edges = []
    for edge in value.get("edges") if isinstance(value.get("edges"), list) else []:
        if isinstance(edge, list) and len(edge) == 2 and all(e in names for e in edge):
            edges.append((edge[0], edge[1]))
    return GraphView(nodes, edges, integer(value.get("omitted")) or 0) if nodes else None


def _latest_attempts(rows: list[ProposalRow | None]) -> list[ProposalRow]:
    """Drop the proposals of a step's earlier attempt when a resumed run ran the step again."""
    kept: list[ProposalRow] = []
    for row in rows:
        if row is None:
            continue
        if row.index == 0:
            kept = [r for r in kept if r.step != row.step]
        kept.append(row)
    return sorted(kept, key=lambda r: (r.step, r.index))


def _read_best_model(run: TrainingRun, path: Path) -> None:
    try:
        document = read_json_object(path, "saved model")
    except RunFileError as error:
        run.problems.append(str(error))
        return
    if document.get("format") != MODULE_FORMAT:
        run.problems.append(f"{path} is not an opto module file ({MODULE_FORMAT})")
        return
    run.best_model = path
    run.best_parameters = mapping(document.get("parameters"))
