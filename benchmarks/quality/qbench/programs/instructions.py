"""Instructions with verifiable rules: a trainable system instruction, trained on a few prompts
and scored on held-out ones by exact rule checkers."""

from __future__ import annotations

from typing import Any

from qbench.generators.instructions import check_rule
from qbench.loop import Evaluation
from qbench.programs.prompting import Assistant, collect, trainable_instruction


class InstructionsProgram:
    """Improve the system instruction so that replies follow the rules stated in each prompt."""

    def __init__(self, side: Any, task: dict) -> None:
        self.side = side
        self.train = task["data"]["train"]
        self.heldout = task["data"]["heldout"]
        self.threshold = task["success_threshold"]
        self.instruction = trainable_instruction()
        self.assistant = Assistant(side.chat)
        self._scores: dict[str, Evaluation] = {}

    def parameters(self) -> list:
        return [self.instruction]

    def evaluate(self) -> Evaluation:
        """Prompt-level accuracy on held-out prompts (every rule of a prompt followed)."""
        instruction = str(self.instruction.data)
        if instruction not in self._scores:
            prompts_ok = rules_ok = rules = 0
            for item in self.heldout:
                reply = self.side.chat(instruction, item["prompt"])
                verdicts = [check_rule(rule, reply).followed for rule in item["rules"]]
                prompts_ok += all(verdicts)
                rules_ok += sum(verdicts)
                rules += len(verdicts)
            score = prompts_ok / len(self.heldout)
            self._scores[instruction] = Evaluation(
                score,
                score >= self.threshold,
                {
                    "prompts_followed": prompts_ok,
                    "of": len(self.heldout),
                    "rules_followed": rules_ok,
                    "rules": rules,
                },
            )
        return self._scores[instruction]

    def forward(self) -> tuple[Any, str]:
        replies = [self.assistant.respond(self.instruction, item["prompt"]) for item in self.train]
        lines = []
        followed = 0
        for index, (item, reply) in enumerate(zip(self.train, replies, strict=True), start=1):
            verdicts = [check_rule(rule, str(reply.data)) for rule in item["rules"]]
            followed += all(v.followed for v in verdicts)
            broken = [
                f"{rule['kind']}: {v.detail}"
                for rule, v in zip(item["rules"], verdicts, strict=True)
                if not v.followed
            ]
            lines.append(
                f"Reply {index}: followed every rule of its request."
                if not broken
                else f"Reply {index}: broke a rule of its request ({'; '.join(broken)})."
            )
        summary = (
            f"{followed} of {len(self.train)} replies followed all the rules of their request."
        )
        return collect(*replies), summary + "\n" + "\n".join(lines)
