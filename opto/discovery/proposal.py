"""Reading a proposal ``{"thought", "name", "code"}`` out of an LLM reply, tolerantly.

Models wrap JSON in prose and code fences, put raw newlines inside JSON strings, answer with a
Python dict, or forget the JSON and send a fenced function. All of these are accepted; what
cannot be read raises :class:`ProposalParseError` with a message meant for the model, because an
unreadable reply is fed back and costs a generation, it never stops the loop.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from opto.discovery.errors import ProposalParseError

MAX_REPLY_CHARS = 200_000
MAX_NAME_CHARS = 80
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
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
    for candidate in _candidates(text):
        value = _load(candidate)
        if value is None:
            continue
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


def _candidates(text: str) -> list[str]:
    """Substrings that may hold the proposal, most likely first."""
    found = [text.strip()]
    found += [body for _, body in _FENCE.findall(text)]
    found += _balanced_objects(text)
    unique: list[str] = []
    for item in found:
        if item and item not in unique:
            unique.append(item)
    return unique


def _balanced_objects(text: str, limit: int = 20) -> list[str]:
    """Every outermost ``{...}`` span, skipping braces inside double-quoted strings."""
    spans: list[str] = []
    depth, start, in_string, escaped = 0, -1, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and depth > 0:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
                if len(spans) >= limit:
                    break
    return spans


def _load(candidate: str) -> Any:
    """JSON (raw control characters allowed), else a Python literal; None if neither."""
    try:
        return json.loads(candidate, strict=False)
    except (ValueError, RecursionError):
        pass
    if not candidate.lstrip().startswith("{"):
        return None
    try:
        return ast.literal_eval(candidate)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


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
    match = _FENCE.search(code)
    if match and not code[: match.start()].strip():
        code = match.group(2)
    return textwrap.dedent(code).strip("\n") + "\n"


def _clean_name(name: str, code: str) -> str:
    name = " ".join(name.split())[:MAX_NAME_CHARS]
    if name:
        return name
    match = _DEF.search(code)
    return match.group(1) if match else "unnamed"


def _from_python_block(text: str) -> Proposal | None:
    """A reply with no JSON but one fenced function: take it, with the prose as the thought."""
    for language, body in _FENCE.findall(text):
        if language.lower() in ("", "python", "py") and _DEF.search(body):
            code = _clean_code(body)
            thought = " ".join(_FENCE.sub(" ", text).split())
            return Proposal(thought=thought, name=_clean_name("", code), code=code)
    return None


def _why_no_json(text: str) -> str:
    opened = text.count("{") - text.count("}")
    if "{" in text and opened > 0:
        return (
            "The reply ends before its JSON object is closed (was it cut off at the token limit?)."
        )
    for candidate in _balanced_objects(text, limit=1):
        try:
            json.loads(candidate, strict=False)
        except RecursionError:
            return "The JSON object in the reply is nested too deeply."
        except ValueError as error:
            return f"The JSON object in the reply could not be parsed: {error}."
    if "{" in text:
        return "The reply contains a JSON object that could not be parsed."
    return "The reply contains no JSON object."
