"""The benchmark runner accepts the trace-opt venv its own set-up script makes (inside
benchmarks/) and refuses an interpreter that would import this repository's opto."""

import os
import stat
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))
import run  # noqa: E402


def fake_python(tmp_path: Path, opto_file: Path) -> str:
    """An 'interpreter' that answers the runner's probe as trace-opt 0.1.3.8 would."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\necho 0.1.3.8\necho {opto_file}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.skipif(os.name != "posix", reason="the fake interpreter is a shell script")
def test_the_venv_made_by_setup_trace_opt_is_accepted(tmp_path):
    inside = run.LOCAL_VENV / "lib" / "python3.11" / "site-packages" / "opto" / "__init__.py"
    assert run.check_trace_opt(fake_python(tmp_path, inside)) == "0.1.3.8"


@pytest.mark.skipif(os.name != "posix", reason="the fake interpreter is a shell script")
def test_an_interpreter_importing_this_repository_is_refused(tmp_path):
    ours = run.REPO_ROOT / "opto" / "__init__.py"
    with pytest.raises(run.SetupError, match="from this repository"):
        run.check_trace_opt(fake_python(tmp_path, ours))
