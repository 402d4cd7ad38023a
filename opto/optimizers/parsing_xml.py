"""Read XML-like tags out of LLM replies: nesting-aware, noise-tolerant, linear.

Used through opto.optimizers.parsing. Tags match case-insensitively, may carry attributes
and spaces (``< value type="code" >``), and ``<![CDATA[...]]>`` sections are opaque.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

_FENCE_OPEN = re.compile(r"```[\w+.#-]*[ \t]*")


@dataclass(frozen=True)
class _Tag:
    """Compiled patterns for one tag name."""

    open: re.Pattern
    close: re.Pattern
    token: re.Pattern  # CDATA start | open | close; group 1 "/" for a close


@lru_cache(maxsize=64)
def _tag(name: str) -> _Tag:
    escaped = re.escape(name)
    return _Tag(
        open=re.compile(rf"<\s*{escaped}(?=[\s/>])([^<>]*)>", re.I),
        close=re.compile(rf"<\s*/\s*{escaped}\s*>", re.I),
        token=re.compile(rf"(<!\[CDATA\[)|<\s*(/)?\s*{escaped}(?=[\s/>])([^<>]*)>", re.I),
    )


def _self_closing(attributes: str) -> bool:
    return attributes.rstrip().endswith("/")


@dataclass(frozen=True)
class Block:
    """One element: it spans text[start:end], its content text[inner_start:inner_end]."""

    start: int
    inner_start: int
    inner_end: int
    end: int
    closed: bool


def _matching_close(text: str, tag: _Tag, pos: int, end: int) -> re.Match | None:
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
        elif not _self_closing(m.group(3)):
            depth += 1
        pos = m.end()


def tag_blocks(text: str, name: str, start: int = 0, end: int | None = None) -> list[Block]:
    """Top-level ``<name>`` elements in text[start:end]; nested same-name tags stay inside.

    Stray close tags and CDATA sections are skipped; an element still open at ``end`` is
    returned unclosed.
    """
    end = len(text) if end is None else end
    tag = _tag(name)
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
        if _self_closing(attributes):
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
    """Value of ``name="..."`` (or '...' or unquoted) in a tag's attribute text."""
    m = re.search(
        rf"""(?:^|\s){re.escape(name)}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'/>]+))""",
        attributes,
        re.I,
    )
    if m is None:
        return None
    return next(g for g in m.groups() if g is not None)


def strip_cdata(value: str) -> str:
    """Replace each CDATA section by its content (an unclosed one runs to the end)."""
    parts = []
    pos = 0
    while True:
        start = value.find("<![CDATA[", pos)
        if start < 0:
            parts.append(value[pos:])
            return "".join(parts)
        parts.append(value[pos:start])
        close = value.find("]]>", start + 9)
        if close < 0:
            parts.append(value[start + 9 :])
            return "".join(parts)
        parts.append(value[start + 9 : close])
        pos = close + 3


def _shared_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    low, high = min(texts), max(texts)  # the shared prefix of all is the one of these two
    i = 0
    while i < len(low) and low[i] == high[i]:
        i += 1
    return low[:i]


def tidy(value: str) -> str:
    """Trim a tag's content without touching code indentation.

    Blank lines at both ends and the trailing whitespace of the last line are removed. If the
    content starts on the tag's own line, the spaces before it are removed; if it starts on a
    later line, the indentation shared by all its non-blank lines is removed (relative
    indentation is kept, so code stays valid). Nothing inside is changed.
    """
    lines = value.split("\n")
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    last = len(lines)
    while last > first and not lines[last - 1].strip():
        last -= 1
    if first == last:
        return ""
    kept = lines[first:last]
    kept[-1] = kept[-1].rstrip()
    if first == 0:
        kept[0] = kept[0].lstrip()
    else:
        indents = [ln[: len(ln) - len(ln.lstrip(" \t"))] for ln in kept if ln.strip()]
        shared = _shared_prefix(indents)
        if shared:
            kept = [ln[len(shared) :] if ln.startswith(shared) else ln for ln in kept]
    return "\n".join(kept)


def unwrap_fence(value: str) -> str:
    """The content of a value that is exactly one ``` fenced block, else the value unchanged."""
    stripped = value.strip()
    if not (stripped.startswith("```") and stripped.endswith("```")):
        return value
    lines = stripped.split("\n")
    if len(lines) < 2 or lines[-1].strip() != "```" or not _FENCE_OPEN.fullmatch(lines[0]):
        return value
    inner = lines[1:-1]
    if any(line.lstrip().startswith("```") for line in inner):
        return value
    return "\n".join(inner)


@dataclass(frozen=True)
class Variable:
    """One ``<variable>`` element as found: raw name and value text, or None if missing."""

    name: str | None
    value: str | None
    cut_off: bool  # the text ended inside its <value>


@dataclass(frozen=True)
class XmlTags:
    reasoning: str = "reasoning"
    variable: str = "variable"
    name: str = "name"
    value: str = "value"


def clean_value(raw: str) -> str:
    """A value's text as the parser returns it: CDATA unwrapped, tidied, a lone fence removed."""
    value = tidy(strip_cdata(raw))
    inner = unwrap_fence(value)
    return value if inner == value else tidy("\n" + inner)  # fence content starts a new line


class _Pairs:
    """Every open tag of one name matched to its close tag, in a single stack pass.

    Looking matches up (instead of scanning forward from each open tag) keeps a reply full
    of unclosed tags linear.
    """

    def __init__(self, text: str, tag: _Tag) -> None:
        self.close_of: dict[int, re.Match] = {}  # open tag's end -> its close tag
        self.closes: list[re.Match] = []
        opened: list[int] = []
        pos = 0
        while True:
            m = tag.token.search(text, pos)
            if m is None:
                break
            pos = m.end()
            if m.group(1):  # CDATA is opaque
                close = text.find("]]>", m.end())
                if close < 0:
                    break
                pos = close + 3
            elif m.group(2):
                self.closes.append(m)
                if opened:
                    self.close_of[opened.pop()] = m
            elif not _self_closing(m.group(3)):
                opened.append(m.end())
        self.close_starts = [m.start() for m in self.closes]

    def matching(self, open_end: int, end: int) -> re.Match | None:
        close = self.close_of.get(open_end)
        return close if close is not None and close.end() <= end else None

    def first_after(self, pos: int, end: int) -> re.Match | None:
        i = bisect.bisect_left(self.close_starts, pos)
        if i < len(self.closes) and self.closes[i].end() <= end:
            return self.closes[i]
        return None

    def last_between(self, pos: int, end: int) -> re.Match | None:
        i = bisect.bisect_left(self.close_starts, end) - 1
        while i >= 0 and self.closes[i].end() > end:
            i -= 1
        return self.closes[i] if i >= 0 and self.closes[i].start() >= pos else None


@lru_cache(maxsize=16)
def _reply_patterns(tags: XmlTags) -> tuple[re.Pattern, re.Pattern]:
    """(next reasoning or variable element, next tag that matters inside a variable)."""
    reasoning, variable = _tag(tags.reasoning), _tag(tags.variable)
    name, value = _tag(tags.name), _tag(tags.value)
    starter = re.compile(rf"(?P<reasoning>{reasoning.open.pattern})|{variable.open.pattern}", re.I)
    inner = re.compile(
        rf"{variable.token.pattern}|{name.open.pattern}|{value.open.pattern}"
        rf"|(?P<reasoning>{reasoning.open.pattern})",
        re.I,
    )
    return starter, inner


class ReplyScanner:
    """Reads reasoning and variable elements of one reply, left to right.

    Building one indexes the whole reply once; ``scan`` may then be called on any number of
    disjoint ranges (the reply, then each reasoning block) at a cost linear in the range.
    """

    def __init__(self, text: str, tags: XmlTags) -> None:
        self.text, self.tags = text, tags
        self.starter, self.inner = _reply_patterns(tags)
        self.variable, self.name = _tag(tags.variable), _tag(tags.name)
        self.reasoning_pairs = _Pairs(text, _tag(tags.reasoning))
        self.value_pairs = _Pairs(text, _tag(tags.value))

    def scan(self, start: int, end: int) -> XmlReply:
        reasonings, variables = [], []
        pos = start
        while True:
            m = self.starter.search(self.text, pos, end)
            if m is None:
                return XmlReply(reasonings, variables)
            if m.group("reasoning") is not None:
                block = self.reasoning_block(m, end)
                reasonings.append(block)
                pos = max(block.end, m.end())
            elif _self_closing(m.group(3)):
                pos = m.end()
            else:
                variable, pos = self.read_variable(m.group(3), m.end(), end)
                variables.append(variable)

    def reasoning_block(self, m: re.Match, end: int) -> Block:
        """A reasoning element; if never closed it ends where the next variable begins."""
        attributes = m.group(2)
        if _self_closing(attributes):
            return Block(m.start(), m.end(), m.end(), m.end(), True)
        close = self.reasoning_pairs.matching(m.end(), end)
        if close is not None:
            return Block(m.start(), m.end(), close.start(), close.end(), True)
        variable = self.variable.open.search(self.text, m.end(), end)
        stop = variable.start() if variable else end
        return Block(m.start(), m.end(), stop, stop, False)

    def read_variable(self, attributes: str, pos: int, end: int) -> tuple[Variable, int]:
        """Read one variable whose open tag ended at ``pos``: (Variable, where to go on).

        It ends at its close tag or where the next variable opens. The first name (a
        ``<name>`` element, else a ``name="..."`` attribute) and the first value count;
        value content is opaque, so tags inside it do not end anything.
        """
        text = self.text
        name = attribute(attributes, "name")
        named_by_tag = False
        value: str | None = None
        while True:
            t = self.inner.search(text, pos, end)
            if t is None:
                return Variable(name, value, False), end
            if t.group(1):  # CDATA between tags: skip it
                close = text.find("]]>", t.end(), end)
                pos = end if close < 0 else close + 3
            elif t.group(3) is not None:  # </variable>, or <variable> opening the next one
                return Variable(name, value, False), t.end() if t.group(2) else t.start()
            elif t.group("reasoning") is not None:  # an unclosed variable, then reasoning
                return Variable(name, value, False), t.start()
            elif t.group(4) is not None:  # <name>: up to the next tag
                lt = text.find("<", t.end(), end)
                stop = end if lt < 0 else lt
                if not named_by_tag:
                    name, named_by_tag = text[t.end() : stop], True
                closing = self.name.close.match(text, stop) if lt >= 0 else None
                pos = closing.end() if closing else stop
            elif _self_closing(t.group(5)):
                pos = t.end()
            else:
                close = self.value_close(t.end(), end)
                if close is None:
                    if value is None:
                        return Variable(name, text[t.end() : end], True), end
                    return Variable(name, value, False), end
                if value is None:
                    value = text[t.end() : close.start()]
                pos = close.end()

    def value_close(self, pos: int, end: int) -> re.Match | None:
        """Where a value opened at ``pos`` ends.

        Nesting-aware first. If the value holds an unbalanced ``<value>`` the first close
        tag is used. If text follows the close tag on its line while another close tag
        comes before the variable's end, the first one was part of the value (code that
        handles tags), so the last one before the variable's end is used.
        """
        text = self.text
        close = self.value_pairs.matching(pos, end) or self.value_pairs.first_after(pos, end)
        if close is None:
            return None
        after = close.end()
        following = text.find("<", after, end)
        if not text[after : end if following < 0 else following].strip():
            return close
        next_open = self.variable.open.search(text, after, end)
        boundary = next_open.start() if next_open else end
        own_close = self.variable.close.search(text, after, boundary)
        boundary = own_close.start() if own_close else boundary
        return self.value_pairs.last_between(after, boundary) or close


@dataclass(frozen=True)
class XmlReply:
    reasonings: list[Block]
    variables: list[Variable]


def extract_between(text: str, start: str, end: str) -> str | None:
    """Content of the last complete ``start ... end`` pair, tidied; None if there is none.

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
