"""Safe updates: a suggested value is checked and converted before it touches a parameter.

Trace converted with ``type(current)(value)`` and kept the raw value when that failed, so
``"5.7"`` silently became ``5`` and an ``int`` parameter could become a string. Here a value
either converts to the parameter's type without losing information, or it is refused with a
reason; code must compile and keep the function's name and signature. Nothing is applied
until every suggestion of a step has been checked, and a refused value changes nothing.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opto.optimizers.problem import is_code_parameter
from opto.trace.nodes import ParameterNode
from opto.utils.errors import OptoError
from opto.utils.json_values import storage_problem
from opto.utils.rendering import render_repr, render_text
from opto.utils.source_analysis import (
    def_line,
    first_function,
    functions,
    parameter_text,
    parse,
)


class RefusedValue(OptoError, ValueError):
    """A suggested value that cannot be applied to its parameter."""


@dataclass
class UpdatePlan:
    """What a step will write and what it left out, so nothing is applied before all is checked.

    ``accepted`` maps each parameter to its converted new value; ``refused`` maps a
    suggested name to the reason its value was refused; ``unknown`` lists suggested names
    that are no variable of the optimizer.
    """

    accepted: dict[ParameterNode, Any] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def feedback_text(self) -> str:
        """The refusals phrased for the LLM."""
        return describe_refusals(self.refused, self.unknown)


def describe_refusals(refused: Mapping[str, str], unknown: Iterable[str]) -> str:
    """The refusals phrased for the LLM: one line per entry of ``refused`` (name -> reason),
    and one listing the ``unknown`` names, which are not variables."""
    lines = [f"- {name}: {reason}" for name, reason in refused.items()]
    unknown = list(unknown)
    if unknown:
        lines.append(f"- not variables, ignored: {', '.join(unknown)}")
    return "\n".join(lines)


def match_parameters(
    suggestion: Mapping[str, Any],
    parameters: Iterable[ParameterNode],
    shown: Mapping[str, ParameterNode] | None = None,
) -> tuple[dict[ParameterNode, Any], list[str], list[str]]:
    """Map the names of ``suggestion`` (``{name: value}``) to ``parameters``: ``(matched,
    unknown names, ambiguous names)``.

    ``shown`` is the ``name -> parameter`` map the prompt showed: those names mean those
    parameters. Otherwise a parameter's ``x0`` and ``x:0`` match it, unless another parameter
    answers to the same name: such a name matches neither and is reported as ambiguous,
    never guessed.
    """
    shown = dict(shown or {})
    by_name: dict[str, ParameterNode | None] = {}
    for parameter in parameters:
        for name in (parameter.py_name, parameter.name):
            known = by_name.setdefault(name, parameter)
            if known is not parameter:
                by_name[name] = None  # two parameters share it
    by_name.update(shown)
    matched: dict[ParameterNode, Any] = {}
    unknown: list[str] = []
    ambiguous: list[str] = []
    for raw_name, value in suggestion.items():
        name = str(raw_name).strip()
        key = name if name in by_name else name.replace(":", "")
        if key not in by_name:
            unknown.append(name)
        elif by_name[key] is None:
            ambiguous.append(name)
        else:
            matched[by_name[key]] = value
    return matched, unknown, ambiguous


def plan_updates(
    suggestion: Mapping[str, Any],
    parameters: Iterable[ParameterNode],
    shown: Mapping[str, ParameterNode] | None = None,
) -> UpdatePlan:
    """Check and convert every value of ``suggestion`` (``{name: value}``) for the trainable
    ones of ``parameters``; refusals are collected, never applied.

    ``shown`` is the prompt's ``name -> parameter`` map (``problem.variables``): a value then
    goes to the parameter shown under that name, whatever other nodes share its name.
    """
    parameters = [p for p in parameters if p.trainable]
    trainable = {id(p) for p in parameters}
    shown = {name: p for name, p in (shown or {}).items() if id(p) in trainable}
    matched, unknown, ambiguous = match_parameters(suggestion, parameters, shown)
    plan = UpdatePlan(unknown=unknown)
    name_of = {id(p): name for name, p in shown.items()}
    for name in ambiguous:
        plan.refused[name] = "more than one variable has this name; use the name the prompt shows"
    for parameter, value in matched.items():
        if is_code_parameter(parameter) and isinstance(value, str) and not value.strip():
            continue
        try:
            converted = apply_projections(parameter, convert_value(parameter, value))
            check_storable(parameter, converted)
            if is_code_parameter(parameter):
                check_code(parameter.data, converted)
                check_policy(parameter, converted)
        except RefusedValue as refusal:
            plan.refused[name_of.get(id(parameter), parameter.py_name)] = str(refusal)
            continue
        plan.accepted[parameter] = converted
    return plan


def check_storable(parameter: ParameterNode, value: Any) -> None:
    """Refuse a value a checkpoint could not hold (NaN, infinity, a set, an int too long to
    write, nesting too deep), so one reply can never stop a run that saves its state.

    A parameter that already holds such a type (a set) keeps accepting it; its numbers and
    shape are still checked.
    """
    strict = storage_problem(parameter.data) is None
    problem = storage_problem(value, check_types=strict)
    if problem is not None:
        raise RefusedValue(f"the value holds {problem}")


def apply_projections(parameter: ParameterNode, value: Any) -> Any:
    """The value after the parameter's projections; a failing projection refuses it."""
    for projection in parameter.projections:
        try:
            value = projection(value)
        except Exception as error:
            raise RefusedValue(f"projection {projection!r} failed: {error}") from error
    return value


def convert_value(parameter: ParameterNode, value: Any) -> Any:
    """``value`` as the type of the parameter's current value, or ``RefusedValue``."""
    current = parameter.data
    if current is None:
        return value
    target = type(current)
    if target is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (dict, list)):
            try:
                return json.dumps(value)
            except (TypeError, ValueError, RecursionError) as error:
                raise RefusedValue(
                    f"expected a str, got a {type(value).__name__} ({error})"
                ) from None
        return render_text(value)
    if target is bool:
        return _to_bool(value)
    if target is int:
        return _to_int(value)
    if target is float:
        return _to_float(value)
    if target in (list, tuple, dict, set):
        return _to_container(target, value)
    if isinstance(value, target):
        return value
    if isinstance(value, str):
        parsed = _literal(value)
        if isinstance(parsed, target):
            return parsed
    raise RefusedValue(
        f"expected a {target.__name__}, got {type(value).__name__} {_preview(value)}"
    )


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise RefusedValue(f"expected a bool (true/false), got {_preview(value)}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise RefusedValue(f"expected an int, got the bool {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise RefusedValue(f"expected an int, got the text {_preview(value)}") from None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise RefusedValue(f"expected an int, got {value} (refused rather than truncated)")
    raise RefusedValue(f"expected an int, got {type(value).__name__} {_preview(value)}")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise RefusedValue(f"expected a float, got the bool {value}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise RefusedValue(f"expected a float, got the text {_preview(value)}") from None
    raise RefusedValue(f"expected a float, got {type(value).__name__} {_preview(value)}")


def _to_container(target: type, value: Any) -> Any:
    if isinstance(value, str):
        value = _literal(value)
    if target is tuple and isinstance(value, list):
        return tuple(value)
    if target is set and isinstance(value, (list, tuple)):
        return set(value)
    if target is list and isinstance(value, tuple):
        return list(value)
    if isinstance(value, target):
        return value
    raise RefusedValue(
        f"expected a {target.__name__}, got {type(value).__name__} {_preview(value)}"
    )


def _literal(text: str) -> Any:
    for read in (json.loads, ast.literal_eval):
        try:
            return read(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return text


def _preview(value: Any, limit: int = 60) -> str:
    text = render_repr(value, max_chars=limit + 1)
    return text if len(text) <= limit else text[:limit] + "..."


def check_code(current: str, suggested: Any) -> None:
    """Refuse (``RefusedValue``) the ``suggested`` code unless it is a string that compiles
    and defines the function of the ``current`` source with the same signature, so callers
    of the function keep working ("" as ``current``: any code that compiles)."""
    if not isinstance(suggested, str):
        raise RefusedValue(f"code must be a string, got {type(suggested).__name__}")
    try:
        tree = parse(suggested)
    except SyntaxError as error:
        raise RefusedValue(
            f"the code does not compile: {error.msg} (line {error.lineno})"
        ) from None
    original = first_function(parse(current)) if current else None
    if original is None:
        return
    proposed = {function.name: function for function in functions(tree)}.get(original.name)
    keep = f"keep exactly this signature: {def_line(original)}"
    if proposed is None:
        raise RefusedValue(f"the code must define the function {original.name}(); {keep}")
    before, after = parameter_text(original), parameter_text(proposed)
    if before != after:
        raise RefusedValue(
            f"the signature of {original.name} must stay ({before}), got ({after}); {keep}"
        )


def check_policy(parameter: ParameterNode, code: str) -> None:
    """Refuse (``RefusedValue``) the ``code`` that the static-check policy of the
    ``parameter``'s code spec would refuse, before it is ever run; no checker: accepted."""
    spec = parameter.code_spec
    checker = getattr(spec.policy, "checker", None) if spec is not None else None
    if checker is None:
        return
    violations = checker.check(code)
    if violations:
        listed = "; ".join(str(violation) for violation in violations)
        raise RefusedValue(f"the code is not allowed by the execution policy: {listed}")
