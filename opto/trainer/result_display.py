"""How a ``TrainResult`` shows itself: the end-of-run summary, its repr and its notebook view.

Kept apart from the result class so the training loop's files stay about training.
"""

from __future__ import annotations

from typing import Any

from opto.utils.display import (
    format_cost,
    format_count,
    format_score,
    html_block,
    shorten,
    text_block,
)

PARAMETERS_SHOWN = 20


def _rows(result: Any) -> list[tuple[str, str]]:
    usage = result.usage or {}
    best = format_score(result.best_score)
    if result.best_scores and len(result.best_scores) > 1:
        best += (
            " ("
            + ", ".join(
                f"{name} {format_score(value)}" for name, value in result.best_scores.items()
            )
            + ")"
        )
    rows = [("best score", best), ("steps", f"{result.steps} ({result.stopped})")]
    if result.test_score is not None:
        rows.append(("test score", format_score(result.test_score)))
    if usage:
        calls = format_count(usage.get("calls", 0))
        if usage.get("cache_hits"):
            calls += f" (+{format_count(usage['cache_hits'])} from the cache)"
        rows += [
            ("calls", calls),
            (
                "tokens",
                f"{format_count(usage.get('tokens', 0))} ({format_count(usage.get('prompt_tokens', 0))}"
                f" prompt, {format_count(usage.get('completion_tokens', 0))} completion)",
            ),
            ("cost", format_cost(usage.get("cost"))),
        ]
    if result.run_dir is not None:
        rows.append(("saved in", str(result.run_dir)))
    return rows


def result_summary(result: Any) -> str:
    """Several lines about ``result`` (a ``TrainResult``): what the run achieved and spent,
    and where it is saved."""
    rows = _rows(result)
    if result.run_dir is not None:
        rows.append(("inspect", f"opto show {result.run_dir}  |  opto report {result.run_dir}"))
    return text_block("Training finished", rows)


def result_line(result: Any) -> str:
    """``result`` on one line: ``TrainResult(best_score=..., steps=..., stopped=...,
    calls=..., cost=..., run_dir=...)``."""
    usage = result.usage or {}
    parts = [
        f"best_score={format_score(result.best_score)}",
        f"steps={result.steps}",
        f"stopped={result.stopped!r}",
    ]
    if usage:
        parts += [
            f"calls={usage.get('calls', 0)}",
            f"tokens={usage.get('tokens', 0)}",
            f"cost={format_cost(usage.get('cost'))}",
        ]
    if result.run_dir is not None:
        parts.append(f"run_dir={str(result.run_dir)!r}")
    parameters = ", ".join(
        f"{path}={shorten(repr(value), 40)}"
        for path, value in list(result.best_parameters.items())[:PARAMETERS_SHOWN]
    )
    parts.append(f"best_parameters={{{parameters}}}")
    return f"TrainResult({', '.join(parts)})"


def result_html(result: Any) -> str:
    """``result`` as HTML for notebooks: the summary rows and a table of the best parameters."""
    body = [
        [path, shorten(repr(value))]
        for path, value in list(result.best_parameters.items())[:PARAMETERS_SHOWN]
    ]
    return html_block("TrainResult", _rows(result), (["parameter", "best value"], body))
