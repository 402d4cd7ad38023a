"""opto installed in editable mode (what `scripts/setup.sh` does) works outside the repository,
sandbox children included: they import opto from wherever the parent imported it, with no
PYTHONPATH. Every process here starts in a temporary directory with PYTHONPATH removed."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OPTO_", "TRACE_"))}
    env["OPTO_CACHE_DIR"] = str(cwd / "cache")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_opto_is_imported_from_the_installation_not_from_a_path(tmp_path):
    """The premise of the other tests: outside the repository, without PYTHONPATH, opto
    imports, and from this repository's sources."""
    probe = run_python(
        ["-c", "import opto, pathlib; print(pathlib.Path(opto.__file__).parent)"], tmp_path
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == ROOT / "opto"


def test_the_discovery_demo_evaluates_its_baselines_in_the_sandbox(tmp_path):
    run_dir = tmp_path / "out" / "run"
    result = run_python(
        [
            str(ROOT / "examples" / "discopop_discovery.py"),
            "--offline",
            "--quick",
            "--generations",
            "1",
            "--run-dir",
            str(run_dir),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    opening = checkpoint["optimizers"][0]["opening"]
    assert [
        line.split(":")[1].split()[0] for line in opening.splitlines() if line.startswith("### ")
    ] == ["Fitness"] * 3  # the three baselines were scored in the sandbox
    assert "ModuleNotFoundError" not in result.stdout


def test_a_sandboxed_method_bundle_runs_from_a_module_outside_the_repository(tmp_path):
    (tmp_path / "scaler.py").write_text(
        textwrap.dedent(
            '''
            from opto import trace
            from opto.runtime import SubprocessPolicy


            class Scaler:
                def __init__(self):
                    self.factor = 3

                @trace.bundle(trainable=True, policy=SubprocessPolicy(wall_time=60, echo_output=False))
                def scale(self, values):
                    """Multiply each value by the factor."""
                    import numpy as np

                    return [float(v) for v in np.asarray(values) * self.factor]
            '''
        )
    )
    (tmp_path / "main.py").write_text(
        "from scaler import Scaler\nprint(Scaler().scale([1, 2]).data)\n"
    )
    result = run_python(["main.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[3.0, 6.0]"
