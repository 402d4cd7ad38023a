"""Tables and plots from the suite's results (JSON lines).

Usage: ``python -m qbench.report RESULTS.jsonl [...] [--price-in P --price-out P] [--plot F]``
(from ``benchmarks/quality``). Prices are dollars per million tokens.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

COLUMNS = (
    "family",
    "impl",
    "tasks",
    "solved",
    "success",
    "steps to solve",
    "score start -> end",
    "LLM calls (opt)",
    "prompt tok",
    "completion tok",
    "cost $",
    "wall s",
    "parsed",
    "applied",
    "refused",
    "unknown",
)


def load(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def cost(usage: dict, prices: tuple[float, float]) -> float:
    return (usage["prompt_tokens"] * prices[0] + usage["completion_tokens"] * prices[1]) / 1e6


def rows(records: list[dict], prices: tuple[float, float]) -> list[dict]:
    """One row per (family, implementation), summed or averaged over its task instances."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in records:
        if record.get("kind") == "run":
            groups[(record["family"], record["impl"])].append(record)
    table = []
    for (family, impl), runs in sorted(groups.items()):
        solved = [r for r in runs if r["success"]]
        solve_steps = [r["steps_to_solve"] for r in solved]
        starts = [r["initial_score"] for r in runs if r["initial_score"] is not None]
        ends = [r["final_score"] for r in runs if r["final_score"] is not None]
        optimizer_calls = sum(
            r["usage"].get("by_purpose", {}).get("optimizer", {}).get("calls", 0) for r in runs
        )
        table.append(
            {
                "family": family,
                "impl": impl,
                "tasks": len(runs),
                "solved": len(solved),
                "success": len(solved) / len(runs),
                "steps to solve": sum(solve_steps) / len(solve_steps) if solve_steps else None,
                "score start -> end": (
                    f"{sum(starts) / len(starts):.2f} -> {sum(ends) / len(ends):.2f}"
                    if starts and ends
                    else "-"
                ),
                "LLM calls (opt)": f"{sum(r['usage']['calls'] for r in runs)} ({optimizer_calls})",
                "prompt tok": sum(r["usage"]["prompt_tokens"] for r in runs),
                "completion tok": sum(r["usage"]["completion_tokens"] for r in runs),
                "cost $": sum(cost(r["usage"], prices) for r in runs),
                "wall s": sum(r["wall_s"] for r in runs),
                "parsed": f"{sum(r['parsed'] for r in runs)}/{sum(r['replies'] for r in runs)}",
                "applied": sum(r["applied"] for r in runs),
                "refused": sum(r["refused"] for r in runs),
                "unknown": sum(r["unknown"] for r in runs),
                "errors": [r["error"] for r in runs if r["error"]],
            }
        )
    return table


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 and value != 0 else f"{value:.2f}"
    return str(value)


def markdown_table(records: list[dict], prices: tuple[float, float] = (0.0, 0.0)) -> str:
    """The summary table in Markdown, with a line per run that ended in an error."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    errors = []
    for row in rows(records, prices):
        lines.append("| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |")
        errors += [f"- {row['family']} [{row['impl']}]: {e[:200]}" for e in row["errors"]]
    if errors:
        lines += ["", "Runs that ended in an error:", *errors]
    return "\n".join(lines)


def curves(records: list[dict]) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Mean score and mean cumulative tokens after each step, per (family, implementation).

    A run solved early keeps its last score and tokens for the remaining steps.
    """
    runs: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for record in records:
        if record.get("kind") == "step":
            runs[(record["family"], record["impl"], record["task"])].append(record)
    grouped: dict[tuple[str, str], list[list[dict]]] = defaultdict(list)
    for (family, impl, _), steps in runs.items():
        grouped[(family, impl)].append(sorted(steps, key=lambda s: s["step"]))
    result = {}
    for key, series in grouped.items():
        length = max(len(steps) for steps in series)
        padded = [steps + [steps[-1]] * (length - len(steps)) for steps in series]
        result[key] = {
            "step": list(range(length)),
            "score": [sum(s[i]["score"] for s in padded) / len(padded) for i in range(length)],
            "tokens": [
                sum(
                    s[i]["usage"]["prompt_tokens"] + s[i]["usage"]["completion_tokens"]
                    for s in padded
                )
                / len(padded)
                for i in range(length)
            ],
        }
    return result


def plot(records: list[dict], path: Path) -> Path | None:
    """Score against step and against tokens, one column per family; None without data."""
    data = curves(records)
    if not data:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = sorted({family for family, _ in data})
    figure, axes = plt.subplots(2, len(families), figsize=(3.6 * len(families), 6.4), squeeze=False)
    styles = {"opto": ("tab:blue", "o"), "trace-opt": ("tab:orange", "s")}
    for column, family in enumerate(families):
        for (name, impl), curve in sorted(data.items()):
            if name != family:
                continue
            color, marker = styles.get(impl, ("tab:gray", "^"))
            axes[0][column].plot(
                curve["step"], curve["score"], marker=marker, color=color, label=impl
            )
            axes[1][column].plot(
                curve["tokens"], curve["score"], marker=marker, color=color, label=impl
            )
        axes[0][column].set_title(family)
        axes[0][column].set_xlabel("step")
        axes[1][column].set_xlabel("tokens (prompt + completion)")
        for row in (0, 1):
            axes[row][column].set_ylim(-0.05, 1.05)
            axes[row][column].grid(alpha=0.3)
        axes[0][0].set_ylabel("held-out score (mean)")
        axes[1][0].set_ylabel("held-out score (mean)")
    axes[0][0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--price-in", type=float, default=0.0)
    parser.add_argument("--price-out", type=float, default=0.0)
    parser.add_argument("--plot", type=Path)
    options = parser.parse_args(argv)
    records = load(options.results)
    print(markdown_table(records, (options.price_in, options.price_out)))
    if options.plot:
        plot(records, options.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
