"""BIG-Bench-Hard-style reasoning: a trainable instruction, trained on a few questions and
scored on held-out ones by exact match of the final answer."""

from __future__ import annotations

from typing import Any

from qbench.generators import bbh
from qbench.loop import Evaluation
from qbench.programs.prompting import Assistant, collect, final_answer, trainable_instruction

ANSWER_FORMAT = "\n\nEnd your reply with a last line of the form 'Answer: <answer>'."


class ReasoningProgram:
    """Improve the system instruction of an assistant on one BBH-style subtask."""

    def __init__(self, side: Any, task: dict) -> None:
        self.side = side
        self.subtask = task["data"]["subtask"]
        self.train = task["data"]["train"]
        self.heldout = task["data"]["heldout"]
        self.threshold = task["success_threshold"]
        self.instruction = trainable_instruction()
        self.assistant = Assistant(side.chat)
        self._scores: dict[str, Evaluation] = {}

    def parameters(self) -> list:
        return [self.instruction]

    def _correct(self, item: dict, reply: str) -> tuple[bool, str]:
        given = final_answer(reply)
        expected = bbh.normalize_answer(self.subtask, item["answer"])
        return bbh.normalize_answer(self.subtask, given) == expected, given

    def evaluate(self) -> Evaluation:
        """Held-out accuracy; the same instruction is scored once (replies are deterministic)."""
        instruction = str(self.instruction.data)
        if instruction not in self._scores:
            right = sum(
                self._correct(item, self.side.chat(instruction, item["question"] + ANSWER_FORMAT))[
                    0
                ]
                for item in self.heldout
            )
            score = right / len(self.heldout)
            self._scores[instruction] = Evaluation(
                score, score >= self.threshold, {"correct": right, "of": len(self.heldout)}
            )
        return self._scores[instruction]

    def forward(self) -> tuple[Any, str]:
        replies = [
            self.assistant.respond(self.instruction, item["question"] + ANSWER_FORMAT)
            for item in self.train
        ]
        lines = []
        right = 0
        for index, (item, reply) in enumerate(zip(self.train, replies, strict=True), start=1):
            ok, given = self._correct(item, str(reply.data))
            right += ok
            lines.append(
                f"Reply {index}: correct."
                if ok
                else f"Reply {index}: wrong; its answer was {given!r}, the correct answer is "
                f"{item['answer']!r}."
            )
        summary = f"{right} of {len(self.train)} training questions answered correctly."
        return collect(*replies), summary + "\n" + "\n".join(lines)
