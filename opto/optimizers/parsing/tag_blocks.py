"""XML-like tags in a reply: nesting-aware, noise-tolerant, linear.

Tags match case-insensitively, may carry attributes and spaces (``< value type="code" >``),
and ``<![CDATA[...]]>`` sections are opaque. tagged_scanner.py builds the reply reader on
these patterns; ``extract_tag_blocks`` and ``extract_between`` are public helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from opto.optimizers.parsing.text_cleanup import clean_value


@dataclass(frozen=True)
class TagPatterns:
    """Compiled patterns for one tag name: ``open`` matches an opening tag (with its
    attributes), ``close`` a closing tag, and ``token`` any of a CDATA start, an opening or a
    closing tag, for one left-to-right scan."""

    open: re.Pattern
    close: re.Pattern
    token: re.Pattern  # CDATA start | open | close; group 1 "/" for a close


@lru_cache(maxsize=64)
def compiled_tag(name: str) -> TagPatterns:
    escaped = re.escape(name)
    return TagPatterns(
        open=re.compile(rf"<\s*{escaped}(?=[\s/>])([^<>]*)>", re.I),
        close=re.compile(rf"<\s*/\s*{escaped}\s*>", re.I),
        token=re.compile(rf"(<!\[CDATA\[)|<\s*(/)?\s*{escaped}(?=[\s/>])([^<>]*)>", re.I),
    )


def self_closing(attributes: str) -> bool:
    """Whether a tag whose attribute text is ``attributes`` closes itself (``<tag/>``)."""
    return attributes.rstrip().endswith("/")


@dataclass(frozen=True)
class Block:
    """One element: it spans text[start:end], its content text[inner_start:inner_end];
    ``closed`` is False for an element the text ended inside (its content runs to the end)."""

    start: int
    inner_start: int
    inner_end: int
    end: int
    closed: bool


def _matching_close(text: str, tag: TagPatterns, pos: int, end: int) -> re.Match | None:
    """The close tag matching an open tag that ended at ``pos`` (nesting-aware)."""
    depth = 1
    while True:
        m = tag.token.search(text, pos, end)
        if m is None:
            return None
        if m.group(1):  # CDATA: skip to its end
            close = text.find("]]>", m.end(), end)
            if close < 0:
                return None
            pos = close + 3
            continue
        if m.group(2):
            depth -= 1
            if depth == 0:
                return m
        elif not self_closing(m.group(3)):
            depth += 1
        pos = m.end()


def tag_blocks(text: str, name: str, start: int = 0, end: int | None = None) -> list[Block]:
    """Top-level ``<name>`` elements in text[start:end]; nested same-name tags stay inside.

    Stray close tags and CDATA sections are skipped; an element still open at ``end`` is
    returned unclosed.
    """
    end = len(text) if end is None else end
    tag = compiled_tag(name)
    blocks = []
    pos = start
    while True:
        m = tag.token.search(text, pos, end)
        if m is None:
            return blocks
        pos = m.end()
        if m.group(1):
            close = text.find("]]>", m.end(), end)
            if close < 0:
                return blocks
            pos = close + 3
            continue
        if m.group(2):  # a stray close tag
            continue
        attributes = m.group(3)
        if self_closing(attributes):
            blocks.append(Block(m.start(), m.end(), m.end(), m.end(), True))
            continue
        close = _matching_close(text, tag, m.end(), end)
        if close is None:
            blocks.append(Block(m.start(), m.end(), end, end, False))
            return blocks
        blocks.append(Block(m.start(), m.end(), close.start(), close.end(), True))
        pos = close.end()


def extract_tag_blocks(text: str, tag: str) -> list[str]:
    """Inner text, exactly as written, of every closed top-level ``<tag>`` element."""
    if not isinstance(text, str) or not isinstance(tag, str) or not tag.strip():
        return []
    try:
        return [
            text[b.inner_start : b.inner_end] for b in tag_blocks(text, tag.strip()) if b.closed
        ]
    except (RecursionError, MemoryError, ValueError):
        return []


def attribute(attributes: str, name: str) -> str | None:
    """Value of ``name="..."`` (or '...' or unquoted) in ``attributes``, a tag's attribute
    text; None when absent."""
    m = re.search(
        rf"""(?:^|\s){re.escape(name)}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'/>]+))""",
        attributes,
        re.I,
    )
    if m is None:
        return None
    return next(g for g in m.groups() if g is not None)


def extract_between(text: str, start: str, end: str) -> str | None:
    """Content of the last complete ``start ... end`` pair in ``text``, tidied; None if there
    is none.

    Markers match case-insensitively. When ``start`` occurs several times before an ``end``
    (a model mentioning the marker before using it), the one closest to ``end`` counts.
    """
    if not all(isinstance(s, str) for s in (text, start, end)) or not start or not end:
        return None
    starts = re.finditer(re.escape(start), text, re.I)
    upcoming = next(starts, None)
    latest = None  # the last start marker that ends before the current end marker
    found = None
    pos = 0
    for m in re.finditer(re.escape(end), text, re.I):
        while upcoming is not None and upcoming.end() <= m.start():
            latest, upcoming = upcoming, next(starts, None)
        if latest is not None and latest.start() >= pos:
            found = text[latest.end() : m.start()]
        pos = m.end()
    return None if found is None else clean_value(found)
