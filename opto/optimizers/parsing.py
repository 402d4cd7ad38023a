"""Tolerant parsing of optimizer replies: one module for every optimizer.

Models wrap JSON in prose and fences, write Python dicts, forget commas, run out of tokens
and echo the prompt's example; small local models do all of it at once. The functions here
recover what the reply certainly says, drop what is uncertain, and say why in ``error``.
None of them raises, whatever it is given. See docs/parsing.md for the exact rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opto.optimizers.parsing_json import (
    Decoded,
    Partial,
    complete,
    decode_object,
    find_candidates,
    loose_pairs,
)
from opto.optimizers.parsing_xml import (
    ReplyScanner,
    XmlTags,
    clean_value,
    extract_between,
    extract_tag_blocks,
    strip_cdata,
    tidy,
    unwrap_fence,
)
from opto.utils.rendering import render_text

__all__ = [
    "SENTINEL",
    "ParsedReply",
    "extract_between",
    "extract_tag_blocks",
    "is_terminate",
    "normalise_name",
    "parse_json_reply",
    "parse_xml_reply",
]

SENTINEL = "TERMINATE"

_FENCE_LINE = re.compile(r"\s*(?:```|~~~)[\w+.#-]*\s*")
_SENTINEL_DECORATION = " \t\r\n\f\v\"'`*.!"
_NAME_WRAPPERS = (("`", "`"), ('"', '"'), ("'", "'"), ("**", "**"), ("*", "*"), ("<", ">"))


@dataclass(frozen=True)
class ParsedReply:
    """What a reply says. ``error`` is None when nothing went wrong; it may be set while
    ``suggestion`` is not empty: the reply was damaged and only the certain part was kept."""

    reasoning: str | None
    answer: Any | None
    suggestion: dict[str, Any]
    terminate: bool
    error: str | None
    raw: str
    format: str  # "json", "xml" or "none"
    truncated: bool = False  # the reply ended inside the object / a <value>
    notes: tuple[str, ...] = ()  # repairs and choices made, for logs

    @property
    def ok(self) -> bool:
        return self.error is None


def is_terminate(text: str) -> bool:
    """True when the whole reply is the TERMINATE sentinel.

    Whitespace, code fence lines, quotes, backticks, asterisks and trailing ``.``/``!`` around
    it are ignored; the comparison ignores case. A reply that only *mentions* TERMINATE is not
    the sentinel.
    """
    if not isinstance(text, str):
        return False
    stripped = text.strip()
    return len(stripped) <= 200 and _bare(stripped).casefold() == SENTINEL.casefold()


def _bare(text: str) -> str:
    lines = [line for line in text.split("\n") if not _FENCE_LINE.fullmatch(line)]
    return "\n".join(lines).strip(_SENTINEL_DECORATION)


def _ends_with_sentinel(text: str) -> bool:
    """True when the last non-empty line (fences and decoration ignored) is the sentinel."""
    end = len(text)
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        bare = _bare(text[start:end])
        if bare:
            return bare.casefold() == SENTINEL.casefold()
        end = start - 1
    return False


def normalise_name(name: object) -> str:
    """A suggested name without surrounding whitespace, backticks, quotes, ** or <>.

    The wrappers are peeled by moving two indices inward and the name is cut once at the
    end, so a name of a million backticks costs one pass, not a copy per layer.
    """
    text = name if isinstance(name, str) else render_text(name)
    start, end = 0, len(text)
    while True:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        for left, right in _NAME_WRAPPERS:
            if (
                end - start >= len(left) + len(right)
                and text.startswith(left, start, end)
                and text.endswith(right, start, end)
            ):
                start, end = start + len(left), end - len(right)
                break
        else:
            return text[start:end]


def _is_blank_code(name: str, value: object) -> bool:
    return "__code" in name and (value is None or (isinstance(value, str) and not value.strip()))


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular}" if n == 1 else f"{n} {plural or singular + 's'}"


@dataclass
class _Draft:
    """A reply being read; ``finish`` applies the TERMINATE rule and freezes it."""

    format: str = "none"
    reasoning: str | None = None
    answer: Any = None
    suggestion: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    sentinel: str | None = None  # a field that may hold the sentinel (e.g. "suggestion")
    settled: bool = False  # the reply answered; an empty suggestion is not a failure

    def add(self, entries: list[tuple[object, object]], clean: Callable[[Any], Any]) -> int:
        """Add name/value pairs, later ones winning; returns how many were cut off."""
        cut = 0
        for key, value in entries:
            if isinstance(value, Partial):
                cut += 1
                continue
            name = normalise_name(key)
            if not name:
                self.notes.append("skipped an entry with an empty name")
                continue
            value = clean(value)
            if _is_blank_code(name, value):
                self.notes.append(f"dropped blank {name}")
                continue
            if name in self.suggestion:
                self.notes.append(f"{name} was given more than once; the last value was used")
            self.suggestion[name] = value
        return cut

    def finish(self, raw: str) -> ParsedReply:
        terminate, error = False, self.error
        if not self.suggestion:
            texts = (self.reasoning, self.answer, self.sentinel, raw)
            if any(isinstance(t, str) and _ends_with_sentinel(t) for t in texts):
                terminate, error = True, None
        return ParsedReply(
            reasoning=self.reasoning,
            answer=self.answer,
            suggestion=self.suggestion,
            terminate=terminate,
            error=error,
            raw=raw,
            format=self.format,
            truncated=self.truncated,
            notes=tuple(self.notes),
        )


def _json_value(value: object) -> object:
    value = complete(value)
    return unwrap_fence(value) if isinstance(value, str) else value


def _as_text(value: object) -> str | None:
    """Reasoning as text: strings as they are, a list of strings one per line, else JSON."""
    value = complete(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return None


# --- JSON protocol ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    reasoning: str | None
    answer: str | None
    suggestion: str | None

    def role(self, key: object) -> str | None:
        folded = normalise_name(key).casefold()
        for role in ("suggestion", "reasoning", "answer"):
            wanted = getattr(self, role)
            if wanted is not None and folded == wanted:
                return role
        return None


def _make_keys(reasoning: object, answer: object, suggestion: object) -> _Keys:
    def fold(key: object) -> str | None:
        if key is None:
            return None
        return normalise_name(key).casefold() or None

    return _Keys(fold(reasoning), fold(answer), fold(suggestion))


def _roles(obj: dict, keys: _Keys) -> dict[str, object]:
    found = {}
    for key, value in obj.items():
        role = keys.role(key)
        if role is not None:
            found[role] = value
    return found


def _protocol_object(value: object, keys: _Keys) -> tuple[dict, bool] | None:
    """The object holding the suggestion key: the candidate or one nested up to two levels.
    Returns it with whether the text ended inside it."""
    level = [value]
    for _ in range(3):
        deeper = []
        for item in level:
            partial = isinstance(item, Partial)
            item = item.value if isinstance(item, Partial) else item
            if isinstance(item, dict):
                if any(keys.role(k) == "suggestion" for k in item):
                    return item, partial
                deeper.extend(item.values())
            elif isinstance(item, list):
                deeper.extend(item)
        level = deeper
    return None


_PAIR_NAME_KEYS = ("name", "variable", "var", "key", "parameter", "param")
_PAIR_VALUE_KEYS = ("value", "new_value", "suggested_value", "suggestion")


def _list_entries(items: list) -> list[tuple[object, object]]:
    """``[{"name": n, "value": v}, ...]`` or ``[{n: v}, ...]`` as name/value pairs."""
    entries = []
    for item in items:
        item = complete(item)
        if not isinstance(item, dict):
            continue
        folded = {normalise_name(k).casefold(): v for k, v in item.items()}
        name = next((folded[k] for k in _PAIR_NAME_KEYS if k in folded), None)
        value_key = next((k for k in _PAIR_VALUE_KEYS if k in folded), None)
        if isinstance(name, str) and value_key is not None:
            entries.append((name, folded[value_key]))
        elif len(item) == 1:
            entries.extend(item.items())
    return entries


def _suggestion_entries(raw: object, draft: _Draft) -> list[tuple[object, object]] | None:
    """Name/value pairs of a suggestion field; None (and draft.error set) if it has none."""
    value = raw.value if isinstance(raw, Partial) else raw
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, str):
        draft.sentinel = value
        if _ends_with_sentinel(value) or not value.strip():
            return []
        for candidate in find_candidates(value):
            decoded = decode_object(value[candidate.start : candidate.end], candidate.closed)
            if decoded is not None:
                draft.notes.append("the suggestion was a string holding JSON; it was decoded")
                return [(k, v) for k, v in decoded.value.items() if not isinstance(v, Partial)]
        draft.error = "'suggestion' must be an object of name: value pairs, not a string"
        return None
    if isinstance(value, list):
        entries = _list_entries(value)
        if entries or not value:
            if entries:
                draft.notes.append("the suggestion was a list of pairs; it was read as an object")
            return entries
        draft.error = "'suggestion' must be an object of name: value pairs, not a list"
        return None
    draft.error = f"'suggestion' must be an object of name: value pairs, not {type(value).__name__}"
    return None


def _note_repairs(draft: _Draft, decoded: Decoded) -> None:
    if decoded.repairs:
        draft.notes.append("repaired " + ", ".join(decoded.repairs))


def _from_protocol(decoded: Decoded, obj: dict, obj_partial: bool, keys: _Keys) -> _Draft:
    draft = _Draft(format="json", settled=True)
    _note_repairs(draft, decoded)
    roles = _roles(obj, keys)
    draft.reasoning = _as_text(roles.get("reasoning"))
    draft.answer = complete(roles.get("answer"))
    raw = roles["suggestion"]
    entries = _suggestion_entries(raw, draft)
    if entries is None:
        return draft
    cut = draft.add(entries, _json_value)
    if isinstance(raw, Partial) or cut:
        draft.truncated = True
        draft.error = "the reply was cut off inside the suggestion; kept " + _count(
            len(draft.suggestion), "complete entry", "complete entries"
        )
    elif obj_partial or decoded.partial:
        draft.truncated = True
        draft.notes.append("the reply was cut off after the suggestion was complete")
    return draft


def _from_whole_object(decoded: Decoded, keys: _Keys) -> _Draft:
    draft = _Draft(format="json", settled=True)
    _note_repairs(draft, decoded)
    roles = _roles(decoded.value, keys)
    draft.reasoning = _as_text(roles.get("reasoning"))
    draft.answer = complete(roles.get("answer"))
    entries = [(k, v) for k, v in decoded.value.items() if keys.role(k) is None]
    draft.add(entries, _json_value)
    draft.notes.append("no 'suggestion' key: the object's other keys were used (as Trace does)")
    if decoded.partial:
        draft.truncated = True
        draft.error = "the reply was cut off before the JSON object was closed; kept " + _count(
            len(draft.suggestion), "complete entry", "complete entries"
        )
    return draft


def _from_json_objects(text: str, keys: _Keys, require_suggestion: bool) -> _Draft | None:
    """Draft from the JSON objects in the reply (see docs/parsing.md, "Which object")."""
    candidates = find_candidates(text)
    decoded = []
    inside = -1  # end of the last decoded candidate: objects within it are its members
    for c in candidates:
        if c.start < inside:
            continue
        d = decode_object(text[c.start : c.end], c.closed)
        if d is not None:
            decoded.append(d)
            inside = c.end
    protocol = [(d, found) for d in decoded if (found := _protocol_object(d.value, keys))]
    if protocol:
        drafts = [_from_protocol(d, obj, partial, keys) for d, (obj, partial) in protocol]
        chosen = next((d for d in reversed(drafts) if d.suggestion), drafts[-1])
        if any(d.partial for d in decoded) and not chosen.truncated:
            chosen.truncated = True
            chosen.notes.append("the reply was cut off after the object that was used")
        if len(drafts) > 1:
            chosen.notes.append(
                f"the reply held {len(drafts)} objects with a suggestion; "
                + (
                    "the last one was used"
                    if chosen is drafts[-1]
                    else "the last non-empty one was used"
                )
            )
        return chosen
    if require_suggestion:
        return None
    whole = [d for d in decoded if any(keys.role(k) is None for k in d.value)]
    if whole:
        with_roles = [d for d in whole if _roles(d.value, keys)]
        return _from_whole_object((with_roles or whole)[-1], keys)
    if decoded:
        last = decoded[-1]
        roles = _roles(last.value, keys)
        draft = _Draft(format="json", reasoning=_as_text(roles.get("reasoning")))
        draft.answer = complete(roles.get("answer"))
        draft.truncated = last.partial
        draft.settled = draft.answer not in (None, "") or last.partial
        if last.partial:
            draft.error = "the reply was cut off before the suggestion was written"
        elif not draft.settled:
            draft.error = f"the JSON object has no '{keys.suggestion or 'suggestion'}'"
        return draft
    if candidates:
        found = _count(len(candidates), "JSON-like object")
        return _Draft(error=f"found {found} but could not read any")
    return None


def _from_loose_pairs(text: str, keys: _Keys) -> _Draft | None:
    draft = _Draft(format="json")
    entries: list[tuple[object, object]] = []
    for key, value in loose_pairs(text):
        role = keys.role(key)
        if role == "reasoning":
            draft.reasoning = _as_text(value)
        elif role == "answer":
            draft.answer = value
        elif role == "suggestion":
            entries.extend(_suggestion_entries(value, _Draft()) or [])
        else:
            entries.append((key, value))
    draft.add(entries, _json_value)
    if not draft.suggestion:
        return None
    recovered = _count(len(draft.suggestion), "entry", "entries")
    draft.notes.append(
        f'no readable JSON object; {recovered} recovered from loose "name": value pairs'
    )
    return draft


def _parse_json(text: str, keys: _Keys) -> ParsedReply:
    if is_terminate(text):
        return _terminated(text)
    draft = _from_json_objects(text, keys, require_suggestion=False)
    if draft is None or not (draft.suggestion or draft.settled):
        fallback = _from_loose_pairs(text, keys) or _xml_fallback(text)
        if fallback is not None:
            draft = fallback
    if draft is None:
        draft = _Draft(error="no JSON object found in the reply")
    return draft.finish(text)


def _xml_fallback(text: str) -> _Draft | None:
    draft = _from_xml(text, XmlTags())
    if not draft.suggestion:
        return None
    draft.notes.append("the reply used XML tags instead of JSON")
    return draft


def parse_json_reply(
    text: str,
    *,
    reasoning_key: str | None = "reasoning",
    answer_key: str | None = "answer",
    suggestion_key: str | None = "suggestion",
) -> ParsedReply:
    """Read a JSON-protocol reply (OptoPrime, OPRO, OptoPrimeMulti): never raises."""
    return _guarded(
        text, lambda t: _parse_json(t, _make_keys(reasoning_key, answer_key, suggestion_key))
    )


# --- XML protocol -----------------------------------------------------------------------


def _from_xml(text: str, tags: XmlTags) -> _Draft:
    draft = _Draft()
    scanner = ReplyScanner(text, tags)  # one index of the reply for every range scanned
    scan = scanner.scan(0, len(text))
    variables = list(scan.variables)
    if not variables:
        for block in scan.reasonings:
            if block.closed:
                variables += scanner.scan(block.inner_start, block.inner_end).variables
        if variables:
            draft.notes.append(f"the variables were inside <{tags.reasoning}>")
    reasonings = [tidy(strip_cdata(text[b.inner_start : b.inner_end])) for b in scan.reasonings]
    if reasonings:
        draft.reasoning = next((r for r in reversed(reasonings) if r), reasonings[-1])
    if reasonings or variables:
        draft.format = "xml"
    cut_names = [v.name for v in variables if v.cut_off]
    usable = [v for v in variables if not v.cut_off and v.name is not None and v.value is not None]
    incomplete = len(variables) - len(usable) - len(cut_names)
    if incomplete:
        draft.notes.append(
            f"skipped {_count(incomplete, f'<{tags.variable}> element')} without both "
            f"<{tags.name}> and <{tags.value}>"
        )
    draft.add([(strip_cdata(v.name), v.value) for v in usable], clean_value)
    if cut_names:
        draft.truncated = True
        name = normalise_name(strip_cdata(cut_names[0] or ""))
        where = f"the <{tags.value}> of '{name}'" if name else f"a <{tags.value}>"
        draft.error = (
            f"the reply was cut off inside {where}; kept "
            f"{_count(len(draft.suggestion), 'complete variable')}"
        )
    elif not variables:
        draft.error = f"no <{tags.variable}> element found in the reply"
    elif not draft.suggestion and not usable:
        draft.error = (
            f"found {_count(len(variables), f'<{tags.variable}> element')} but none had "
            f"both a <{tags.name}> and a <{tags.value}>"
        )
    return draft


def _parse_xml(text: str, tags: XmlTags) -> ParsedReply:
    if is_terminate(text):
        return _terminated(text)
    draft = _from_xml(text, tags)
    if not draft.suggestion and not draft.truncated:
        keys = _make_keys("reasoning", "answer", "suggestion")
        fallback = _from_json_objects(text, keys, require_suggestion=True)
        if fallback is not None and fallback.suggestion:
            fallback.notes.append("the reply used JSON instead of XML tags")
            draft = fallback
    return draft.finish(text)


def parse_xml_reply(
    text: str,
    *,
    reasoning_tag: str = "reasoning",
    variable_tag: str = "variable",
    name_tag: str = "name",
    value_tag: str = "value",
) -> ParsedReply:
    """Read an XML-tag reply (OptoPrimeV2, OPROv2): never raises. Values are strings."""

    def parse(t: str) -> ParsedReply:
        names = (reasoning_tag, variable_tag, name_tag, value_tag)
        if not all(isinstance(n, str) and n.strip() for n in names):
            return _Draft(error="tag names must be non-empty strings").finish(t)
        return _parse_xml(t, XmlTags(*(n.strip() for n in names)))

    return _guarded(text, parse)


# --- shared -----------------------------------------------------------------------------


def _terminated(text: str) -> ParsedReply:
    return ParsedReply(None, None, {}, True, None, text, "none")


def _guarded(text: object, parse: Callable[[str], ParsedReply]) -> ParsedReply:
    """Apply ``parse`` to a str; anything else, or a parser bug, becomes an error."""
    if not isinstance(text, str):
        return ParsedReply(
            None, None, {}, False, f"the reply is not text (got {type(text).__name__})", "", "none"
        )
    try:
        return parse(text)
    except Exception as exc:  # the contract is "never raises"; tests make sure this stays unused
        return ParsedReply(
            None,
            None,
            {},
            False,
            f"internal parser error ({type(exc).__name__}); please report this reply",
            text,
            "none",
        )
