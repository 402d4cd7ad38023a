"""The suite's view of opto: its LLM client (recorded or replayed), OptoPrime and its sandbox.

Every LLM call goes through one ``ReplayLLM``: in a live run it forwards to the endpoint and
writes each request and reply to the run's replay file; in a replay it answers from that file.
Generated code (trainable bundles, test programs, game policies) runs under
``SubprocessPolicy``, never in this process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from opto.llm import LLM, ReplayLLM, RetryPolicy, usage_scope
from opto.optimizers import OptoPrime
from opto.runtime import SubprocessPolicy, feedback_text
from opto.trace import ExecutionError, bundle, node
from qbench.adapters.common import CodeFailure, Counters, StepStats


class OptoSide:
    """Implements the adapter protocol the task programs use (see ``qbench.adapters``)."""

    name = "opto"
    bundle = staticmethod(bundle)
    node = staticmethod(node)
    ExecutionError = ExecutionError

    def __init__(self, config: dict) -> None:
        self.config = config
        self.counters = Counters()
        replay_file = config["replay_file"]
        if config["mode"] == "replay":
            self.llm = ReplayLLM(replay_file)
        else:
            client = LLM(
                config["model"],
                base_url=config["base_url"],
                api_key=os.environ.get(config.get("api_key_env") or "", "") or "not-needed",
                temperature=config["temperature"],
                cache=False,
                prices=(0.0, 0.0),
                timeout=config["timeout"],
                retry=RetryPolicy(max_attempts=2, base_delay=1.0, max_delay=5.0),
            )
            self.llm = ReplayLLM(replay_file, llm=client)
        limits = config["code_limits"]
        self.sandbox = SubprocessPolicy(
            wall_time=limits["wall_time"],
            cpu_time=limits["cpu_time"],
            memory=limits["memory"],
            echo_output=False,
        )

    # -- LLM ------------------------------------------------------------------------------

    def optimizer(self, parameters: list) -> Any:
        return OptoPrime(parameters, llm=self.llm, max_tokens=self.config["optimizer_max_tokens"])

    def step(self, optimizer: Any) -> StepStats:
        with usage_scope() as spent:
            result = optimizer.step()
        self.counters.add(
            "optimizer", spent.total.calls, spent.total.prompt_tokens, spent.total.completion_tokens
        )
        record = optimizer.log[-1] if optimizer.log else {}
        parsed = bool(record.get("suggestion")) or bool(result.terminated)
        return StepStats(
            reply=str(record.get("response", "")),
            parsed=parsed,
            suggested=sorted(record.get("suggestion") or {}),
            applied=sorted(p.py_name for p in result),
            refused=dict(result.refused),
            unknown=list(result.unknown),
            error=result.error,
        )

    def chat(self, system: str, user: str) -> str:
        """One agent call (not an optimizer call): the reply text."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        with usage_scope() as spent:
            response = self.llm(messages=messages, max_tokens=self.config["agent_max_tokens"])
        self.counters.add(
            "agent", spent.total.calls, spent.total.prompt_tokens, spent.total.completion_tokens
        )
        return response.choices[0].message.content or ""

    # -- generated code -------------------------------------------------------------------

    def trainable(self, function: Any) -> Any:
        """``function`` as trainable code that runs under the sandbox."""
        return bundle(trainable=True, policy=self.sandbox)(function)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Nothing to add: the bundle's policy already runs the code in a sandbox."""
        yield

    def run_code(self, code: str, function: str, args: list) -> Any:
        """``function(*args)`` of ``code`` in the sandbox; ``CodeFailure`` with feedback text."""
        try:
            return self.sandbox.load(code, function)(*args)
        except Exception as error:
            raise CodeFailure(feedback_text(error)[:1500]) from None
