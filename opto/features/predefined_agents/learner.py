"""``BasicLearner``: an LLM agent with one trainable system prompt (Trace 0.2's tutorial agent).

``agent(message)`` formats the user prompt template with the message, asks the LLM with the
system prompt and returns the reply as a node; an optimizer given ``agent.parameters()`` tunes
the system prompt from feedback on the replies.
"""

from __future__ import annotations

from typing import Any

from opto import trace
from opto.trace.nodes import MessageNode
from opto.utils.llm import LLM

__all__ = ["LLM", "BasicLearner", "BasicLearnerModel", "Learner", "call_llm", "trace"]


def call_llm(llm: Any, system_prompt: str, user_prompt_template: str, message: Any) -> str:
    """One call of ``llm`` (any opto client): ``system_prompt`` as the system message, then
    ``user_prompt_template`` with ``{message}`` replaced by ``message`` as the user message.

    Returns the reply text. A template without ``{message}`` raises ValueError.
    """
    if "{message}" not in user_prompt_template:
        raise ValueError("user_prompt_template must contain '{message}'")
    response = llm(
        messages=[
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_prompt_template.format(message=message)},
        ]
    )
    return response.choices[0].message.content


@trace.model
class BasicLearner:
    """An agent that answers a message with one LLM call.

    ``system_prompt`` is a trainable node (the only parameter); ``user_prompt_template`` is a
    fixed node that must contain ``{message}``; ``llm`` defaults to ``LLM()``.
    """

    def __init__(
        self,
        system_prompt: str = "You're a helpful agent",
        user_prompt_template: str = "Query: {message}",
        llm: Any = None,
    ) -> None:
        self.system_prompt = trace.node(system_prompt, trainable=True)
        self.user_prompt_template = trace.node(user_prompt_template)
        self.llm = LLM() if llm is None else llm

    @trace.bundle()
    def model(self, system_prompt: str, user_prompt_template: str, message: Any) -> str:
        """Ask the LLM to answer the message.

        system_prompt: the instructions the LLM follows (the agent's behaviour).
        user_prompt_template: the user message, with {message} replaced by the message.
        message: the input to answer.
        """
        return call_llm(self.llm, system_prompt, user_prompt_template, message)

    def forward(self, message: Any) -> MessageNode:
        """The LLM's answer to ``message``, as a node."""
        return self.model(self.system_prompt, self.user_prompt_template, message)


Learner = BasicLearner
BasicLearnerModel = BasicLearner
