"""``TracedLLM``: an LLM call recorded in the trace graph, with an optional chat history.

The system prompt is a node (trainable when asked), so an optimizer can tune it from feedback
on the replies. Each call is one operation in the graph whose inputs are the system prompt,
the history messages sent (when the history is on) and the user query; its output is the
reply text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from opto import trace
from opto.trace.nodes import MessageNode, Node, ParameterNode
from opto.utils.llm import LLM, AbstractModel
from opto.utils.user_warnings import warn_user

__all__ = [
    "DEFAULT_SYSTEM_PROMPT_DESCRIPTION",
    "LLM",
    "AbstractModel",
    "ChatHistory",
    "TracedLLM",
    "TracedLLMModel",
    "USED_TracedLLM",
    "trace",
]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

DEFAULT_SYSTEM_PROMPT_DESCRIPTION = (
    "The system prompt of an LLM agent. It sets how the agent behaves: its instructions, how it "
    "reasons, how it uses tools, and the examples it follows. Changing it changes every reply."
)

USED_TracedLLM: ContextVar[tuple[str, ...]] = ContextVar("USED_TracedLLM", default=())
"""The default names given to TracedLLMs in the current context (they number the next one).
Per context, like tracing state: two threads count separately."""

_ROLES = ("user", "assistant")


class ChatHistory:
    """The messages of a conversation, ``{"role", "content"}`` dicts; contents may be nodes.

    When it holds more than ``max_len`` messages it keeps the first user message and the most
    recent ones. ``auto_summary`` is stored for compatibility; nothing summarises yet.
    """

    def __init__(self, max_len: int = 50, auto_summary: bool = False) -> None:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.max_len = max_len
        self.auto_summary = auto_summary
        self.messages: list[dict[str, Any]] = []

    def add(self, content: Any, role: str) -> None:
        """Add a message: ``content`` (text or a node) spoken by ``role``, ``"user"`` or
        ``"assistant"``.

        Two messages in a row from the same role are kept, with a warning.
        """
        if role not in _ROLES:
            raise ValueError(f"Invalid role '{role}'. Must be 'user' or 'assistant'.")
        if self.messages and self.messages[-1]["role"] == role:
            warn_user(f"ChatHistory: two {role} messages in a row")
        self.messages.append({"role": role, "content": content})
        self._trim()

    def append(self, message: dict[str, Any]) -> None:
        """Add a ``{"role", "content"}`` message."""
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError("Message must have 'role' and 'content' fields.")
        self.add(message["content"], message["role"])

    def _trim(self) -> None:
        if len(self.messages) <= self.max_len:
            return
        first_user = next((m for m in self.messages if m["role"] == "user"), None)
        recent = self.messages[len(self.messages) - self.max_len + 1 :]
        if first_user is None or any(m is first_user for m in recent):
            self.messages = self.messages[-self.max_len :]
        else:
            self.messages = [first_user, *recent]

    def get_messages(self) -> list[dict[str, Any]]:
        """The messages with node contents replaced by their data."""
        return [
            {
                "role": m["role"],
                "content": m["content"].data if isinstance(m["content"], Node) else m["content"],
            }
            for m in self.messages
        ]

    def get_messages_as_node(self, llm_name: str = "") -> list[Node]:
        """The contents as nodes: nodes as they are, text as new nodes named
        ``<llm_name>_user_query`` / ``<llm_name>_assistant_response``."""
        nodes = []
        for message in self.messages:
            content = message["content"]
            if isinstance(content, Node):
                nodes.append(content)
                continue
            suffix = "query" if message["role"] == "user" else "response"
            base = f"{message['role']}_{suffix}"
            nodes.append(trace.node(content, name=f"{llm_name}_{base}" if llm_name else base))
        return nodes

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.messages)


@trace.model
class TracedLLM:
    """An LLM agent whose calls are traced: ``reply = agent(query)`` is a MessageNode.

    ``system_prompt`` is a string or a node (default "You are a helpful assistant.");
    ``trainable=True`` makes it a parameter. A node passed in keeps its own trainable flag
    unless ``trainable`` is given (Trace switched it off silently). ``llm`` is any opto client
    (default ``LLM()``). With ``chat_history_on``, earlier turns are sent and become inputs of
    the call; every turn is recorded either way. ``model_name`` names the nodes (default
    ``TracedLLM<k>``).
    """

    def __init__(
        self,
        system_prompt: str | Node | None = None,
        llm: Any = None,
        chat_history_on: bool = False,
        trainable: bool | None = None,
        model_name: str | None = None,
    ) -> None:
        self.system_prompt = _system_prompt_node(system_prompt, trainable)
        self.llm = LLM() if llm is None else llm
        if not isinstance(self.llm, AbstractModel):
            raise TypeError(
                f"{self.llm!r} must be an instance of AbstractModel (an opto LLM client)"
            )
        self.chat_history_on = chat_history_on
        self.chat_history = ChatHistory()
        if model_name is None:
            used = USED_TracedLLM.get()
            model_name = f"{type(self).__name__}{len(used)}"
            USED_TracedLLM.set((*used, model_name))
        self.model_name = model_name

    def forward(self, user_query: Any, chat_history_on: bool | None = None) -> MessageNode:
        """Ask the LLM; the reply is a node whose inputs are what was sent.

        ``user_query`` is the user's message, a value or a node (a value becomes a node named
        after the agent). ``chat_history_on`` overrides the agent's setting for this call:
        True sends earlier turns too, None keeps the setting.
        """
        history_on = self.chat_history_on if chat_history_on is None else chat_history_on
        history = self.chat_history.get_messages_as_node(self.model_name) if history_on else []
        if isinstance(user_query, Node):
            query = user_query
        else:
            query = trace.node(user_query, name=f"{self.model_name}_user_query")
        messages = [{"role": "system", "content": self.system_prompt.data}]
        if history_on:
            messages += self.chat_history.get_messages()
        messages.append({"role": "user", "content": query.data})
        response = self.llm(messages=messages)
        inputs = [self.system_prompt, *history, query]
        reply = MessageNode(
            response.choices[0].message.content,
            inputs={f"args_{i}": item for i, item in enumerate(inputs)},
            description=(
                f"[{type(self).__name__}.forward.call_llm] Sends the system prompt, the chat "
                "history (args_1 ... before the last) and the user query (the last) to the LLM "
                "and returns its reply."
            ),
            name=f"{self.model_name}_response",
        )
        self.chat_history.add(query, "user")
        self.chat_history.add(reply, "assistant")
        return reply

    def chat(self, user_query: Any) -> MessageNode:
        """``forward(user_query)``."""
        return self.forward(user_query)


TracedLLMModel = TracedLLM


def _system_prompt_node(system_prompt: str | Node | None, trainable: bool | None) -> Node:
    prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
    if isinstance(prompt, Node):
        if trainable is None:
            return prompt
        if isinstance(prompt, ParameterNode):
            prompt.trainable = trainable
            return prompt
        return trace.node(prompt, trainable=trainable)
    return trace.node(
        prompt,
        name="system_prompt",
        trainable=bool(trainable),
        description=DEFAULT_SYSTEM_PROMPT_DESCRIPTION,
    )
