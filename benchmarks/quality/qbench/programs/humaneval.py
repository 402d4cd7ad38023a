"""HumanEval as code repair: trainable code, feedback from its failing visible tests, scored
on held-out tests. The code runs only in isolation (the side's sandbox or child process)."""

from __future__ import annotations

import ast
from typing import Any

from opto.trace import ExecutionError
from qbench.adapters.common import CodeFailure
from qbench.generators.humaneval import RUNNER_NAME, test_program
from qbench.loop import Evaluation
from qbench.programs.codefile import load_function


class CodeRepairProgram:
    """Make a HumanEval function pass its tests, starting from its signature and docstring."""

    def __init__(self, side: Any, task: dict, work_dir: str) -> None:
        self.side = side
        data = task["data"]
        self.entry_point = data["entry_point"]
        self.prelude = data["prelude"]
        self.visible = data["visible_tests"]
        self.heldout = data["heldout_tests"]
        function = load_function(
            data["prelude"] + "\n\n" + data["stub"], self.entry_point, work_dir, "humaneval_task"
        )
        self.function = side.trainable(function)
        self._outcomes: dict[str, list] = {}

    def parameters(self) -> list:
        return [self.function.parameter]

    def _run(self, tests: list[dict]) -> list:
        code = str(self.function.parameter.data)
        program = test_program(self.prelude, code, self.entry_point, tests)
        return self.side.run_code(program, RUNNER_NAME, [])

    def outcomes(self) -> list:
        """``[status, detail]`` for the visible then the held-out tests, for the current code.

        All tests run in one isolated call; if that call fails as a whole (a time or memory
        limit, code that does not load), each test runs alone so the failure is attributed.
        """
        code = str(self.function.parameter.data)
        if code not in self._outcomes:
            tests = self.visible + self.heldout
            try:
                found = _checked(self._run(tests), len(tests))
            except CodeFailure:
                found = []
                for test in tests:
                    try:
                        found.extend(_checked(self._run([test]), 1))
                    except CodeFailure as failure:
                        found.append(["error", str(failure)[:300]])
            self._outcomes[code] = found
        return self._outcomes[code]

    def evaluate(self) -> Evaluation:
        results = self.outcomes()
        passed = [status == "pass" for status, _ in results]
        heldout = passed[len(self.visible) :]
        return Evaluation(
            sum(heldout) / len(heldout),
            all(passed),
            {
                "visible_passed": sum(passed[: len(self.visible)]),
                "visible": len(self.visible),
                "heldout_passed": sum(heldout),
                "heldout": len(heldout),
            },
        )

    def forward(self) -> tuple[Any, str]:
        results = self.outcomes()[: len(self.visible)]
        failing = [i for i, (status, _) in enumerate(results) if status != "pass"]
        chosen = self.visible[failing[0] if failing else 0]
        arguments = ast.literal_eval(chosen["args"])
        try:
            with self.side.guard():
                output = self.function(*arguments)
        except ExecutionError as error:
            output = error.exception_node
        lines = [f"{sum(s == 'pass' for s, _ in results)} of {len(results)} tests pass."]
        for test, (status, detail) in zip(self.visible, results, strict=True):
            if status == "pass":
                lines.append(f"{test['source']}  # passes")
            elif status == "fail":
                lines.append(f"{test['source']}  # fails: the function returned {detail}")
            else:
                lines.append(f"{test['source']}  # fails: {detail}")
        return output, "\n".join(lines)


def _checked(outcomes: Any, expected: int) -> list:
    """The child's answer, accepted only if it is exactly ``expected`` ``[status, text]`` pairs."""
    if not isinstance(outcomes, list) or len(outcomes) != expected:
        raise CodeFailure("the test run gave no valid answer")
    for item in outcomes:
        if not (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and item[0] in ("pass", "fail", "error")
            and isinstance(item[1], str)
        ):
            raise CodeFailure("the test run gave no valid answer")
    return [[item[0], item[1]] for item in outcomes]
