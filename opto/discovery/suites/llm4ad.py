"""The algorithm-design tasks of LLM4AD (Liu et al., 2024), with the suite's own data and scorer.

LLM4AD (PyPI ``llm4ad``) ships, per task, a template program (the function to design, with a
working baseline body), a task description, and an ``Evaluation`` class that generates or loads
the task's instances and scores a heuristic (higher is better: online bin packing scores minus
the mean number of bins used over five Weibull instances of 5,000 items; TSP construction scores
minus the mean tour length over sixteen 50-city instances). :class:`LLM4ADTask` runs a
candidate's code in opto's sandbox and hands the function to that ``Evaluation`` there; opto
adds only the static check before, and the reading of the answer after.

The package is optional (the ``tasks`` extra) and imported only when a task is made. It needs
Python < 3.13 (the package says so), and its declared dependencies include torch and numba,
which its task evaluators never import; see docs/discovery.md for how opto's lock leaves them
out.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import re
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from opto.discovery.suites.result import SuiteUnavailableError, TaskResult

INSTALL_HINT = "pip install 'opto[tasks]' (or pip install llm4ad==1.11)"
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
_ENTRY = "_opto_llm4ad_entry"
_DRIVER = """

def {entry}(settings):
    from opto.discovery.suites.llm4ad_worker import score_program
    return score_program({function}, settings)
"""


def _bins_floor(options: Mapping[str, Any]) -> float:
    return -float(options["n_items"])


def _tour_floor(options: Mapping[str, Any]) -> float:
    return -float(options["problem_size"]) * math.sqrt(2.0)


# Tasks whose worst valid score is known, so that a broken candidate can be ranked below every
# working one without the caller choosing a number: (floor from the evaluation's options, why).
KNOWN_FLOORS: dict[str, tuple[Callable[[Mapping[str, Any]], float], str]] = {
    "online_bin_packing": (_bins_floor, "every item in a bin of its own"),
    "tsp_construct": (_tour_floor, "every edge as long as the unit square's diagonal"),
}


def default_policy():
    """The sandbox of one evaluation: the suite's import takes about 3 s, its scoring a few more."""
    from opto.runtime import SubprocessPolicy

    return SubprocessPolicy(wall_time=120, cpu_time=120, memory="2GiB", echo_output=False)


class LLM4ADTask:
    """One LLM4AD task (e.g. ``"online_bin_packing"``, ``"tsp_construct"``) as a discovery task.

    Arguments:
        name: the task's package under ``llm4ad.task.optimization`` (``"online_bin_packing"``),
            or ``"family.task"`` under ``llm4ad.task`` (``"science_discovery.ode_1d"``).
        options: keyword arguments for the suite's ``Evaluation`` class (for example
            ``{"n_instances": 2, "n_items": 500}`` for a quicker bin-packing score); unknown
            names are refused here rather than in the sandbox.
        failure_score: the score an invalid or failed candidate is ranked at by
            :meth:`__call__`; by default the task's worst valid score (:data:`KNOWN_FLOORS`),
            and required for tasks without one.
        policy: the execution policy of one evaluation (:func:`default_policy` when None).
        static_check: refuse, before running, code that imports modules other than numpy and
            the runtime's harmless standard modules, opens files, execs, and so on.

    Raises :class:`SuiteUnavailableError` when llm4ad (or the task) is missing.
    """

    def __init__(
        self,
        name: str,
        *,
        options: Mapping[str, Any] | None = None,
        failure_score: float | None = None,
        policy: Any = None,
        static_check: bool = True,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"an LLM4AD task name is like 'online_bin_packing', not {name!r}")
        self.name = name
        self.module = "llm4ad.task." + (name if "." in name else f"optimization.{name}")
        package = _import(self.module)
        self.evaluation = _evaluation_class(package, self.module)
        self.seed_code = textwrap.dedent(package.template_program).strip() + "\n"
        template = _import(f"{self.module}.template")
        self.description = " ".join(str(getattr(template, "task_description", "")).split())
        self.function_name = _template_function(self.seed_code, self.module)
        self.options = _checked_options(getattr(package, self.evaluation), options, name)
        self.failure_score = _failure_score(name, self.options, failure_score)
        self.policy = policy or default_policy()
        self.static_check = static_check

    def __repr__(self) -> str:
        return f"LLM4ADTask({self.name!r})"

    def to_dict(self) -> dict[str, Any]:
        """The settings that make scores comparable (for an archive or a run record)."""
        return {
            "suite": "llm4ad",
            "task": self.name,
            "options": dict(self.options),
            "failure_score": self.failure_score,
        }

    def describe(self) -> str:
        """The task for a proposer: the suite's description, the interface, how it is scored."""
        return (
            f"{self.description}\n\n"
            f"Write a Python function `{self.function_name}` with exactly the signature of this "
            "template (its body is a working baseline):\n\n"
            f"```python\n{self.seed_code}```\n\n"
            "Only numpy and harmless standard modules may be imported; no files, processes or "
            f"network. The LLM4AD suite's own evaluator ({self.evaluation}) runs the function "
            "on its instances and returns the score: higher is better."
        )

    def evaluate(self, code: str) -> TaskResult:
        """Score ``code`` (a module defining the task's function) with the suite's evaluator.

        The code never runs in this process: it runs with a two-line driver in a fresh sandbox
        child, which builds the suite's ``Evaluation`` and calls its ``evaluate_program``.
        """
        started = time.monotonic()
        result = self._stages(code)
        return TaskResult(result.status, result.score, result.stage, result.error, _since(started))

    def __call__(self, candidate: str) -> tuple[float, dict[str, Any]]:
        """``(score, side_info)`` for ``candidate``, the shape GEPA's evaluators return.

        An invalid or failed candidate scores :attr:`failure_score`; ``side_info`` holds the
        status, the error, the suite's raw score when there is one, and the feedback text.
        """
        result = self.evaluate(candidate)
        info = result.side_info()
        info["feedback"] = result.feedback(None if result.valid else self.failure_score)
        return (result.score if result.valid else self.failure_score), info

    def _stages(self, code: str) -> TaskResult:
        if not isinstance(code, str):
            return TaskResult(
                "invalid", None, "static", f"the candidate is a {type(code).__name__}"
            )
        problem = self._static_problem(code)
        if problem is not None:
            return TaskResult("invalid", None, "static", problem)
        from opto.runtime import SandboxError, feedback_text, run_function

        source = (
            code.rstrip("\n") + "\n" + _DRIVER.format(entry=_ENTRY, function=self.function_name)
        )
        settings = {
            "module": self.module,
            "evaluation": self.evaluation,
            "options": self.options,
            "code": code,
            "font_cache": _font_cache(),
        }
        try:
            answer = run_function(source, _ENTRY, (settings,), policy=self.policy)
        except SandboxError as error:
            return TaskResult("failed", None, "evaluate", f"Stopped: {feedback_text(error)}")
        except Exception as error:  # the candidate's own exception, or the scorer's on its output
            return TaskResult(
                "invalid", None, "evaluate", f"The code raised: {feedback_text(error)}"
            )
        return _read_answer(answer)

    def _static_problem(self, code: str) -> str | None:
        from opto.utils.source_analysis import parse

        try:
            tree = parse(code, "<candidate>")
        except SyntaxError as error:
            where = f" at line {error.lineno}" if error.lineno else ""
            return f"SyntaxError{where}: {error.msg}."
        defined = [
            s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        if self.function_name not in defined:
            found = ", ".join(defined) or "none"
            return (
                f"the code must define a top-level function `{self.function_name}` with the "
                f"template's signature; functions found: {found}."
            )
        if not self.static_check:
            return None
        from opto.runtime.errors import UnsafeCodeError
        from opto.runtime.static_check import StaticChecker
        from opto.runtime.static_rules import DEFAULT_ALLOWED_IMPORTS

        checker = StaticChecker(allowed_imports=DEFAULT_ALLOWED_IMPORTS | {"numpy"})
        violations = checker.check(code, filename="<candidate>")
        return str(UnsafeCodeError(violations)) if violations else None


def _read_answer(answer: Any) -> TaskResult:
    """The sandbox child's answer, refused unless it has the worker's shape (the child ran
    untrusted code, so its answer is only data)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        return TaskResult("failed", None, "evaluate", f"The sandbox returned {answer!r:.200}.")
    if not answer["ok"]:
        error = answer.get("error")
        text = error if isinstance(error, str) else "(no reason given)"
        return TaskResult("invalid", None, "evaluate", f"The suite's scorer refused it: {text}.")
    score = answer.get("score")
    if type(score) not in (int, float) or not math.isfinite(score):
        return TaskResult("failed", None, "evaluate", f"The sandbox returned score {score!r:.100}.")
    return TaskResult("valid", float(score))


def _import(module: str):
    try:
        importlib.import_module("llm4ad")
    except ImportError as error:
        missing = f" ({error.name} is missing)" if error.name not in (None, "llm4ad") else ""
        raise SuiteUnavailableError(
            f"the LLM4AD tasks need the llm4ad package{missing}: {INSTALL_HINT}"
        ) from None
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and module.startswith(error.name) and error.name != "llm4ad":
            raise SuiteUnavailableError(
                f"llm4ad has no task module {module!r}; the optimization tasks are the folders "
                "of llm4ad/task/optimization"
            ) from None
        raise SuiteUnavailableError(
            f"importing {module} failed: {error.name} is missing ({INSTALL_HINT})"
        ) from None


def _evaluation_class(package: Any, module: str) -> str:
    """The name of the one ``llm4ad.base.Evaluation`` subclass the task package exports."""
    from llm4ad.base import Evaluation

    names = sorted(
        name
        for name, value in vars(package).items()
        if inspect.isclass(value) and issubclass(value, Evaluation) and value is not Evaluation
    )
    if len(names) != 1 or not hasattr(package, "template_program"):
        raise SuiteUnavailableError(
            f"{module} is not an LLM4AD task (expected one Evaluation class and a "
            f"template_program; found classes {names})"
        )
    return names[0]


def _template_function(template: str, module: str) -> str:
    functions = [s.name for s in ast.parse(template).body if isinstance(s, ast.FunctionDef)]
    if len(functions) != 1:
        raise SuiteUnavailableError(
            f"the template of {module} defines {functions}, not one function"
        )
    return functions[0]


def _checked_options(
    evaluation: type, options: Mapping[str, Any] | None, name: str
) -> dict[str, Any]:
    """The evaluation's keyword arguments: its defaults, updated with ``options``."""
    parameters = {
        key: p.default
        for key, p in inspect.signature(evaluation.__init__).parameters.items()
        if key != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
    }
    chosen = dict(options or {})
    unknown = sorted(set(chosen) - set(parameters))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for the LLM4AD task {name!r}; "
            f"its evaluation takes {sorted(parameters)}"
        )
    merged = {
        key: value for key, value in parameters.items() if value is not inspect.Parameter.empty
    }
    merged.update(chosen)
    return merged


def _failure_score(name: str, options: Mapping[str, Any], chosen: float | None) -> float:
    if chosen is not None:
        value = float(chosen)
        if not math.isfinite(value):
            raise ValueError(f"failure_score must be a finite number, got {chosen!r}")
        return value
    if name in KNOWN_FLOORS:
        return KNOWN_FLOORS[name][0](options)
    raise ValueError(
        f"the LLM4AD task {name!r} has no known worst score; pass failure_score= (the score a "
        "broken candidate is ranked at)"
    )


def _font_cache() -> list[str] | None:
    """The host's matplotlib font list as ``[file name, text]`` (see the worker), or None."""
    try:
        import matplotlib
        from matplotlib import font_manager  # builds the host's cache if it is missing
    except ImportError:
        return None
    del font_manager
    files = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    if not files:
        return None
    return [files[-1].name, files[-1].read_text(encoding="utf-8")]


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
