"""Render benchmark records (JSON lines) as a side-by-side table of opto and trace-opt.

Usage: ``python benchmarks/table.py benchmarks/results/<timestamp>.jsonl``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

OURS = "opto"
THEIRS = "trace-opt"


def load(path: Path) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def format_value(value: float, unit: str) -> str:
    """A figure in a readable unit: seconds scale to us/ms, bytes to KB/MB."""
    if unit == "s":
        if abs(value) < 1e-3:
            return f"{value * 1e6:.1f} us"
        if abs(value) < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.3g} s"
    if unit.startswith("B/"):
        per = unit[1:]
        if abs(value) >= 1024 * 1024:
            return f"{value / 1024 / 1024:.1f} MB{per}"
        if abs(value) >= 1024:
            return f"{value / 1024:.1f} KB{per}"
        return f"{value:.1f} B{per}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit.startswith("us/"):
        return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.2f} {unit}"
    return f"{value:.4g} {unit}"


def cell(record: dict[str, Any] | None) -> str:
    if record is None:
        return ""
    status = record["status"]
    if status == "ok":
        text = format_value(record["median"], record["unit"])
        return f"{text} (n={record['repeats']})" if record.get("samples") else text
    if status == "timeout":
        return f"> {record['cap']:g} s (cap)" if record.get("cap") else "timeout"
    if status == "skipped" and record.get("predicted"):
        return f"skipped (predicted ~{format_value(record['predicted'], 's')} > cap)"
    if status == "skipped":
        return "skipped (> cap)" if "cap" in record.get("note", "") else "skipped"
    return status


def ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    """How many times trace-opt's figure is ours (higher = opto faster or smaller)."""
    if not (ours and theirs) or not ours.get("compare", True):
        return ""
    if ours["status"] != "ok" or theirs["status"] != "ok":
        return ""
    if ours["median"] <= 0 or theirs["median"] <= 0:
        return ""
    value = theirs["median"] / ours["median"]
    return f"{value:.2f}x" if value < 10 else f"{value:,.0f}x"


def markdown(header: list[str], rows: Iterable[list[str]]) -> str:
    rows = [header, *rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
            + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), separator, *(line(row) for row in rows[1:])])


def _key(record: dict[str, Any]) -> tuple[str, str, int | None]:
    return record["case"], record["measure"], record.get("size")


def results_table(records: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(_key(record) for record in records))
    by_key = {(_key(record), record["impl"]): record for record in records}
    with_theirs = any(record["impl"] == THEIRS for record in records)
    header = ["case", "measure", "N", OURS]
    if with_theirs:
        header += [THEIRS, "trace-opt / opto"]
    rows = []
    for key in keys:
        case, measure, size = key
        ours, theirs = by_key.get((key, OURS)), by_key.get((key, THEIRS))
        row = [case, measure, "" if size is None else f"{size:,}", cell(ours)]
        if with_theirs:
            row += [cell(theirs), ratio(ours, theirs)]
        rows.append(row)
    return markdown(header, rows)


def growth(records: list[dict[str, Any]], impl: str, measure: tuple[str, str]) -> str:
    """``t(largest N) / t(smallest N)`` over the sizes that ran; about N-ratio when linear."""
    sized = sorted(
        (r["size"], r["median"])
        for r in records
        if r["impl"] == impl and (r["case"], r["measure"]) == measure and r["status"] == "ok"
    )
    if len(sized) < 2 or sized[0][1] <= 0:
        return ""
    (small, first), (large, last) = sized[0], sized[-1]
    return f"{last / first:.1f} (N x{large / small:g}: {small:,} -> {large:,})"


def scaling_table(records: list[dict[str, Any]]) -> str | None:
    """Growth of every timed measurement that ran at several sizes (the linearity check)."""
    measures = list(
        dict.fromkeys(
            (r["case"], r["measure"])
            for r in records
            if r.get("size") is not None and r["unit"] == "s" and r["measure"].endswith("backward")
        )
    )
    if not measures:
        return None
    impls = [impl for impl in (OURS, THEIRS) if any(r["impl"] == impl for r in records)]
    header = ["case", "measure", *(f"{impl} t(max N)/t(min N)" for impl in impls)]
    rows = [
        [case, measure, *(growth(records, impl, (case, measure)) for impl in impls)]
        for case, measure in measures
    ]
    return markdown(header, rows)


def targets_table(records: list[dict[str, Any]]) -> str | None:
    """Our figures against the targets the cases declare."""
    rows = []
    for record in records:
        target = record.get("target")
        if record["impl"] != OURS or not target:
            continue
        size = "" if record.get("size") is None else f" N={record['size']:,}"
        name = f"{record['case']} {record['measure']}{size}"
        if record["status"] != "ok":
            rows.append([name, target["text"], cell(record), "not measured"])
            continue
        met = record["median"] < target["max"] or (
            record["median"] == target["max"] and "<=" in target["text"]
        )
        value = format_value(record["median"], record["unit"])
        rows.append([name, target["text"], value, "met" if met else "MISSED"])
    return markdown(["measurement", "target", "opto median", "result"], rows) if rows else None


def render(records: list[dict[str, Any]]) -> str:
    parts = [results_table(records)]
    scaling = scaling_table(records)
    if scaling:
        parts += ["Scaling (about the N ratio when linear):", scaling]
    targets = targets_table(records)
    if targets:
        parts += ["Targets:", targets]
    load = machine_load(records)
    if load:
        parts.append(load)
    if not any(record["impl"] == THEIRS for record in records):
        parts.append("trace-opt was not run: the table shows opto only.")
    return "\n\n".join(parts)


def machine_load(records: list[dict[str, Any]]) -> str | None:
    """The 1-minute load average the cases started under: how noisy the figures may be."""
    loads = [
        record["env"]["load_average"][0]
        for record in records
        if (record.get("env") or {}).get("load_average")
    ]
    cpus = {record["env"].get("cpus") for record in records if record.get("env")} - {None}
    if not loads:
        return None
    on = f" on {', '.join(map(str, sorted(cpus)))} CPUs" if cpus else ""
    return f"Load average (1 min) when the cases started: {min(loads):.1f} to {max(loads):.1f}{on}."


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    records = [record for name in argv for record in load(Path(name))]
    print(render(records))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
