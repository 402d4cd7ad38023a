"""DiscoPOP's proposer as an opto optimizer: one chat that only grows.

``TranscriptOptimizer`` optimizes one code parameter the way the DiscoPOP paper's loop does.
Its prompt format is a conversation, not OptoPrime's problem sections: a system prompt, an
opening user message (the seed losses with their fitness), then for every step the model's
reply (JSON ``{thought, name, code}``, read by ``parse_proposal`` on the optimizers' parsing
package) and the user's answer to it: the feedback the last proposal received, or why it was
not evaluated. Nothing is re-rendered, so the model sees every proposal, its reasoning and its
result in order.

It expects the search to follow its latest proposal (the ``Newest`` selector): the feedback on
the parameter at each step is then the result of the previous reply. When the parameter did
not change to the last proposed code, that proposal never became a candidate (the same code
as one already tried, or dropped by a cascade's first stage): the next turn says so. A reply that cannot be read proposes nothing and
the next turn says what was wrong with it. The whole conversation is the optimizer's state
(``state_dict``), so a resumed run sends exactly the messages the interrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opto.discovery.errors import ProposalParseError
from opto.discovery.prompts import NEXT
from opto.discovery.proposal import parse_proposal
from opto.optimizers.optimizer import Optimizer, StepResult
from opto.trace.nodes import ParameterNode
from opto.utils.rendering import render_text

NOT_KEPT = (
    "This proposal was not kept: it is the same loss as one tried before (comments, "
    "docstrings, formatting, the names of variables and the order of independent statements "
    "are ignored), or it failed a first stage of the evaluation and was dropped."
)


class TranscriptOptimizer(Optimizer):
    """Propose new code for one parameter from a growing DiscoPOP transcript.

    Args:
        parameters: one trainable parameter holding the code.
        llm: the LLM client (default: the configured model).
        system_prompt: the first message (the researcher persona and the interface).
        opening: the first user message, or a function that makes it (called once, on the
            first step; for DiscoPOP it evaluates the seed losses).
        llm_options: further arguments of each LLM call (default ``max_tokens=2048``).
        propagator: as for every optimizer.
    """

    def __init__(
        self,
        parameters: Iterable[ParameterNode],
        llm: Any = None,
        *,
        system_prompt: str,
        opening: str | Callable[[], str],
        llm_options: dict[str, Any] | None = None,
        propagator: Any = None,
    ) -> None:
        super().__init__(parameters, propagator=propagator)
        trainable = [p for p in self.parameters if p.trainable]
        if len(trainable) != 1:
            raise ValueError(
                f"TranscriptOptimizer optimizes one code parameter, got {len(trainable)}"
            )
        self.target = trainable[0]
        self.llm = llm
        self.system_prompt = system_prompt
        self._make_opening = opening
        self.llm_options = {"max_tokens": 2048, **(llm_options or {})}
        self.opening: str | None = opening if isinstance(opening, str) else None
        self.turns: list[dict[str, str]] = []
        self.pending: str | None = None
        self.last_code: str | None = None
        self.proposals: list[dict[str, Any]] = []

    def messages(self) -> list[dict[str, str]]:
        """The conversation so far (what the next call sends, before its last user turn)."""
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": self.opening or ""},
            *self.turns,
        ]

    def answer_to_last_reply(self) -> str:
        """The user turn that answers the previous reply (see the module docstring)."""
        if self.pending is not None:
            return self.pending
        if self.last_code is not None and self.target.data != self.last_code:
            return f"{NOT_KEPT}\n{NEXT}"
        feedback = render_text(self.trace_graph.user_feedback) if self.target.feedback else ""
        return f"{feedback.strip()}\n{NEXT}" if feedback.strip() else NEXT

    def _step(self, verbose: bool | str = False) -> StepResult:
        if self.opening is None:
            made = self._make_opening()
            self.opening = made if isinstance(made, str) else str(made)
        if self.turns:
            self.turns.append({"role": "user", "content": self.answer_to_last_reply()})
        response = self.llm(messages=self.messages(), **self.llm_options)
        text = _encodable(response.choices[0].message.content or "")
        if verbose:
            print("LLM response:\n", text)
        self.turns.append({"role": "assistant", "content": text})
        usage = getattr(response, "usage", None)
        record: dict[str, Any] = {
            "turn": len(self.proposals) + 1,
            "prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None),
            "cost": getattr(usage, "cost", None),
        }
        try:
            proposal = parse_proposal(text)
        except ProposalParseError as error:
            self.pending = f"Reply not understood. Error:\n{error}\n{NEXT}"
            self.last_code = None
            self.proposals.append({**record, "name": None, "error": str(error)})
            return StepResult(error=f"the reply could not be read: {error}")
        self.pending = None
        self.last_code = proposal.code
        self.proposals.append({**record, "name": proposal.name, "thought": proposal.thought})
        return StepResult({self.target: proposal.code})

    def state_dict(self) -> dict[str, Any]:
        return {
            "opening": self.opening,
            "turns": [dict(turn) for turn in self.turns],
            "pending": self.pending,
            "last_code": self.last_code,
            "proposals": [dict(p) for p in self.proposals],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the conversation; ``ValueError`` (nothing changed) for a damaged state."""
        opening, turns = state.get("opening"), state.get("turns", [])
        pending, last_code = state.get("pending"), state.get("last_code")
        proposals = state.get("proposals", [])
        if opening is not None and not isinstance(opening, str):
            raise ValueError("the transcript's opening must be a string")
        if not isinstance(turns, list) or not all(_is_turn(t) for t in turns):
            raise ValueError("the transcript's turns must be {role, content} messages")
        for name, value in (("pending", pending), ("last_code", last_code)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"the transcript's {name} must be a string or null")
        if not isinstance(proposals, list) or not all(isinstance(p, dict) for p in proposals):
            raise ValueError("the transcript's proposals must be a list of records")
        self.opening = opening if opening is not None else self.opening
        self.turns = [dict(turn) for turn in turns]
        self.pending, self.last_code = pending, last_code
        self.proposals = [dict(p) for p in proposals]


def _is_turn(turn: Any) -> bool:
    return (
        isinstance(turn, dict)
        and turn.get("role") in ("user", "assistant")
        and isinstance(turn.get("content"), str)
    )


def _encodable(text: str) -> str:
    """The reply with lone surrogates replaced by "?": the transcript sends it back to the
    provider, and a request body must be valid UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")
