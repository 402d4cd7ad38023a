"""Reports open in a real browser (Debian's headless Chromium): every section renders, the
plots and graphs are drawn, the table sorts, and nothing is fetched from anywhere.

Chromium is part of the test set-up (scripts/setup.sh installs it): these tests do not skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from opto.discovery.archive import ARCHIVE_FORMAT, ARCHIVE_VERSION, Entry

ROOT = Path(__file__).resolve().parents[3]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
BEST_SO_FAR_RED = (228, 87, 86)  # the "best so far" line of the scores plot


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    program = shutil.which("chromium")
    if program is None:
        pytest.fail("Chromium is missing: scripts/setup.sh installs it (apt-get install chromium)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    done = subprocess.run(
        [program, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def training_report(tmp_path_factory) -> Path:
    """The report of the run examples/run_report.py makes (offline, scripted replies)."""
    folder = tmp_path_factory.mktemp("report-example")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTO_", "TRACE_"))}
    env["OPTO_CACHE_DIR"] = str(folder / "cache")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_report.py"), "--offline", "--out", "out"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "report written to out/run/report.html" in done.stdout
    return folder / "out" / "run" / "report.html"


def test_the_training_report_renders_every_section(training_report, tmp_path):
    dom = chromium(tmp_path, training_report.as_uri(), "--dump-dom").stdout
    sections = re.findall(r'<section id="([^"]+)">', dom)
    assert sections == [
        "overview",
        "scores",
        "spending",
        "search",
        "steps",
        "configuration",
        "budget",
        "best-model",
    ]
    assert "BeamsearchAlgorithm" in dom and "Proposal 1: OptoPrime" in dom
    assert "refused: offset0" in dom  # the scripted reply that suggested "thirty-two"
    assert len(re.findall(r'<img [^>]*src="data:image/svg\+xml;base64,', dom)) >= 6
    assert 'aria-sort="none"' in dom  # the page's script ran and made the tables sortable


def test_the_training_report_looks_like_a_report(training_report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(
        tmp_path,
        training_report.as_uri(),
        "--hide-scrollbars",
        "--window-size=1280,1600",
        f"--screenshot={shot}",
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colors = image.getcolors(maxcolors=1 << 20)
    assert len(colors) > 500  # text, plots, a header: far from a blank page
    near_red = sum(
        n for n, (r, g, b) in colors if abs(r - 228) < 20 and abs(g - 87) < 20 and abs(b - 86) < 20
    )
    assert near_red > 200  # the scores plot (an <img> of inline SVG) was drawn


def test_a_link_can_open_the_table_sorted(training_report, tmp_path):
    dom = chromium(tmp_path, training_report.as_uri() + "#sort=tokens-desc", "--dump-dom").stdout
    table = dom[dom.index('id="step-table"') :]
    first_row = re.search(r"<tbody><tr><td[^>]*>(\d+)</td>", table).group(1)
    assert first_row == "4"  # the last step has spent the most tokens
    assert 'data-key="tokens" aria-sort="descending"' in table


def test_the_archive_report_sorts_by_fitness_and_shows_code(tmp_path):
    entries = []
    for name, generation, fitness in (("dpo", 0, 0.40), ("focal", 1, 0.35), ("best", 2, 0.47)):
        entry = dict(
            generation=generation,
            origin="seed" if generation == 0 else "llm",
            name=name,
            thought=f"why {name}",
            code=f"def {name}(a):\n    return a\n",
            code_hash=name,
            status="valid",
            fitness={"mean": fitness, "sd": 0.01, "n": 2, "per_seed": [fitness] * 2},
        )
        entries.append(entry)
    entries.append(
        dict(
            generation=3,
            origin="llm",
            name="<b>broken</b>",
            thought="",
            code="def (",
            code_hash="x",
            status="invalid",
            error="SyntaxError",
        )
    )
    from opto.report import write_report

    path = tmp_path / "archive.json"
    items = [Entry(id=i, **values).to_dict() for i, values in enumerate(entries, start=1)]
    document = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "entries": items,
        "settings": {"objective": {"preset": "base"}},
        "system_prompt": "prompt",
    }
    path.write_text(json.dumps(document))  # as the earlier DiscoveryLoop wrote archives
    report = write_report(path)
    dom = chromium(tmp_path, report.as_uri() + "#sort=fitness-desc", "--dump-dom").stdout
    body = dom[dom.index('id="entry-table"') :]
    order = re.findall(r'<tr><td data-sort="(\d+)">', body)
    assert order == ["3", "1", "2", "4"]  # best first, the invalid entry (no fitness) last
    assert "&lt;b&gt;broken&lt;/b&gt;" in dom and "<b>broken</b>" not in dom
    assert "def best(a):" in dom
    assert re.findall(r'<section id="([^"]+)">', dom) == [
        "overview",
        "settings",
        "fitness",
        "entries",
        "code",
    ]
