"""Running a model over a dataset in parallel, through any ``concurrent.futures.Executor``.

Threads by default (models mostly wait on LLM calls); a ``ProcessPoolExecutor`` for CPU-bound
models; Dask distributed's ``client.get_executor()`` for a cluster. One knob, ``num_threads``,
bounds how many examples are in flight. An exception in one example becomes that example's
error feedback (at ``min_score``); errors that concern the whole run (budget, credentials, no
model configured) stop it. Results come back in input order.

Other processes get the model and guide pickled once per call and a parameter snapshot per
candidate; each worker unpickles a payload once and keeps a few in memory. What a remote
example spent on LLM calls comes back with its result and is added to this process's usage
ledger and open budgets, so run totals and ``max_cost`` include it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import pickle
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from opto.llm.budget import active_budgets
from opto.llm.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BudgetError,
    LLMNotConfiguredError,
    MalformedResponseError,
    NotFoundError,
    ReplayError,
    ScriptExhaustedError,
)
from opto.llm.usage import UsageStats, add_remote_usage, usage_scope
from opto.trace.errors import ExecutionError
from opto.trace.graph import stop_tracing
from opto.trace.nodes import Node
from opto.trainer.objectives import aggregate_score_dicts
from opto.trainer.snapshots import materialize, snapshot_key
from opto.utils.rendering import render_text

RUN_STOPPING_ERRORS: tuple[type[BaseException], ...] = (
    BudgetError,
    LLMNotConfiguredError,
    BackendUnavailableError,
    AuthenticationError,
    NotFoundError,
    MalformedResponseError,
    ScriptExhaustedError,
    ReplayError,
)
"""Errors that are about the run, not the example: they are raised, not scored."""


@dataclass
class ExampleResult:
    """One example's outcome: score (number, dict or None), feedback text, error if it failed."""

    score: Any
    feedback: str = ""
    error: str | None = None


def score_example(
    agent: Any, guide: Any, x: Any, info: Any, mode: str = "feedback", min_score: Any = None
) -> ExampleResult:
    """Run ``agent(x)`` and ask the ``guide`` about the output given the example's ``info``;
    a failure is scored ``min_score`` with its message.

    ``mode`` picks what the guide gives: ``"feedback"`` (score and feedback), ``"metric"``
    (the score alone) or ``"vector"`` (a score dict). Tracing is off: nothing is learned here.
    """
    try:
        with stop_tracing():
            output = agent(x)
            response = output.data if isinstance(output, Node) else output
            if mode == "metric":
                return ExampleResult(guide.metric(x, response, info))
            if mode == "vector":
                return ExampleResult(guide.get_score_dict(x, response, info))
            score, feedback = guide(x, response, info)
            return ExampleResult(score, render_text(feedback))
    except ExecutionError as error:
        failure = error.exception_node
        return ExampleResult(min_score, failure.create_feedback("full"), failure.data)
    except RUN_STOPPING_ERRORS:
        raise
    except Exception as error:
        text = f"({type(error).__name__}) {render_text(error)}"
        return ExampleResult(min_score, text, text)


def standard_forward(agent: Any, x: Any, guide: Any, info: Any, min_score: Any = 0) -> tuple:
    """Traced forward for a training step: ``(output node, score, feedback)``.

    ``agent(x)`` is run with tracing on and ``guide`` judges its output against ``info``.

    A traced error makes the exception node the output, scored ``min_score``, with the
    annotated code as feedback, so the optimizer can fix the error.
    """
    try:
        target = agent(x)
        score, feedback = guide(x, target.data if isinstance(target, Node) else target, info)
    except ExecutionError as error:
        target = error.exception_node
        score, feedback = min_score, target.create_feedback("full")
    return target, score, render_text(feedback)


def evaluate(
    agent: Any,
    guide: Any,
    inputs: Sequence,
    infos: Sequence,
    min_score: Any = None,
    num_samples: int = 1,
    num_threads: int | None = None,
    description: str | None = None,
    *,
    executor: Executor | None = None,
    progress: bool | None = None,
) -> Any:
    """Score ``agent`` on every input with ``guide.metric``, in parallel, in input order.

    ``inputs`` and ``infos`` pair up (an info is what the guide compares against);
    ``num_threads`` bounds the runs in flight; ``description`` labels the progress bar.

    Returns a ``Scores`` numpy array (see ``opto.trainer.scores``): shape ``(N,)``, or
    ``(N, num_samples)`` when each input runs ``num_samples`` times; a failed run scores
    ``min_score``. ``executor`` and ``progress`` are those of ``score_jobs``.
    """
    from opto.trainer.scores import Scores  # numpy loads with the first evaluation

    results = rollouts(
        agent,
        guide,
        inputs,
        infos,
        mode="metric",
        min_score=min_score,
        num_samples=num_samples,
        num_threads=num_threads,
        executor=executor,
        progress=progress,
        description=description,
    )[0]
    values = [r.score for r in results]
    if num_samples > 1:
        values = [values[i : i + num_samples] for i in range(0, len(values), num_samples)]
    return Scores(values, [r.feedback for r in results], [r.error for r in results])


def evaluate_vector(
    agent: Any,
    guide: Any,
    inputs: Sequence,
    infos: Sequence,
    min_score: Any = None,
    num_threads: int | None = None,
    description: str | None = None,
    *,
    executor: Executor | None = None,
    progress: bool | None = None,
) -> list[dict[str, float]]:
    """Like ``evaluate`` with ``guide.get_score_dict``: one ``{metric: value}`` per input.

    ``agent`` runs on ``inputs``, judged against ``infos``, ``num_threads`` at once;
    ``description`` labels the progress bar; ``executor`` and ``progress`` are those of
    ``score_jobs``.

    A failed example gets ``min_score`` (a dict, or a number as ``{"score": n}``; default
    ``{"score": -inf}``).
    """
    if min_score is None:
        fallback = {"score": float("-inf")}
    else:
        fallback = dict(min_score) if isinstance(min_score, dict) else {"score": float(min_score)}
    results = rollouts(
        agent,
        guide,
        inputs,
        infos,
        mode="vector",
        min_score=fallback,
        num_threads=num_threads,
        executor=executor,
        progress=progress,
        description=description,
    )[0]
    return [dict(r.score) for r in results]


def aggregate_vector_scores(score_dicts: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over ``score_dicts``, a list of score dicts."""
    return aggregate_score_dicts(score_dicts)


class RemotePayload:
    """The model ``agent`` and the ``guide`` pickled once, to send to other processes with
    each task (pickling them per example would cost more than many examples do)."""

    def __init__(self, agent: Any, guide: Any) -> None:
        try:
            self.data = pickle.dumps((agent, guide), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise TypeError(
                f"the model and guide must pickle to be evaluated in other processes ({error}); "
                "define their classes and functions at module level, or use threads"
            ) from error
        self.key = hashlib.sha256(self.data).hexdigest()[:16]


def rollouts(
    agent: Any,
    guide: Any,
    inputs: Sequence,
    infos: Sequence,
    *,
    snapshots: Sequence[dict | None] = (None,),
    num_samples: int = 1,
    **options: Any,
) -> list[list[ExampleResult]]:
    """Results per snapshot (None: the model as it is), per example (x ``num_samples``).

    ``agent`` runs on ``inputs``, each judged by ``guide`` against its entry of ``infos``;
    ``snapshots`` are the parameter values to run with. ``options`` are those of
    ``score_jobs``.
    """
    if len(inputs) != len(infos):
        raise ValueError(f"{len(inputs)} inputs but {len(infos)} infos: they must pair up")
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    xs = [x for x in inputs for _ in range(num_samples)]
    refs = [info for info in infos for _ in range(num_samples)]
    if options.get("description") is None:
        options["description"] = f"Evaluating {len(inputs)} examples"
    return score_jobs(agent, guide, [(s, xs, refs) for s in snapshots], **options)


def score_jobs(
    agent: Any,
    guide: Any,
    jobs: Sequence[tuple[dict | None, Sequence, Sequence]],
    *,
    mode: str = "feedback",
    min_score: Any = None,
    num_threads: int | None = None,
    executor: Executor | None = None,
    progress: bool | None = None,
    description: str = "Evaluating",
    payload: RemotePayload | None = None,
) -> list[list[ExampleResult]]:
    """Score several ``(snapshot, inputs, infos)`` jobs at once (one pool of work).

    In this process each snapshot is applied to its own copy of the model; for other
    processes the model and guide travel pickled once (``payload``) plus the snapshot.

    ``agent`` is the model and ``guide`` the judge; ``mode`` is that of ``score_example``;
    a failed example scores ``min_score``. Without ``executor`` the work runs on a thread
    pool of ``num_threads``; a process pool or Dask executor sends it elsewhere.
    ``progress`` shows a progress bar labelled ``description`` (None: when on a terminal).
    """
    remote = not (executor is None or isinstance(executor, ThreadPoolExecutor))
    if not remote:
        calls = []
        for snapshot, xs, refs in jobs:
            model = agent if snapshot is None else materialize(agent, snapshot)
            calls.extend(
                (score_example, (model, guide, x, info, mode, min_score))
                for x, info in zip(xs, refs, strict=True)
            )
    else:
        payload = payload or RemotePayload(agent, guide)
        batch = secrets.token_hex(8)  # unique per call: Dask would merge "pure" equal tasks
        calls = []
        for snapshot, xs, refs in jobs:
            key = snapshot_key(snapshot)
            for x, info in zip(xs, refs, strict=True):
                call_id = f"{batch}-{len(calls)}"
                arguments = (payload.data, payload.key, snapshot, key, mode, x, info, min_score)
                calls.append((_remote_score, (*arguments, call_id)))
    flat = run_calls(calls, executor, num_threads, progress, description)
    if remote:
        flat = [_count_remote_usage(*answer) for answer in flat]
    results, position = [], 0
    for _, xs, _ in jobs:
        results.append(flat[position : position + len(xs)])
        position += len(xs)
    return results


def run_calls(
    calls: list[tuple[Callable, tuple]],
    executor: Executor | None,
    num_threads: int | None,
    progress: bool | None,
    description: str,
) -> list:
    """``[fn(*args) ...]`` for the ``(fn, args)`` pairs of ``calls``, in parallel, at most
    ``num_threads`` in flight, in call order; on ``executor`` if given, else on a thread pool.
    ``progress`` shows a progress bar labelled ``description``."""
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    if executor is None:
        workers = num_threads or min(32, (os.cpu_count() or 1) + 4)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="opto-eval") as pool:
            return _drain(calls, pool, workers, progress, description)
    return _drain(calls, executor, num_threads or len(calls), progress, description)


def _drain(
    calls: list, executor: Executor, window: int, progress: bool | None, description: str
) -> list:
    results: list = [None] * len(calls)
    pending: dict[Future, int] = {}
    position = 0
    with _progress_bar(len(calls), description, progress) as advance:
        try:
            while position < len(calls) or pending:
                while position < len(calls) and len(pending) < window:
                    function, args = calls[position]
                    if isinstance(executor, ThreadPoolExecutor):  # the run's cache, budget, usage
                        function, args = contextvars.copy_context().run, (function, *args)
                    pending[executor.submit(function, *args)] = position
                    position += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[pending.pop(future)] = future.result()
                    advance()
        finally:
            for future in pending:
                future.cancel()
    return results


@contextlib.contextmanager
def _progress_bar(total: int, description: str, enabled: bool | None) -> Iterator[Callable]:
    """A rich progress bar on stderr (by default only when stderr is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


_WORKER_OBJECTS: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()
_WORKER_LOCK = threading.Lock()
_WORKER_KEEP = 8


def _remote_score(
    data: bytes,
    key: str,
    snapshot: dict | None,
    snap_key: str,
    mode: str,
    x: Any,
    info: Any,
    min_score: Any,
    call_id: str = "",
) -> ExampleResult:
    """Runs in a worker: unpickle the payload once, apply the snapshot to a copy, score.

    Returns the result, the LLM usage of this example and the worker's process id.
    ``call_id`` is unused here; it makes every task distinct, since Dask runs tasks with equal
    arguments only once and repeated samples of one example must each run.
    """
    with _WORKER_LOCK:
        objects = _WORKER_OBJECTS.get((key, snap_key))
        if objects is None:
            base = _WORKER_OBJECTS.get((key, ""))
            if base is None:
                base = pickle.loads(data)
                _WORKER_OBJECTS[(key, "")] = base
            agent = base[0] if snapshot is None else materialize(base[0], snapshot)
            objects = (agent, base[1])
            _WORKER_OBJECTS[(key, snap_key)] = objects
        _WORKER_OBJECTS.move_to_end((key, snap_key))
        while len(_WORKER_OBJECTS) > _WORKER_KEEP:
            _WORKER_OBJECTS.popitem(last=False)
    # A context of its own: the caller adds this usage to its run, so it is never counted twice.
    return contextvars.Context().run(_score_counted, *objects, x, info, mode, min_score)


def _score_counted(
    agent: Any, guide: Any, x: Any, info: Any, mode: str, min_score: Any
) -> tuple[ExampleResult, dict[str, UsageStats], int]:
    with usage_scope() as spent:
        result = score_example(agent, guide, x, info, mode, min_score)
    return result, spent.by_model, os.getpid()


def _count_remote_usage(
    result: ExampleResult, usage: dict[str, UsageStats], pid: int
) -> ExampleResult:
    """Add a worker's usage to the run's ledgers and budgets (and to this process's ledger when
    the worker was another process)."""
    if usage:
        add_remote_usage(usage, counted_here=pid == os.getpid())
        for scope in active_budgets():
            scope.charge(sum(s.cost for s in usage.values()), sum(s.calls for s in usage.values()))
    return result
