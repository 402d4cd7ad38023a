"""Run the quality suite against an OpenAI-compatible endpoint, or replay a recorded run.

Live (records every request and reply, for both implementations)::

    python benchmarks/quality/run.py --base-url http://127.0.0.1:8765/v1 \
        --model qwen2.5-coder-1.5b-instruct [--quick] [--tasks numeric bbh/word_sorting] \
        [--impl opto,trace-opt] [--seed 0] [--price-in 0.15 --price-out 0.60]

Offline, from a recording (a run directory made by a live run)::

    python benchmarks/quality/run.py --replay benchmarks/quality/recordings/<name>

Each task instance runs in its own process, once per implementation: opto under this
interpreter, trace-opt under its own (``--trace-opt-python``, ``$OPTO_BENCH_TRACE_OPT_PYTHON``
or ``benchmarks/.venv-trace-opt`` from ``benchmarks/setup_trace_opt.sh``). A run directory
holds ``manifest.json``, ``tasks/`` (the instances' data), ``replies/`` (the recordings),
``results.jsonl``, ``table.md`` and ``scores.png``. A replay compares its results with the
recorded ones and exits with status 1 if they differ.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

QUALITY_DIR = Path(__file__).resolve().parent
BENCH_DIR = QUALITY_DIR.parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = QUALITY_DIR / "results"
TASK_MAIN = QUALITY_DIR / "task_main.py"
RUN_FORMAT = "opto-quality-run"

sys.path.insert(0, str(QUALITY_DIR))
from qbench import compare, loop, report, specs  # noqa: E402
from qbench.adapters import IMPLEMENTATIONS  # noqa: E402

DEFAULTS = {
    "temperature": 0,
    "timeout": 900.0,
    "optimizer_max_tokens": 1024,
    "agent_max_tokens": 256,
    "code_limits": {"wall_time": 10, "cpu_time": 5, "memory": "1GB", "memory_bytes": 1 << 30},
    "process_memory_bytes": 8 << 30,
}


class SetupError(Exception):
    """The suite cannot run as asked."""


def _perf_runner() -> Any:
    """benchmarks/run.py, whose trace-opt interpreter discovery this suite shares."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.append(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("perf_runner", BENCH_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interpreters(impls: list[str], explicit: str | None, required: bool) -> dict[str, str]:
    """impl -> interpreter; trace-opt is left out (with a message) when none is found,
    unless it was asked for explicitly."""
    found = {"opto": sys.executable} if "opto" in impls else {}
    if "trace-opt" in impls:
        perf = _perf_runner()
        try:
            python, origin = perf.find_trace_opt(explicit)
        except perf.SetupError as error:
            raise SetupError(str(error)) from error
        if python is None:
            if required:
                raise SetupError(origin)
            print(f"[quality] {origin}", file=sys.stderr)
        else:
            print(f"[quality] {origin}", file=sys.stderr)
            found["trace-opt"] = python
    return found


def trace_opt_env() -> dict[str, str]:
    """No PYTHONPATH (the repository must not shadow trace-opt) and no price-map download."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def _recorder(config: dict, replay_file: Path) -> Any:
    """The ReplayLLM behind trace-opt's proxy: forwarding and recording, or replaying."""
    from opto.llm import LLM, ReplayLLM, RetryPolicy

    if config["mode"] == "replay":
        return ReplayLLM(replay_file)
    client = LLM(
        config["model"],
        base_url=config["base_url"],
        api_key=os.environ.get(config.get("api_key_env") or "", "") or "not-needed",
        temperature=config["temperature"],
        cache=False,
        prices=(0.0, 0.0),
        timeout=config["timeout"],
        retry=RetryPolicy(max_attempts=2, base_delay=1.0, max_delay=5.0),
    )
    return ReplayLLM(replay_file, llm=client)


def run_one(
    task: dict, impl: str, python: str, run_dir: Path, config: dict, task_timeout: float
) -> list[dict]:
    """Run ``task`` under ``impl``; return its records (a run record even if it crashed)."""
    from qbench.proxy import ReplayServer

    key = specs.file_key(task["id"])
    replay_file = run_dir / "replies" / f"{key}.{impl}.json"
    records_file = run_dir / "logs" / f"{key}.{impl}.jsonl"
    log_file = run_dir / "logs" / f"{key}.{impl}.log"
    records_file.unlink(missing_ok=True)
    task_file = run_dir / "tasks" / f"{key}.json"
    run_config = {**config, "impl": impl}
    env = dict(os.environ)
    server = None
    if impl == "trace-opt":
        recording = replay_file if config["mode"] == "replay" else None
        server = ReplayServer(_recorder(config, replay_file), recording=recording)
        run_config["proxy_url"] = server.base_url
        env = trace_opt_env()
    else:
        run_config["replay_file"] = str(replay_file)
    config_file = run_dir / "logs" / f"{key}.{impl}.config.json"
    config_file.write_text(json.dumps(run_config, indent=1))
    command = [
        python,
        str(TASK_MAIN),
        "--task",
        str(task_file),
        "--config",
        str(config_file),
        "--out",
        str(records_file),
    ]
    failure = None
    try:
        if server is not None:
            server.__enter__()
        with open(log_file, "w", encoding="utf-8") as log:
            done = subprocess.run(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=QUALITY_DIR,
                timeout=task_timeout,
                check=False,
            )
        if done.returncode not in (0, 1):
            failure = f"the task process ended with status {done.returncode} (see its log)"
    except subprocess.TimeoutExpired:
        failure = f"stopped after {task_timeout:g} s (--task-timeout)"
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    records = _read_records(records_file)
    if not any(r.get("kind") == "run" for r in records):
        base = {"task": task["id"], "family": task["family"], "impl": impl}
        steps = [r for r in records if r.get("kind") == "step"]
        usage = (
            steps[-1]["usage"]
            if steps
            else {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "by_purpose": {}}
        )
        wall = steps[-1]["elapsed_s"] if steps else 0.0
        records.append(loop.summarize(base, steps, failure or "no result", wall, usage))
    return records


def _read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


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


def _load_avg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def prepare_live(options: argparse.Namespace, run_dir: Path) -> tuple[list[dict], dict]:
    wanted = options.tasks or []
    families = sorted({w.split("/")[0] for w in wanted}) if wanted else list(specs.FAMILIES)
    families = [f for f in specs.FAMILIES if f in families]
    plan = "quick" if options.quick else options.plan
    tasks = specs.select(specs.build(families, options.seed, plan), wanted)
    config = {
        **DEFAULTS,
        "mode": "record",
        "model": options.model,
        "base_url": options.base_url,
        "api_key_env": options.api_key_env,
        "timeout": options.timeout,
    }
    for task in tasks:
        path = run_dir / "tasks" / f"{specs.file_key(task['id'])}.json"
        path.write_text(json.dumps(task, indent=1))
    return tasks, config


def prepare_replay(source: Path, run_dir: Path, wanted: list[str]) -> tuple[list[dict], dict, dict]:
    try:
        manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SetupError(f"{source} is not a recorded run ({error})") from error
    if manifest.get("format") != RUN_FORMAT:
        raise SetupError(f"{source}/manifest.json is not a {RUN_FORMAT} manifest")
    tasks = []
    for task_id in manifest["tasks"]:
        key = specs.file_key(task_id)
        tasks.append(json.loads((source / "tasks" / f"{key}.json").read_text(encoding="utf-8")))
        shutil.copy(source / "tasks" / f"{key}.json", run_dir / "tasks" / f"{key}.json")
        for impl in manifest["impls"]:
            _copy_replies(source / "replies", run_dir / "replies", f"{key}.{impl}.json")
    tasks = specs.select(tasks, wanted)
    config = {
        **manifest["settings"],
        "mode": "replay",
        "model": manifest["model"],
        "base_url": None,
    }
    return tasks, config, manifest


def _copy_replies(source: Path, target: Path, name: str) -> None:
    """Copy a recording, unpacking a ``.json.gz`` one (committed recordings are packed)."""
    if (source / name).exists():
        shutil.copy(source / name, target / name)
    elif (source / f"{name}.gz").exists():
        with gzip.open(source / f"{name}.gz", "rb") as packed:
            (target / name).write_bytes(packed.read())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Real-model quality suite, opto and trace-opt side by side.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://host/v1")
    source.add_argument("--replay", type=Path, help="a recorded run directory to replay")
    parser.add_argument("--model", help="model name at the endpoint (live runs)")
    parser.add_argument(
        "--api-key-env",
        default="OPTO_LLM_API_KEY",
        help="environment variable holding the endpoint's API key",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the small subset (about 30 min "
        "for both implementations with a 1.5B model on 2 CPU cores)",
    )
    parser.add_argument(
        "--plan",
        choices=specs.PLAN_NAMES,
        default="full",
        help="full suite, quick subset, or the tiny sample a recording holds",
    )
    parser.add_argument("--tasks", nargs="*", help="families or task ids (prefixes) to run")
    parser.add_argument(
        "--impl",
        help="comma-separated: opto, trace-opt (default: both; "
        "trace-opt is left out with a message when no interpreter has it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--price-in",
        type=float,
        default=0.0,
        help="dollars per million prompt tokens, for the cost column",
    )
    parser.add_argument(
        "--price-out", type=float, default=0.0, help="dollars per million completion tokens"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULTS["timeout"], help="seconds per LLM call"
    )
    parser.add_argument(
        "--task-timeout",
        type=float,
        default=3600.0,
        help="seconds per task instance and implementation",
    )
    parser.add_argument("--trace-opt-python", help="interpreter with trace-opt installed")
    parser.add_argument("--out", type=Path, help="run directory (default: results/<time>)")
    options = parser.parse_args(argv)
    if options.base_url and not options.model:
        parser.error("--model is required with --base-url")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    impls = [n.strip() for n in (options.impl or ",".join(IMPLEMENTATIONS)).split(",") if n.strip()]
    unknown = [name for name in impls if name not in IMPLEMENTATIONS]
    if unknown:
        print(f"[quality] unknown implementation(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = options.out or RESULTS_DIR / (f"replay-{stamp}" if options.replay else stamp)
    for sub in ("tasks", "replies", "logs"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    try:
        if options.replay:
            tasks, config, recorded = prepare_replay(options.replay, run_dir, options.tasks)
            impls = [name for name in impls if name in recorded["impls"]]
        else:
            tasks, config = prepare_live(options, run_dir)
            recorded = None
        pythons = interpreters(impls, options.trace_opt_python, required=bool(options.impl))
    except (SetupError, ValueError, RuntimeError) as error:
        print(f"[quality] {error}", file=sys.stderr)
        return 2
    impls = [name for name in impls if name in pythons]
    manifest = {
        "format": RUN_FORMAT,
        "version": 1,
        "model": config["model"],
        "endpoint": options.base_url or (recorded or {}).get("endpoint"),
        "mode": config["mode"],
        "plan": ("quick" if options.quick else options.plan)
        if not recorded
        else recorded.get("plan"),
        "seed": options.seed if not recorded else recorded.get("seed"),
        "tasks": [task["id"] for task in tasks],
        "impls": impls,
        "settings": {k: config[k] for k in DEFAULTS},
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "opto_commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": _load_avg()},
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    results_file = run_dir / "results.jsonl"
    results_file.unlink(missing_ok=True)
    print(f"[quality] {len(tasks)} task(s) x {', '.join(impls)} -> {run_dir}", file=sys.stderr)
    for task in tasks:
        for impl in impls:
            records = run_one(task, impl, pythons[impl], run_dir, config, options.task_timeout)
            with open(results_file, "a", encoding="utf-8") as stream:
                for record in records:
                    stream.write(json.dumps(record) + "\n")
            summary = records[-1]
            print(
                f"[quality] {task['id']} {impl}: scores {summary['scores']} "
                f"success={summary['success']} error={summary['error']}",
                file=sys.stderr,
            )
    records = report.load([results_file])
    prices = (options.price_in, options.price_out)
    table = report.markdown_table(records, prices)
    (run_dir / "table.md").write_text(table + "\n")
    print(table)
    report.plot(records, run_dir / "scores.png")
    if options.replay:
        differences = compare.differences(report.load([options.replay / "results.jsonl"]), records)
        if differences:
            print("[quality] the replay differs from the recording:\n  " + "\n  ".join(differences))
            return 1
        print("[quality] the replay reproduces the recording")
    return 0


if __name__ == "__main__":
    sys.exit(main())
