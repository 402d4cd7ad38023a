"""Pieces of an LLM optimizer's step: usage, repairs, refusal notes and log entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opto.optimizers.optimizer import StepResult
from opto.optimizers.parsing import ParsedReply
from opto.optimizers.updates import UpdatePlan


def plan_from(update: Any) -> UpdatePlan:
    """An UpdatePlan from ``update``, what ``construct_update_dict`` returned (a StepResult
    or a dict)."""
    return UpdatePlan(
        accepted=dict(update),
        refused=dict(getattr(update, "refused", {}) or {}),
        unknown=list(getattr(update, "unknown", []) or []),
    )


def merge_plans(first: UpdatePlan, second: UpdatePlan) -> UpdatePlan:
    """The plan ``second`` (a repair's) on top of ``first``: later accepted values win, and a
    refusal stays only for names the repair did not fix."""
    accepted = {**first.accepted, **second.accepted}
    names = {p.py_name for p in accepted}
    refused = {k: v for k, v in {**first.refused, **second.refused}.items() if k not in names}
    return UpdatePlan(accepted=accepted, refused=refused, unknown=second.unknown)


def usage_dict(usage: Any) -> dict[str, Any] | None:
    """A usage record as a plain dict (None stays None): tokens, cost, and ``cache_hits``
    (1 when the cache answered the call), which `add_usage` sums over a step's calls."""
    if usage is None:
        return None
    if isinstance(usage, dict):
        return dict(usage)
    fields = ("prompt_tokens", "completion_tokens", "total_tokens", "cost")
    record = {name: getattr(usage, name) for name in fields if hasattr(usage, name)}
    if hasattr(usage, "cache_hit"):
        record["cache_hits"] = int(bool(usage.cache_hit))
    return record


def add_usage(first: Any, second: Any) -> Any:
    """The sum of the usage records ``first`` and ``second`` (either may be None)."""
    if first is None or second is None:
        return first or second
    a, b = usage_dict(first), usage_dict(second)
    return {key: (a.get(key) or 0) + (b.get(key) or 0) for key in {**a, **b}}


def repair_request(
    parsed: ParsedReply, suggestion: Mapping[str, Any], plan: UpdatePlan, reply_format: str
) -> str:
    """The follow-up message asking the LLM to correct its reply: ``parsed`` is the reply as
    read, ``suggestion`` the values it suggested and ``plan`` what could not be applied;
    ``reply_format`` names the format to answer in (``JSON``, ``XML``)."""
    if not suggestion:
        problem = f"Your reply could not be read: {parsed.error or 'it has no suggestion'}."
    else:
        problem = "Some suggested values could not be applied:\n" + plan.feedback_text()
    return (
        f"{problem}\nAnswer again in the same {reply_format} format, with corrected values for "
        "these variables only."
    )


def step_record(
    system_prompt: str,
    user_prompt: str,
    reply: str,
    parsed: ParsedReply,
    suggestion: Mapping[str, Any],
    result: StepResult,
    usage: Any,
) -> dict[str, Any]:
    """One entry of an optimizer's ``log``: the prompts (``system_prompt``, ``user_prompt``),
    the ``reply``, what was ``parsed`` from it and its ``suggestion``, the step's ``result``
    (applied, refused, unknown) and the calls' ``usage``."""
    return {
        "system_prompt": system_prompt,
        "user_prompt": user_prompt,
        "response": reply,
        "reasoning": parsed.reasoning,
        "answer": parsed.answer,
        "suggestion": dict(suggestion),
        "applied": {p.py_name: v for p, v in result.items()},
        "refused": dict(result.refused),
        "unknown": list(result.unknown),
        "terminated": result.terminated,
        "error": result.error,
        "usage": usage_dict(usage),
    }
