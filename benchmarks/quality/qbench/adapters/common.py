"""What both implementations' adapters share: counters, step statistics, code failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class CodeFailure(Exception):
    """Generated code failed (raised, exceeded a limit, forged its answer); the message is
    feedback text for the optimizer."""


@dataclass
class StepStats:
    """What one optimizer step did, in the same terms for both implementations.

    ``parsed``: the reply gave a suggestion (or TERMINATE) by the implementation's own parser;
    ``applied``: parameters changed; ``refused``: suggested values for known parameters that
    were not applied, with the reason; ``unknown``: suggested names that are no parameter.
    """

    reply: str = ""
    parsed: bool = False
    suggested: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Counters:
    """LLM calls and tokens, by purpose: ``optimizer`` steps and ``agent`` calls of a task."""

    by_purpose: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, purpose: str, calls: int, prompt_tokens: int, completion_tokens: int) -> None:
        entry = self.by_purpose.setdefault(
            purpose, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        )
        entry["calls"] += int(calls)
        entry["prompt_tokens"] += int(prompt_tokens or 0)
        entry["completion_tokens"] += int(completion_tokens or 0)

    def snapshot(self) -> dict:
        """Totals and the per-purpose split, as plain data."""
        total = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for entry in self.by_purpose.values():
            for key in total:
                total[key] += entry[key]
        return {**total, "by_purpose": {k: dict(v) for k, v in sorted(self.by_purpose.items())}}
