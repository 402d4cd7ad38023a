"""Reading a proposal ``{"thought", "name", "code"}`` out of an LLM reply, tolerantly.

Models wrap JSON in prose and code fences, put raw newlines inside JSON strings, answer with a
Python dict, or forget the JSON and send a fenced function. All of these are accepted, read
with the optimizers' parsing package (opto.optimizers.parsing: object candidates, the
forgiving decoder, code fences); what
cannot be read raises :class:`ProposalParseError` with a message meant for the model, because an
unreadable reply is fed back and costs a generation, it never stops the loop.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from opto.discovery.errors import ProposalParseError
from opto.optimizers.parsing.code_blocks import code_fences
from opto.optimizers.parsing.json_candidates import find_candidates
from opto.optimizers.parsing.json_reader import decode_object

MAX_REPLY_CHARS = 200_000
MAX_NAME_CHARS = 80
_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.M)
_KEYS = {
    "code": ("code", "python", "source"),
    "name": ("name", "function_name"),
    "thought": ("thought", "thoughts", "reasoning", "rationale"),
}


@dataclass(frozen=True)
class Proposal:
    """One proposed loss: the reasoning behind it (``thought``), a short ``name``, and its
    source ``code``."""

    thought: str
    name: str
    code: str

    def to_dict(self) -> dict[str, str]:
        """The proposal as ``{"thought", "name", "code"}``."""
        return asdict(self)


def parse_proposal(text: str | None) -> Proposal:
    """The proposal in ``text``; raises :class:`ProposalParseError` saying what is wrong."""
    if text is None or not text.strip():
        raise ProposalParseError("The reply was empty.")
    if len(text) > MAX_REPLY_CHARS:
        raise ProposalParseError(
            f"The reply is {len(text)} characters long; keep it under {MAX_REPLY_CHARS}."
        )
    problems: list[str] = []
    for value in _objects(text):
        found = _proposal_from(value, problems)
        if found is not None:
            return found
    fallback = _from_python_block(text)
    if fallback is not None:
        return fallback
    if not problems:
        problems.append(_why_no_json(text))
    raise ProposalParseError(
        f'{problems[0]} Reply with one JSON object with the keys "thought", "name" and '
        '"code" (the code as one JSON string).'
    )


def _objects(text: str) -> list[dict]:
    """Every complete object in ``text`` that decodes, in reply order (see docs/parsing.md).

    Objects inside one that decoded are its members, not candidates of their own; an object
    the reply ends inside of is never used (a cut-off proposal would run half a function).
    """
    found: list[dict] = []
    inside = -1
    for candidate in find_candidates(text):
        if candidate.start < inside or not candidate.closed:
            continue
        decoded = decode_object(text[candidate.start : candidate.end])
        if decoded is not None:
            found.append(decoded.value)
            inside = candidate.end
    return found


def _field(data: dict, role: str) -> Any:
    lowered = {str(key).strip().lower(): value for key, value in data.items()}
    for key in _KEYS[role]:
        if key in lowered:
            return lowered[key]
    return None


def _text_of(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return value if isinstance(value, str) else ""


def _proposal_from(value: Any, problems: list[str], nested: bool = True) -> Proposal | None:
    """The proposal in ``value``, or in a dict one level inside it when ``nested``."""
    if not isinstance(value, dict):
        return None
    code_value = _field(value, "code")
    if code_value is None:
        inner_values = [item for item in value.values() if isinstance(item, dict)]
        for inner in inner_values if nested else ():
            found = _proposal_from(inner, [], nested=False)
            if found is not None:
                return found
        keys = ", ".join(repr(str(key)) for key in value) or "none"
        problems.append(f'The JSON object has no "code" key (its keys: {keys}).')
        return None
    code = _clean_code(_text_of(code_value))
    if not code.strip():
        problems.append('The "code" value is empty or not a string.')
        return None
    return Proposal(
        thought=_text_of(_field(value, "thought")).strip(),
        name=_clean_name(_text_of(_field(value, "name")), code),
        code=code,
    )


def _clean_code(code: str) -> str:
    """Strip a code fence the model put inside the string, and common indentation."""
    fences = code_fences(code)
    if fences and fences[0].closed and not code[: fences[0].outer_start].strip():
        code = code[fences[0].start : fences[0].end]
    return textwrap.dedent(code).strip("\n") + "\n"


def _clean_name(name: str, code: str) -> str:
    name = " ".join(name.split())[:MAX_NAME_CHARS]
    if name:
        return name
    match = _DEF.search(code)
    return match.group(1) if match else "unnamed"


def _from_python_block(text: str) -> Proposal | None:
    """A reply with no JSON but one fenced function: take it, with the prose as the thought."""
    fences = [fence for fence in code_fences(text) if fence.closed]
    for fence in fences:
        body = text[fence.start : fence.end]
        if fence.language.lower() in ("", "python", "py") and _DEF.search(body):
            code = _clean_code(body)
            prose, pos = [], 0
            for other in fences:
                prose.append(text[pos : other.outer_start])
                pos = other.outer_end
            thought = " ".join(" ".join([*prose, text[pos:]]).split())
            return Proposal(thought=thought, name=_clean_name("", code), code=code)
    return None


def _why_no_json(text: str) -> str:
    opened = text.count("{") - text.count("}")
    if "{" in text and opened > 0:
        return (
            "The reply ends before its JSON object is closed (was it cut off at the token limit?)."
        )
    for candidate in [c for c in find_candidates(text) if c.closed][:1]:
        try:
            json.loads(text[candidate.start : candidate.end], strict=False)
        except RecursionError:
            return "The JSON object in the reply is nested too deeply."
        except ValueError as error:
            return f"The JSON object in the reply could not be parsed: {error}."
    if "{" in text:
        return "The reply contains a JSON object that could not be parsed."
    return "The reply contains no JSON object."
