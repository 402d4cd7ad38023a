"""The examples in docs/ run, and what they print matches their ``# comment``."""

import linecache
import re
from pathlib import Path

import pytest

from opto.trace import GRAPH

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"(<!-- not executed[^>]*-->\n)?```python\n(.*?)```", re.S)
PRINT_WITH_EXPECTATION = re.compile(r"^\s*print\(.*\)\s+# (.+)$")


def python_blocks():
    for path in sorted(DOCS.glob("*.md")):
        for index, (not_executed, block) in enumerate(BLOCK.findall(path.read_text())):
            if not not_executed:  # blocks marked in the page need a real provider or server
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
            expected_text = match.group(1).strip()
            first = output.splitlines()[0] if output else ""
            if expected_text.startswith("... "):  # "... tail": the output ends with the tail
                assert first.endswith(expected_text[4:]), line
            else:
                assert first == expected_text, line
    assert len(expected) <= len(printed)
