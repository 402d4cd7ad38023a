"""Read a JSON-protocol reply (OptoPrime, OPRO, OptoPrimeMulti) into a Draft.

``read_json_objects`` decodes the objects json_candidates.py finds and chooses the one that
holds the suggestion (docs/parsing.md, "Which object"); ``read_loose_pairs`` recovers
``"name": value`` pairs when no object can be read. replies.py decides which reader runs
when.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from opto.optimizers.parsing.code_blocks import unwrap_fence
from opto.optimizers.parsing.json_candidates import find_candidates
from opto.optimizers.parsing.json_reader import (
    Decoded,
    Partial,
    complete,
    decode_object,
    loose_pairs,
)
from opto.optimizers.parsing.reply import Draft, count, ends_with_sentinel, normalise_name


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


@dataclass(frozen=True)
class JsonKeys:
    """The keys a JSON reply uses for the ``reasoning``, the ``answer`` and the
    ``suggestion``, case-folded (None: the reply has no such key)."""

    reasoning: str | None
    answer: str | None
    suggestion: str | None

    def role(self, key: object) -> str | None:
        """Which of the three roles the reply's ``key`` plays (compared without case or
        surrounding punctuation), or None for any other key."""
        folded = normalise_name(key).casefold()
        for role in ("suggestion", "reasoning", "answer"):
            wanted = getattr(self, role)
            if wanted is not None and folded == wanted:
                return role
        return None


def json_keys(reasoning: object, answer: object, suggestion: object) -> JsonKeys:
    """The ``JsonKeys`` for the configured key names ``reasoning``, ``answer`` and
    ``suggestion`` (None or an empty name: no such key)."""

    def fold(key: object) -> str | None:
        if key is None:
            return None
        return normalise_name(key).casefold() or None

    return JsonKeys(fold(reasoning), fold(answer), fold(suggestion))


def _roles(obj: dict, keys: JsonKeys) -> dict[str, object]:
    found = {}
    for key, value in obj.items():
        role = keys.role(key)
        if role is not None:
            found[role] = value
    return found


def _protocol_object(value: object, keys: JsonKeys) -> tuple[dict, bool] | None:
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


def _suggestion_entries(raw: object, draft: Draft) -> list[tuple[object, object]] | None:
    """Name/value pairs of a suggestion field; None (and draft.error set) if it has none."""
    value = raw.value if isinstance(raw, Partial) else raw
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, str):
        draft.sentinel = value
        if ends_with_sentinel(value) or not value.strip():
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


def _note_repairs(draft: Draft, decoded: Decoded) -> None:
    if decoded.repairs:
        draft.notes.append("repaired " + ", ".join(decoded.repairs))


def _from_protocol(decoded: Decoded, obj: dict, obj_partial: bool, keys: JsonKeys) -> Draft:
    draft = Draft(format="json", settled=True)
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
        draft.error = "the reply was cut off inside the suggestion; kept " + count(
            len(draft.suggestion), "complete entry", "complete entries"
        )
    elif obj_partial or decoded.partial:
        draft.truncated = True
        draft.notes.append("the reply was cut off after the suggestion was complete")
    return draft


def _from_whole_object(decoded: Decoded, keys: JsonKeys) -> Draft:
    draft = Draft(format="json", settled=True)
    _note_repairs(draft, decoded)
    roles = _roles(decoded.value, keys)
    draft.reasoning = _as_text(roles.get("reasoning"))
    draft.answer = complete(roles.get("answer"))
    entries = [(k, v) for k, v in decoded.value.items() if keys.role(k) is None]
    draft.add(entries, _json_value)
    draft.notes.append("no 'suggestion' key: the object's other keys were used (as Trace does)")
    if decoded.partial:
        draft.truncated = True
        draft.error = "the reply was cut off before the JSON object was closed; kept " + count(
            len(draft.suggestion), "complete entry", "complete entries"
        )
    return draft


def read_json_objects(text: str, keys: JsonKeys, require_suggestion: bool) -> Draft | None:
    """Draft from the JSON objects in the reply ``text`` (see docs/parsing.md, "Which
    object"), their keys read by ``keys``; with ``require_suggestion`` only an object
    that holds a suggestion counts (None otherwise)."""
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
        draft = Draft(format="json", reasoning=_as_text(roles.get("reasoning")))
        draft.answer = complete(roles.get("answer"))
        draft.truncated = last.partial
        draft.settled = draft.answer not in (None, "") or last.partial
        if last.partial:
            draft.error = "the reply was cut off before the suggestion was written"
        elif not draft.settled:
            draft.error = f"the JSON object has no '{keys.suggestion or 'suggestion'}'"
        return draft
    if candidates:
        found = count(len(candidates), "JSON-like object")
        return Draft(error=f"found {found} but could not read any")
    return None


def read_loose_pairs(text: str, keys: JsonKeys) -> Draft | None:
    """Draft from the ``"name": value`` pairs of ``text`` when no object could be read
    (the last resort); ``keys`` tells reasoning and answer from variables."""
    draft = Draft(format="json")
    entries: list[tuple[object, object]] = []
    for key, value in loose_pairs(text):
        role = keys.role(key)
        if role == "reasoning":
            draft.reasoning = _as_text(value)
        elif role == "answer":
            draft.answer = value
        elif role == "suggestion":
            entries.extend(_suggestion_entries(value, Draft()) or [])
        else:
            entries.append((key, value))
    draft.add(entries, _json_value)
    if not draft.suggestion:
        return None
    recovered = count(len(draft.suggestion), "entry", "entries")
    draft.notes.append(
        f'no readable JSON object; {recovered} recovered from loose "name": value pairs'
    )
    return draft
