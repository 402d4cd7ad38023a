"""Every example runs offline, with its scripted replies, and reaches its goal."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTO_", "TRACE_"))}
    env["OPTO_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--offline", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_fixes_strange_sort_list(tmp_path):
    output = run_example("quickstart", tmp_path, "--out", str(tmp_path / "out"))
    assert "SCRIPTED replies" in output
    assert "refused a suggestion for __code0: the code does not compile" in output
    assert "step 3: output = [1, 5, 2, 4, 3]\ncorrect: done" in output
    drawing = (tmp_path / "out" / "quickstart_graph.gv").read_text()
    assert drawing.startswith("digraph")
    # the drawing is of the step it names, with the feedback that step was given
    assert "trace graph of step 2 (the last step that had feedback)" in output
    assert 'label="step 2: the graph and feedback OptoPrime was given"' in drawing
    assert "returned [1, 2, 3, 4, 5],\\nbut the expected output is [1, 5, 2, 4, 3]." in drawing
    assert "eval1 -> feedback" in drawing


def test_greeting_agent_learns_to_greet_in_spanish(tmp_path):
    output = run_example("greeting_agent", tmp_path)
    assert "before: 'Hello, The message was written by Juan.!'" in output
    assert "after:  'Hola, Juan!'" in output


def test_numeric_example_reaches_zero_error(tmp_path):
    output = run_example("numeric", tmp_path)
    assert "step 3: slope=2.0 intercept=1.0 error=0.0000" in output


def test_graph_demo_writes_a_drawing(tmp_path):
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "trace_graph_demo.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "trace_graph.gv").exists()
