"""Run the performance suite on opto and, side by side, on trace-opt; print a table.

Every case in ``benchmarks/cases/`` is a script that imports ``opto`` and prints JSON lines.
It runs twice, unchanged: under this interpreter with the repository on ``PYTHONPATH`` (ours),
and under a trace-opt interpreter without it. The trace-opt interpreter is, in order,
``--trace-opt-python``, ``$OPTO_BENCH_TRACE_OPT_PYTHON``, or ``benchmarks/.venv-trace-opt``
(made by ``benchmarks/setup_trace_opt.sh``). Without one, only opto runs.

Usage: ``python benchmarks/run.py [--quick] [--only CASE] [--repeats N] ...``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import table

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CASES_DIR = BENCH_DIR / "cases"
RESULTS_DIR = BENCH_DIR / "results"
LOCAL_VENV = BENCH_DIR / ".venv-trace-opt"
ENV_VARIABLE = "OPTO_BENCH_TRACE_OPT_PYTHON"
DEFAULT_CAP = 90.0
QUICK_CAP = 20.0


class SetupError(Exception):
    """The suite cannot run as asked (bad interpreter, unknown case)."""


def discover_cases() -> dict[str, Path]:
    """Case name -> script: every ``cases/*.py`` not starting with an underscore."""
    return {path.stem: path for path in sorted(CASES_DIR.glob("[!_]*.py"))}


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _trace_opt_env() -> dict[str, str]:
    """The environment without PYTHONPATH/PYTHONHOME, so our repo cannot shadow trace-opt."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def check_trace_opt(python: str) -> str:
    """trace-opt's version in ``python``; SetupError if it is not a trace-opt interpreter."""
    probe = (
        "import importlib.metadata as m, opto; print(m.version('trace-opt')); print(opto.__file__)"
    )
    try:
        done = subprocess.run(
            [python, "-E", "-c", probe],
            capture_output=True,
            text=True,
            cwd=CASES_DIR,
            env=_trace_opt_env(),
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SetupError(f"cannot run {python}: {error}") from error
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"{python} cannot import trace-opt's opto ({last})")
    version, opto_file = done.stdout.split()[:2]
    if Path(opto_file).resolve().is_relative_to(REPO_ROOT / "opto"):
        raise SetupError(f"{python} imports opto from this repository, not from trace-opt")
    return version


def find_trace_opt(explicit: str | None) -> tuple[str | None, str]:
    """The trace-opt interpreter to use, and a sentence saying where it came from or why none."""
    for given, origin in (
        (explicit, "--trace-opt-python"),
        (os.environ.get(ENV_VARIABLE), ENV_VARIABLE),
    ):
        if given:
            version = check_trace_opt(given)
            return given, f"trace-opt {version} from {origin}"
    local = _venv_python(LOCAL_VENV)
    if local.exists():
        version = check_trace_opt(str(local))
        return str(local), f"trace-opt {version} from benchmarks/.venv-trace-opt"
    return None, (
        "no trace-opt interpreter found: running opto only (set up one with "
        f"benchmarks/setup_trace_opt.sh, or set {ENV_VARIABLE} / --trace-opt-python)"
    )


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def run_case(
    name: str, script: Path, impl: str, command: list[str], env: dict[str, str], args: list[str]
) -> list[dict[str, Any]]:
    """Run one case script under one implementation; stream its records as they come."""
    records = []
    process = subprocess.Popen(
        [*command, str(script), "--impl", impl, *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=CASES_DIR,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            sys.stderr.write(line)
            continue
        records.append(record)
        size = "" if record.get("size") is None else f" N={record['size']:,}"
        print(f"  {impl:9} {name} {record['measure']}{size}: {table.cell(record)}", file=sys.stderr)
    code = process.wait()
    if code != 0:
        print(f"  {impl:9} {name}: exited with status {code}", file=sys.stderr)
        records.append(
            {
                "case": name,
                "measure": "(case)",
                "size": None,
                "impl": impl,
                "status": "error",
                "unit": "",
                "note": f"case script exited with status {code}",
            }
        )
    return records


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (under a minute)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CASE",
        help="run only this case (repeatable)",
    )
    parser.add_argument("--repeats", type=int, help="runs per measurement (default: per case)")
    parser.add_argument(
        "--cap",
        type=float,
        help=f"seconds one run may take (default {DEFAULT_CAP:g}, quick {QUICK_CAP:g})",
    )
    parser.add_argument("--trace-opt-python", help="python of an environment with trace-opt")
    parser.add_argument("--no-trace-opt", action="store_true", help="run opto only")
    parser.add_argument("--json-out", type=Path, help="write records here (default results/)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cases = discover_cases()
    if args.list:
        print("\n".join(cases))
        return 0
    unknown = [name for name in args.only if name not in cases]
    if unknown:
        print(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(cases)}", file=sys.stderr)
        return 2
    selected = {name: cases[name] for name in args.only} if args.only else cases

    trace_opt = None
    if args.no_trace_opt:
        note = "trace-opt disabled by --no-trace-opt: running opto only"
    else:
        try:
            trace_opt, note = find_trace_opt(args.trace_opt_python)
        except SetupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(note, file=sys.stderr)

    case_args = ["--quick"] if args.quick else []
    case_args += ["--cap", str(args.cap or (QUICK_CAP if args.quick else DEFAULT_CAP))]
    if args.repeats:
        case_args += ["--repeats", str(args.repeats)]
    ours_env = dict(os.environ)
    ours_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    implementations = [("opto", [sys.executable], ours_env)]
    if trace_opt:
        implementations.append(("trace-opt", [trace_opt, "-E"], _trace_opt_env()))

    started = datetime.datetime.now(datetime.timezone.utc)
    run_info = {"run_started": started.isoformat(timespec="seconds"), "git": git_commit()}
    run_info["quick"] = args.quick
    records = []
    for name, script in selected.items():
        for impl, command, env in implementations:
            print(f"{name} ({impl})", file=sys.stderr)
            for record in run_case(name, script, impl, command, env, case_args):
                record.setdefault("env", {}).update(run_info)
                records.append(record)

    out = args.json_out
    if out is None:
        stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
        out = RESULTS_DIR / f"{stamp}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
    elapsed = datetime.datetime.now(datetime.timezone.utc) - started
    print(table.render(records))
    print(f"\n{len(records)} records in {out} ({elapsed.total_seconds():.0f} s)")
    return 1 if any(record["status"] == "error" for record in records) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
