"""Reading a suggestion's keys as the names the prompt showed.

Small models rarely write a key exactly as the prompt's name. Replies of Qwen2.5-Coder-1.5B
held ``"(code) __code0"``, ``"`__code0`"``, ``"code0"``, ``"__code0: The code should start
with:"``, ``"(code) __code0:def fib4(n: int):"`` (the whole variable line echoed as a key), and
the code itself under a key ``"code"`` with the value ``"(code) __code0:def fib4(...)..."``.
Each such key is read here as one of the prompt's names when exactly one name fits; a key
that fits several is refused with a reason, never guessed, and a key that fits none is left
as it is (the step reports it as unknown). Values that start with an echo of their variable
line (``"(code) __code0:def ..."``, ``"(float) a0=5.64"``) lose that prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opto.optimizers.parsing import parse_json_reply
from opto.optimizers.problem import ProblemNodes, is_code_parameter
from opto.trace.nodes import Node
from opto.utils.source_analysis import functions, parse

# "(type) name" followed by nothing or by ":"/"=" and the rest of the echoed line
_ECHO = re.compile(
    r"\s*(?:\((?P<type>[\w.\[\], |]*)\)\s*)?[`'\"*]*"
    r"(?P<name>[A-Za-z_]\w*(?::\d+)?)[`'\"*]*\s*(?P<rest>[:=].*)?",
    re.DOTALL,
)
_TRACE_NAME = re.compile(r"[A-Za-z_]\w*:\d+")
_WRAPPING = " \t\r\n`'\"*"
_CODE_KEYS = ("code", "function", "source", "source code", "new code", "python")
_TYPE_KEYS = ("int", "float", "str", "bool", "list", "dict", "tuple", "set")
_CODE_START = re.compile(r"\s*(?:async\s+def|def|@|class)\b")
_CODE_LABEL_LINE = re.compile(r"[ \t]*\(code\)[ \t]*\r?\n")
_CODE_KEY_IN_TEXT = re.compile(
    r"[\"'](?:code|function|source|source code|new code|python)[\"']\s*:", re.I
)


@dataclass(frozen=True)
class PromptNames:
    """The names one prompt showed, by section: what a suggested key may refer to.

    Arguments:
        variables: the #Variables names (what the LLM may change), in prompt order.
        inputs: the #Inputs names (inputs and constants of the code).
        computed: the names of #Others and #Outputs (values the code computes).
        code_variables: the variables that hold code: a bundle's code parameter, or a string
            whose text defines a function (code trained as a plain string, as discovery does).
    """

    variables: tuple[str, ...]
    inputs: frozenset[str] = frozenset()
    computed: frozenset[str] = frozenset()
    code_variables: tuple[str, ...] = ()

    @classmethod
    def of_problem(cls, problem: ProblemNodes | None, parameters: Iterable[Node]) -> PromptNames:
        """The names of ``problem`` (``summary.nodes``); without one, the trainable
        ``parameters``' names, so that a subclass with its own summary still resolves keys."""
        if problem is None:
            trainable = [p for p in parameters if getattr(p, "trainable", False)]
            return cls(
                variables=tuple(p.py_name for p in trainable),
                code_variables=tuple(p.py_name for p in trainable if _holds_code(p)),
            )
        return cls(
            variables=tuple(problem.variables),
            inputs=frozenset(problem.inputs),
            computed=frozenset(problem.others) | frozenset(problem.outputs),
            code_variables=tuple(n for n, p in problem.variables.items() if _holds_code(p)),
        )

    @property
    def all(self) -> tuple[str, ...]:
        """Every name the prompt showed: the variables, then inputs and computed values."""
        return (*self.variables, *sorted(self.inputs), *sorted(self.computed))

    def section_of(self, name: str) -> str | None:
        """``"variable"``, ``"input"``, ``"computed"``, or None for a name not shown."""
        if name in self.variables:
            return "variable"
        if name in self.inputs:
            return "input"
        if name in self.computed:
            return "computed"
        return None


@dataclass
class ResolvedSuggestion:
    """A suggestion with its keys read as prompt names.

    ``suggestion`` maps each resolved name (or, when nothing fitted, the key as written) to
    its value; ``renamed`` says which written key was read as which name; ``refused`` holds
    keys that could not be read safely, with the reason.
    """

    suggestion: dict[str, Any] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def candidates_for(key: str, names: PromptNames) -> list[str]:
    """The prompt names ``key`` may stand for: one when it is exact or an unmistakable echo,
    several when it is ambiguous, none when nothing fits."""
    known = names.all
    text = key.strip(_WRAPPING)
    if text in known:
        return [text]
    if _TRACE_NAME.fullmatch(text):
        return []  # a node's own name ("x:0"): the update rules match it, ambiguity included
    match = _ECHO.fullmatch(text)
    if match is None:
        return []
    token = match.group("name")
    for form in (token, token.replace(":", "")):
        if form in known:
            return [form]
    bare = token.replace(":", "").lstrip("_")
    return [name for name in known if name.lstrip("_") == bare and bare]


def strip_echo(value: Any, name: str, is_code: bool) -> Any:
    """``value`` without a leading echo of its variable line (``name`` is the variable,
    ``is_code`` says it holds code).

    ``"(float) a0=5.64"`` becomes ``"5.64"``; for code, ``"__code0:def f(): ..."`` becomes
    ``"def f(): ..."`` as well (a bare ``name:`` prefix is removed only when code follows,
    since ``x: int = 1`` is valid Python), and so does the type label alone on the first
    line, ``"(code)\nimport numpy ..."`` (a small model's echo of the prompt's ``(code)``
    label; kept as code it runs as an expression and fails with ``NameError: code``), when
    what follows parses.
    """
    if not isinstance(value, str):
        return value
    typed = re.match(rf"\s*\([\w.\[\], |]*\)\s*{re.escape(name)}\s*[:=]\s*", value)
    if typed:
        return value[typed.end() :]
    if is_code:
        bare = re.match(rf"\s*{re.escape(name)}\s*:\s*", value)
        if bare and _CODE_START.match(value, bare.end()):
            return value[bare.end() :]
        label = _CODE_LABEL_LINE.match(value)
        if label and _parses(value[label.end() :]):
            return value[label.end() :]
    return value


def _holds_code(parameter: Node) -> bool:
    """A bundle's code parameter, or a string parameter whose text defines a function."""
    if is_code_parameter(parameter):
        return True
    text = parameter.data
    if not isinstance(text, str) or "def " not in text:
        return False
    try:
        return bool(functions(parse(text)))
    except SyntaxError:
        return False


def _parses(text: str) -> bool:
    """Whether ``text`` is Python source."""
    try:
        parse(text)
    except SyntaxError:
        return False
    return True


def _defines_code(value: Any) -> bool:
    return isinstance(value, str) and bool(_CODE_START.match(value)) and _parses(value)


def _target_from_value(key: str, value: Any, names: PromptNames) -> tuple[str | None, Any]:
    """The variable a key that names no variable means, judged from its value, with the value
    to use: a code key (``"code"``) whose value echoes ``(code) name:...`` or, failing that,
    holds code while there is exactly one code variable; a type key (``"float"``, as the line
    ``(float) a0=1.0`` split into key and value) whose value starts with ``name=``."""
    folded = key.strip(_WRAPPING).casefold()
    echo = _ECHO.match(value) if isinstance(value, str) else None
    if echo is not None and echo.group("rest"):
        found = candidates_for(echo.group("name"), names)
        typed = echo.group("type") is not None
        if len(found) == 1 and folded in _CODE_KEYS and typed:
            return found[0], value
        if len(found) == 1 and folded in _TYPE_KEYS and not typed:
            return found[0], echo.group("rest")[1:].strip()
    if folded in _CODE_KEYS and len(names.code_variables) == 1 and _defines_code(value):
        return names.code_variables[0], value
    return None, value


def resolve_suggestion(suggestion: Mapping[str, Any], names: PromptNames) -> ResolvedSuggestion:
    """Read each key of ``suggestion`` as a prompt name (see the module's docstring).

    Arguments:
        suggestion: ``{key as written: value}`` from the parsed reply.
        names: the names the prompt showed.

    A key written exactly wins over echoes of the same name; echoes of one name with
    different values, and keys that fit several names, are refused.
    """
    code = set(names.code_variables)
    exact: dict[str, Any] = {}
    echoes: dict[str, list[tuple[str, Any]]] = {}
    resolved = ResolvedSuggestion()
    for raw, value in suggestion.items():
        key = str(raw)
        found = candidates_for(key, names)
        if not found:
            target, value = _target_from_value(key, value, names)
            found = [target] if target else []
        if len(found) > 1:
            listed = ", ".join(found)
            resolved.refused[key] = (
                f"this key could mean {listed}; write the exact name the prompt shows"
            )
        elif not found:
            resolved.suggestion[key] = value
        elif found[0] == key:
            exact[key] = value
        else:
            echoes.setdefault(found[0], []).append((key, value))
    for name, value in exact.items():
        resolved.suggestion[name] = strip_echo(value, name, name in code)
    for name, given in echoes.items():
        if name in exact:
            continue
        values = [strip_echo(value, name, name in code) for _, value in given]
        if any(v != values[0] for v in values[1:]):
            keys = ", ".join(repr(key) for key, _ in given)
            resolved.refused[name] = (
                f"given under {len(given)} keys with different values ({keys}); "
                "give one value under the exact name"
            )
            continue
        resolved.suggestion[name] = values[0]
        for key, _ in given:
            resolved.renamed[key] = name
    return resolved


def code_outside_suggestion(
    reply: str, reasoning_key: str | None = "reasoning", answer_key: str | None = "answer"
) -> dict[str, Any]:
    """Entries such as ``"code": "def f(...): ..."`` written next to the suggestion object
    instead of inside it (a real reply put a correct new policy there), as ``{key: value}``.

    Only code keys are taken from outside the suggestion; ``resolve_suggestion`` then gives
    the code to a variable only when that is unambiguous. ``reply`` is the reply text;
    ``reasoning_key`` and ``answer_key`` are the reply's other keys, which are never code.
    """
    if not isinstance(reply, str) or not _CODE_KEY_IN_TEXT.search(reply):
        return {}
    whole = parse_json_reply(
        reply, reasoning_key=reasoning_key, answer_key=answer_key, suggestion_key=None
    )
    return {
        key: value
        for key, value in whole.suggestion.items()
        if key.strip(_WRAPPING).casefold() in _CODE_KEYS
    }
