"""The public parsers: one primary reader per format, then an explicit fallback order.

``parse_json_reply`` reads JSON first; ``parse_xml_reply`` reads tags first. Only when the
primary reader found nothing usable (no suggestion, no settled answer, not cut off) are the
readers named in ``fallbacks`` tried, in the order given, and the first one that finds a
suggestion wins; its notes say so. Pass ``fallbacks=()`` for a strict parser. The defaults
(``JSON_FALLBACKS``, ``XML_FALLBACKS``) are listed in docs/parsing.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opto.optimizers.parsing.json_reply import (
    JsonKeys,
    json_keys,
    read_json_objects,
    read_loose_pairs,
)
from opto.optimizers.parsing.reply import Draft, ParsedReply, guarded, is_terminate, terminated
from opto.optimizers.parsing.tagged_reply import read_tags
from opto.optimizers.parsing.tagged_scanner import XmlTags

READERS = ("json", "loose_pairs", "xml")
JSON_FALLBACKS: tuple[str, ...] = ("loose_pairs", "xml")
XML_FALLBACKS: tuple[str, ...] = ("json",)


class FallbackError(ValueError):
    """A ``fallbacks`` argument names an unknown reader or the parser's own format."""


def _checked(fallbacks: Sequence[str], primary: str) -> tuple[str, ...]:
    chosen = tuple(fallbacks)
    for name in chosen:
        if name not in READERS or name == primary:
            allowed = [r for r in READERS if r != primary]
            raise FallbackError(f"unknown fallback {name!r} for {primary} replies; use {allowed}")
    return chosen


def _usable(draft: Draft | None) -> bool:
    return draft is not None and bool(draft.suggestion or draft.settled or draft.truncated)


def _fallback(name: str, text: str, keys: JsonKeys, tags: XmlTags) -> Draft | None:
    """The named reader's draft if it found a suggestion, else None."""
    if name == "loose_pairs":
        return read_loose_pairs(text, keys)  # None unless it recovered an entry
    if name == "xml":
        draft = read_tags(text, tags)
        note = "the reply used XML tags instead of JSON"
    else:
        draft = read_json_objects(text, keys, require_suggestion=True)
        note = "the reply used JSON instead of XML tags"
    if draft is None or not draft.suggestion:
        return None
    draft.notes.append(note)
    return draft


def _read(
    text: str, primary: Callable[[], Draft | None], fallbacks: tuple[str, ...], keys, tags
) -> ParsedReply:
    if is_terminate(text):
        return terminated(text)
    draft = primary()
    if not _usable(draft):
        for name in fallbacks:
            found = _fallback(name, text, keys, tags)
            if found is not None:
                draft = found
                break
    if draft is None:
        draft = Draft(error="no JSON object found in the reply")
    return draft.finish(text)


def parse_json_reply(
    text: str,
    *,
    reasoning_key: str | None = "reasoning",
    answer_key: str | None = "answer",
    suggestion_key: str | None = "suggestion",
    fallbacks: Sequence[str] = JSON_FALLBACKS,
) -> ParsedReply:
    """Read a JSON-protocol reply (OptoPrime, OPRO, OptoPrimeMulti); never raises on ``text``.

    Args:
        text: the model's reply; anything that is not a ``str`` gives an error reply.
        reasoning_key: the key holding the reasoning (None: not read).
        answer_key: the key holding a direct answer (None: not read).
        suggestion_key: the key holding ``{name: value}``; an object without it has its
            other keys read as the suggestion (as Trace does).
        fallbacks: readers tried, in order, when no JSON object gave a usable answer:
            ``"loose_pairs"`` (``"name": value`` pairs in damaged text) and ``"xml"``
            (``<variable>`` tags). ``()`` reads JSON only. Raises ``FallbackError`` for
            another name.
    """
    chosen = _checked(fallbacks, "json")
    keys = json_keys(reasoning_key, answer_key, suggestion_key)
    tags = XmlTags()
    return guarded(
        text,
        lambda t: _read(
            t, lambda: read_json_objects(t, keys, require_suggestion=False), chosen, keys, tags
        ),
    )


def parse_xml_reply(
    text: str,
    *,
    reasoning_tag: str = "reasoning",
    variable_tag: str = "variable",
    name_tag: str = "name",
    value_tag: str = "value",
    fallbacks: Sequence[str] = XML_FALLBACKS,
) -> ParsedReply:
    """Read a tagged reply (OptoPrimeV2, OPROv2); never raises on ``text``. Values are strings.

    Args:
        text: the model's reply; anything that is not a ``str`` gives an error reply.
        reasoning_tag, variable_tag, name_tag, value_tag: the tag names the prompt asked for;
            each must be a non-empty string (else the reply reports an error).
        fallbacks: readers tried, in order, when the tags gave no suggestion and the reply
            was not cut off: ``"json"`` (an object with a ``suggestion`` key) or
            ``"loose_pairs"``. ``()`` reads tags only. Raises ``FallbackError`` for another
            name.
    """
    chosen = _checked(fallbacks, "xml")
    keys = json_keys("reasoning", "answer", "suggestion")

    def parse(t: str) -> ParsedReply:
        names = (reasoning_tag, variable_tag, name_tag, value_tag)
        if not all(isinstance(n, str) and n.strip() for n in names):
            return Draft(error="tag names must be non-empty strings").finish(t)
        tags = XmlTags(*(n.strip() for n in names))
        return _read(t, lambda: read_tags(t, tags), chosen, keys, tags)

    return guarded(text, parse)
