"""Tidying a value read from a reply: CDATA unwrapped, blank edges and shared indent removed.

Code values must stay valid, so only whole blank lines and indentation shared by every line
are removed; nothing inside a value is changed.
"""

from __future__ import annotations

from opto.optimizers.parsing.code_blocks import unwrap_fence


def strip_cdata(value: str) -> str:
    """``value`` with each CDATA section replaced by its content (an unclosed one runs to the
    end)."""
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
    """Trim ``value``, a tag's content, without touching code indentation.

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


def clean_value(raw: str) -> str:
    """``raw``, a value's text, as the parser returns it: CDATA unwrapped, tidied, a lone
    fence removed."""
    value = tidy(strip_cdata(raw))
    inner = unwrap_fence(value)
    return value if inner == value else tidy("\n" + inner)  # fence content starts a new line
