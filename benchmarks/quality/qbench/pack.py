"""Pack a run directory into a recording to commit: data, results and gzipped replies only.

Usage (from ``benchmarks/quality``): ``python -m qbench.pack RUN_DIR TARGET_DIR``

Logs, plots and per-run configuration (which name local paths) are left out; replies are
compressed with a fixed timestamp, so packing the same run twice gives the same bytes.
``run.py --replay TARGET_DIR`` reads the result.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

from qbench import specs


def pack(run_dir: Path, target: Path) -> list[str]:
    """Write the recording of ``run_dir`` into ``target`` (replaced); its task ids."""
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    if target.exists():
        shutil.rmtree(target)
    (target / "tasks").mkdir(parents=True)
    (target / "replies").mkdir()
    for task_id in manifest["tasks"]:
        key = specs.file_key(task_id)
        shutil.copy(run_dir / "tasks" / f"{key}.json", target / "tasks")
        for impl in manifest["impls"]:
            data = (run_dir / "replies" / f"{key}.{impl}.json").read_bytes()
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            (target / "replies" / f"{key}.{impl}.json.gz").write_bytes(packed)
    for name in ("manifest.json", "results.jsonl", "table.md"):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, target / name)
    return list(manifest["tasks"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("target", type=Path)
    options = parser.parse_args(argv)
    tasks = pack(options.run_dir, options.target)
    print(f"packed {len(tasks)} task(s) into {options.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
