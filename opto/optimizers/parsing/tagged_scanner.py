"""Read the reasoning and variable elements of a tagged reply (OptoPrimeV2, OPROv2).

``ReplyScanner`` indexes the reply once and then reads left to right, so even a reply full
of unclosed tags costs time linear in its length. tagged_reply.py turns what it finds into
a ParsedReply.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from opto.optimizers.parsing.tag_blocks import (
    Block,
    TagPatterns,
    attribute,
    compiled_tag,
    self_closing,
)


@dataclass(frozen=True)
class Variable:
    """One ``<variable>`` element as found: raw ``name`` and ``value`` text, or None if
    missing; ``cut_off`` when the text ended inside its ``<value>``."""

    name: str | None
    value: str | None
    cut_off: bool  # the text ended inside its <value>


@dataclass(frozen=True)
class XmlTags:
    """The tag names of a tagged reply: ``reasoning`` holds the reasoning, each
    ``variable`` element one suggestion with its ``name`` and ``value`` elements (a symbol
    set may rename any of them)."""

    reasoning: str = "reasoning"
    variable: str = "variable"
    name: str = "name"
    value: str = "value"


class _Pairs:
    """Every open tag of one name matched to its close tag, in a single stack pass.

    Looking matches up (instead of scanning forward from each open tag) keeps a reply full
    of unclosed tags linear.
    """

    def __init__(self, text: str, tag: TagPatterns) -> None:
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
            elif not self_closing(m.group(3)):
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
    reasoning, variable = compiled_tag(tags.reasoning), compiled_tag(tags.variable)
    name, value = compiled_tag(tags.name), compiled_tag(tags.value)
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
    ``text`` is the reply and ``tags`` its tag names.
    """

    def __init__(self, text: str, tags: XmlTags) -> None:
        self.text, self.tags = text, tags
        self.starter, self.inner = _reply_patterns(tags)
        self.variable, self.name = compiled_tag(tags.variable), compiled_tag(tags.name)
        self.reasoning_pairs = _Pairs(text, compiled_tag(tags.reasoning))
        self.value_pairs = _Pairs(text, compiled_tag(tags.value))

    def scan(self, start: int, end: int) -> XmlReply:
        """The reasoning blocks and variables found in ``text[start:end]``, in order."""
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
            elif self_closing(m.group(3)):
                pos = m.end()
            else:
                variable, pos = self.read_variable(m.group(3), m.end(), end)
                variables.append(variable)

    def reasoning_block(self, m: re.Match, end: int) -> Block:
        """The reasoning element whose opening tag matched ``m``, looked for before ``end``;
        if never closed it ends where the next variable begins."""
        attributes = m.group(2)
        if self_closing(attributes):
            return Block(m.start(), m.end(), m.end(), m.end(), True)
        close = self.reasoning_pairs.matching(m.end(), end)
        if close is not None:
            return Block(m.start(), m.end(), close.start(), close.end(), True)
        variable = self.variable.open.search(self.text, m.end(), end)
        stop = variable.start() if variable else end
        return Block(m.start(), m.end(), stop, stop, False)

    def read_variable(self, attributes: str, pos: int, end: int) -> tuple[Variable, int]:
        """Read one variable whose open tag ended at ``pos`` with the attribute text
        ``attributes``, before ``end``: (Variable, where to go on).

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
            elif self_closing(t.group(5)):
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
    """What a scan found: the ``reasonings`` blocks and the ``variables``, in order."""

    reasonings: list[Block]
    variables: list[Variable]
