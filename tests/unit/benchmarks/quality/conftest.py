"""The quality suite's modules (``benchmarks/quality/qbench``) are importable in these tests."""

import sys
from pathlib import Path

QUALITY_DIR = Path(__file__).resolve().parents[4] / "benchmarks" / "quality"
if str(QUALITY_DIR) not in sys.path:
    sys.path.insert(0, str(QUALITY_DIR))
