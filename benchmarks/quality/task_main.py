"""Run one task instance under one implementation; started by run.py in that implementation's
interpreter (opto's, or trace-opt's own venv), never imported by it.

Usage: ``python task_main.py --task TASK.json --config CONFIG.json --out RECORDS.jsonl``

Records (JSON lines) are appended to ``--out`` as they happen, so a run that is stopped keeps
what it did. The process works in a temporary directory; under trace-opt, whose trainable code
runs in this process, it also limits its own address space first.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile


def _limit_memory(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _implementation_version(impl: str) -> str:
    package = "trace-opt" if impl == "trace-opt" else "opto"
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    options = parser.parse_args(argv)
    with open(options.task, encoding="utf-8") as stream:
        task = json.load(stream)
    with open(options.config, encoding="utf-8") as stream:
        config = json.load(stream)
    impl = config["impl"]
    if impl == "trace-opt" and config.get("process_memory_bytes"):
        _limit_memory(int(config["process_memory_bytes"]))

    out = open(options.out, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the run)

    def emit(record: dict) -> None:
        out.write(json.dumps(record, default=repr) + "\n")
        out.flush()

    from qbench import loop
    from qbench.adapters import make_side
    from qbench.programs import make_program

    work_dir = tempfile.mkdtemp(prefix="quality-task-")
    os.chdir(work_dir)
    try:
        emit(
            {
                "kind": "start",
                "task": task["id"],
                "family": task["family"],
                "impl": impl,
                "version": _implementation_version(impl),
                "python": sys.version.split()[0],
            }
        )
        side = make_side(impl, config)
        try:
            program = make_program(side, task, work_dir)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"[:2000]
            base = {"task": task["id"], "family": task["family"], "impl": impl}
            emit({**base, "kind": "error", "error": message})
            emit(loop.summarize(base, [], message, 0.0, side.counters.snapshot()))
            return 1
        summary = loop.run(side, program, task, emit)
        return 0 if summary["error"] is None else 1
    finally:
        os.chdir(os.path.dirname(os.path.abspath(__file__)))
        shutil.rmtree(work_dir, ignore_errors=True)
        out.close()


if __name__ == "__main__":
    sys.exit(main())
