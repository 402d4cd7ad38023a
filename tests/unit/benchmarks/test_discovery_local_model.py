"""The committed real-model discovery runs (benchmarks/discovery_runs) replay offline.

The recordings hold every request and reply of a run with the local Qwen2.5-Coder-1.5B model;
replaying them sends the same requests (a different one is a ``ReplayMissError``) and, the
evaluations being deterministic, must reproduce the committed summaries' figures exactly.
"""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "discovery_local_model.py"
COMPARED = ("proposals", "statuses", "seed", "best", "fitness")


def load_script():
    spec = importlib.util.spec_from_file_location("discovery_local_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("task", ["discopop", "llm4ad"])
def test_the_recorded_real_model_run_replays_to_the_committed_figures(task, tmp_path):
    script = load_script()
    recorded = json.loads((script.RECORDINGS / f"{task}.summary.json").read_text())
    assert recorded["model"] == "qwen2.5-coder-1.5b-instruct"
    [replayed] = script.run_all(
        [task], recorded["proposals"], tmp_path, script.RECORDINGS, model=recorded["model"]
    )
    assert {key: replayed[key] for key in COMPARED} == {key: recorded[key] for key in COMPARED}
    assert (tmp_path / recorded["output"]).exists()  # what `opto report` renders
