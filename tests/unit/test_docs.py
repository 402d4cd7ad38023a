"""The examples in docs/ run, and what they print matches their ``# comment``."""

import linecache
import re
from pathlib import Path

import pytest

from opto.trace import GRAPH

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PRINT_WITH_EXPECTATION = re.compile(r"^\s*print\(.*\)\s+# (.+)$")


def python_blocks():
    for path in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(BLOCK.findall(path.read_text())):
            yield pytest.param(block, id=f"{path.name}-{index}")


@pytest.mark.parametrize("code", list(python_blocks()))
def test_doc_example_runs_and_prints_what_it_says(code):
    GRAPH.clear()
    printed: list[str] = []

    def capture(*args, **kwargs):
        printed.append(" ".join(str(a) for a in args))

    filename = f"<doc-example-{abs(hash(code))}>"
    linecache.cache[filename] = (
        len(code),
        None,
        code.splitlines(True),
        filename,
    )  # as notebooks do
    exec(compile(code, filename, "exec"), {"print": capture, "__name__": "__doc__"})
    expected = [
        m.group(1).strip() for m in map(PRINT_WITH_EXPECTATION.match, code.splitlines()) if m
    ]
    prints = [line for line in code.splitlines() if line.strip().startswith("print(")]
    assert len(printed) == len(prints)
    for line, output in zip(prints, printed, strict=True):
        match = PRINT_WITH_EXPECTATION.match(line)
        if match:
            assert output.splitlines()[0] == match.group(1).strip(), line
    assert len(expected) <= len(printed)
