"""The quality suite's harness (``benchmarks/quality``) loaded for these tests."""

import importlib.util
import sys
from pathlib import Path

import pytest

QUALITY_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
if str(QUALITY_DIR) not in sys.path:
    sys.path.insert(0, str(QUALITY_DIR))


@pytest.fixture(scope="session")
def quality_run():
    """benchmarks/quality/run.py as a module (not named ``run``: benchmarks/run.py is)."""
    spec = importlib.util.spec_from_file_location("quality_run", QUALITY_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
