"""Train a small greeting agent: the sales-agent example of Trace's README.

The agent asks an LLM which language a message is in and what the sender is called, then
greets them with code that is itself trainable. Feedback from a test case trains the prompts
and the code together. Offline, both the agent's LLM and the optimizer's are scripted (and
say so); with OPTO_LLM_MODEL set both are real.

    python examples/greeting_agent.py [--offline]
"""

from __future__ import annotations

import argparse

from _support import choose_llm, reply, run

from opto import trace
from opto.optimizers import OptoPrime
from opto.runtime import InProcessPolicy


@trace.model
class GreetingAgent:
    def __init__(self, llm):
        self.llm = llm
        self.system_prompt = trace.node("You are a polite receptionist.", name="system_prompt")
        self.language_prompt = trace.node(
            "Which language is the message in?", trainable=True, name="language_prompt"
        )
        self.name_prompt = trace.node("Who wrote the message?", trainable=True, name="name_prompt")

    def forward(self, message):
        language = trace.operators.call_llm(
            self.llm, self.system_prompt, self.language_prompt, message
        )
        name = trace.operators.call_llm(self.llm, self.system_prompt, self.name_prompt, message)
        return self.greet(language, name)

    # Model-written code runs under guards: stopped after 10 s or 1 GiB of memory growth.
    @trace.bundle(trainable=True, policy=InProcessPolicy(timeout=10, memory_growth="1GiB"))
    def greet(self, language, name):
        """Greets the person in their language."""
        return f"Hello, {name}!"


AGENT_REPLIES_BEFORE = ["The message is in Spanish.", "The message was written by Juan."]
AGENT_REPLIES_AFTER = ["es", "Juan"]


def optimizer_replies(code_name: str) -> list[str]:
    """Scripted optimizer replies; the code parameter's name depends on the instance."""
    return [
        reply(
            "The greeting ignores the language and the name is a whole sentence. Ask for a "
            "language code and the bare name, and greet in Spanish for 'es'.",
            {
                "language_prompt0": "Answer with the ISO 639-1 code of the message's language only.",
                "name_prompt0": "Answer with the sender's first name only.",
                code_name: "def greet(self, language, name):\n"
                '    """Greets the person in their language."""\n'
                "    greeting = {'es': 'Hola', 'fr': 'Bonjour'}.get(language.strip().lower(), 'Hello')\n"
                "    return f'{greeting}, {name.strip()}!'\n",
            },
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offline", action="store_true", help="use scripted replies")
    args = parser.parse_args()

    print("agent:", end=" ")
    agent_llm, scripted = choose_llm(AGENT_REPLIES_BEFORE + AGENT_REPLIES_AFTER, args.offline)
    agent = GreetingAgent(agent_llm)
    print("optimizer:", end=" ")
    optimizer_llm, _ = choose_llm(optimizer_replies(agent.greet.parameter.py_name), args.offline)
    optimizer = OptoPrime(agent.parameters(), llm=optimizer_llm)

    message = "Hola, soy Juan. ¿Tienen habitaciones libres?"
    greeting = agent(message)
    print(f"\nbefore: {greeting.data!r}")
    optimizer.zero_feedback()
    optimizer.backward(greeting, "The greeting should be in Spanish: 'Hola, Juan!'")
    result = optimizer.step()
    print("updated:", ", ".join(p.py_name for p in result) or "nothing")
    for name, reason in result.refused.items():
        print(f"refused a suggestion for {name}: {reason}")
    if result.unknown:
        print(f"ignored suggested names that are not variables: {', '.join(result.unknown)}")
    greeting = agent(message)
    print(f"after:  {greeting.data!r}")
    if scripted:
        print("(scripted replies: the agent's LLM answers as the new prompts ask)")


if __name__ == "__main__":
    run(main)
