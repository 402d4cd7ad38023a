"""``Summarizer``: turns a search's memory of candidates into advice for the optimizer
(Trace's ``opto.trainer.summarizer``, used by POLCA).

It shows a model a few candidates, each with its parameter values, one run that went well and
one that went badly, and asks what distinguishes good parameters; the advice it writes between
``<summary>`` tags becomes the current summary.
"""

from __future__ import annotations

import random
import weakref
from typing import Any

from opto.optimizers.parsing import extract_between
from opto.trace.nodes import Node

__all__ = ["Summarizer", "get_trajectory_of_one_rollout"]

NO_TRAJECTORIES = "No trajectories found for the memory."
DEFAULT_SUMMARY = (
    "Recommendations for better parameter values, drawn from what worked in earlier runs: "
)


def get_trajectory_of_one_rollout(rollout: dict[str, Any]) -> str:
    """One run as markdown: the model's parameter values, the input, the output, the score
    (per metric when the rollout has a ``score_dict``) and the feedback.

    Args:
        rollout: a rollout dict with ``module``, ``x``, ``target``, ``score`` and ``feedback``.
    """
    for key in ("module", "x", "target", "score", "feedback"):
        if rollout.get(key) is None:
            raise ValueError(f"rollout[{key!r}] is None")
    module = rollout["module"]
    values = {p.py_name: p.data for p in module.parameters()}
    output = rollout["target"].data if isinstance(rollout["target"], Node) else rollout["target"]
    lines = [
        "## Task Trajectory",
        "",
        "## Module Parameters",
        str(values),
        "",
        "## Input",
        str(rollout["x"]),
        "",
        "## Output",
        str(output),
        "",
        "## Result",
    ]
    metrics = rollout.get("score_dict")
    if isinstance(metrics, dict) and metrics:
        lines.append(f"- **Overall Score:** {rollout['score']}")
        lines.append("- **Score Breakdown:**")
        lines.extend(f"  - {name}: {value}" for name, value in metrics.items())
    else:
        lines.append(f"- **Score:** {rollout['score']}")
    lines.append(f"- **Feedback:** {rollout['feedback']}")
    return "\n".join(lines)


class Summarizer:
    """Writes advice from a memory of scored candidates.

    Args:
        verbose: print the summary each time.
        success_threshold: a run with a score above it went well, others badly.
        max_candidates_in_prompt: at most this many candidates per summary.
        current_summary: the advice so far (the start of the text the optimizer gets).
        system_prompt, user_prompt_template: replace the defaults (the template has the
            placeholders ``{current_summary}`` and ``{history_trajectories}``).
        llm: the model to ask (default: ``opto.llm.LLM()``, made on first use).
        seed: the seed of the random choice of candidates and runs.
    """

    DEFAULT_SYSTEM_PROMPT = (
        "You study how an AI agent's parameters relate to how well it did, and you write short, "
        "concrete advice for choosing better parameters."
    )
    DEFAULT_USER_PROMPT_TEMPLATE = (
        "The advice so far:\n{current_summary}\n\n"
        "Below are candidates that were tried, each with its parameters, a run that went well "
        "and a run that went badly:\n\n{history_trajectories}\n\n"
        "Compare the good and the bad runs and explain what makes parameters work. Think it "
        "through inside <reasoning></reasoning>, then give the updated advice, as a list of "
        "concrete recommendations, inside <summary></summary>."
    )

    def __init__(
        self,
        verbose: bool = False,
        success_threshold: float = 0,
        max_candidates_in_prompt: int = 5,
        current_summary: str = DEFAULT_SUMMARY,
        system_prompt: str | None = None,
        user_prompt_template: str | None = None,
        llm: Any = None,
        seed: int = 0,
    ) -> None:
        self.verbose = verbose
        self.success_threshold = success_threshold
        self.max_candidates_in_prompt = max_candidates_in_prompt
        self.current_summary = current_summary
        self.system_prompt = system_prompt or self.DEFAULT_SYSTEM_PROMPT
        self.user_prompt_template = user_prompt_template or self.DEFAULT_USER_PROMPT_TEMPLATE
        self._llm = llm
        self.used_candidates: weakref.WeakSet = weakref.WeakSet()  # shown already
        self._rng = random.Random(seed)

    @property
    def llm(self) -> Any:
        """The client that writes summaries; the default one is made on first use."""
        if self._llm is None:
            from opto.llm import LLM

            self._llm = LLM()
        return self._llm

    def summarize(self, memory: list[tuple[float, Any]]) -> str:
        """Update and return the advice from ``memory`` (``(priority, candidate)`` pairs).

        Candidates not shown before and with scored runs are picked at random; with none, the
        advice is unchanged and ``"No trajectories found for the memory."`` is returned. A
        reply without ``<summary>`` leaves the advice unchanged.
        """
        fresh = [c for _, c in memory if c not in self.used_candidates and _scored(c.rollouts)]
        self._rng.shuffle(fresh)
        sections = []
        for candidate in fresh[: self.max_candidates_in_prompt]:
            self.used_candidates.add(candidate)
            sections.append(self._describe(candidate))
        if not sections:
            return NO_TRAJECTORIES
        prompt = self.user_prompt_template.format(
            current_summary=self.current_summary, history_trajectories="\n\n".join(sections)
        )
        reply = self.llm(
            messages=[
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt},
            ]
        )
        text = reply.choices[0].message.content if hasattr(reply, "choices") else str(reply)
        summary = extract_between(text or "", "<summary>", "</summary>")
        if summary is not None and summary.strip():
            self.current_summary = summary.strip()
        if self.verbose:
            print(f"Summary: {self.current_summary}")
        return self.current_summary

    def _describe(self, candidate: Any) -> str:
        values = {p.py_name: v for p, v in candidate.update_dict.items()}
        runs = [r for r in candidate.rollouts if _complete(r)]
        good = [r for r in runs if r["score"] > self.success_threshold]
        bad = [r for r in runs if r["score"] <= self.success_threshold]
        parts = [f"Candidate parameters: {values}."]
        for label, group in (("A run that went well", good), ("A run that went badly", bad)):
            if group:
                parts.append(f"{label}:\n{get_trajectory_of_one_rollout(self._rng.choice(group))}")
        return "\n\n".join(parts)


def _scored(rollouts: list[dict]) -> bool:
    return any(_complete(r) for r in rollouts)


def _complete(rollout: dict) -> bool:
    keys = ("module", "x", "target", "score", "feedback")
    return all(rollout.get(key) is not None for key in keys)
