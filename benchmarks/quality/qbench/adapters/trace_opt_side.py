"""The suite's view of trace-opt 0.1.3.8, run in trace-opt's own interpreter.

Its LLM client is an ``AbstractModel`` over the openai SDK, pointed at the harness's recording
(or replaying) proxy, with temperature 0 and the model name as defaults, as a trace-opt user
would configure a local server. trace-opt runs trainable code in its own process, so calls of a
trainable bundle get a deadline (an interval timer raising ``TimeoutError`` inside the code),
this whole process runs with an address-space limit set by ``task_main``, and test programs and
game policies run in a separate limited child (``qbench.isolation``).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import openai

from opto.optimizers import OptoPrime
from opto.trace import ExecutionError, bundle, node
from opto.utils.llm import AbstractModel
from qbench.adapters.common import CodeFailure, Counters, StepStats
from qbench.isolation import IsolatedCodeError, run_isolated


class TraceOptSide:
    """Implements the adapter protocol the task programs use (see ``qbench.adapters``)."""

    name = "trace-opt"
    bundle = staticmethod(bundle)
    node = staticmethod(node)
    ExecutionError = ExecutionError

    def __init__(self, config: dict) -> None:
        self.config = config
        self.counters = Counters()
        self.client = openai.OpenAI(
            base_url=config["proxy_url"],
            api_key="not-needed",
            timeout=config["timeout"],
            max_retries=1,
        )
        self.last_optimizer_reply = ""

    def _create(self, purpose: str):
        def create(**request: Any) -> Any:
            request.setdefault("model", self.config["model"])
            request.setdefault("temperature", self.config["temperature"])
            response = self.client.chat.completions.create(**request)
            usage = getattr(response, "usage", None)
            self.counters.add(
                purpose,
                1,
                getattr(usage, "prompt_tokens", 0) or 0,
                getattr(usage, "completion_tokens", 0) or 0,
            )
            if purpose == "optimizer":
                self.last_optimizer_reply = response.choices[0].message.content or ""
            return response

        return create

    # -- LLM ------------------------------------------------------------------------------

    def optimizer(self, parameters: list) -> Any:
        llm = AbstractModel(lambda: self._create("optimizer"))
        return OptoPrime(parameters, llm=llm, max_tokens=self.config["optimizer_max_tokens"])

    def step(self, optimizer: Any) -> StepStats:
        self.last_optimizer_reply = ""
        update = optimizer.propose()
        optimizer.update(update)
        reply = self.last_optimizer_reply
        suggestion = optimizer.extract_llm_suggestion(reply) if reply else {}
        names = {p.py_name for p in optimizer.parameters if p.trainable}
        applied = sorted(p.py_name for p in update)
        return StepStats(
            reply=reply,
            parsed=bool(suggestion) or "TERMINATE" in reply,
            suggested=sorted(suggestion),
            applied=applied,
            refused={
                key: "not converted to the parameter's type"
                for key in suggestion
                if key in names and key not in applied
            },
            unknown=sorted(key for key in suggestion if key not in names),
            error=None if suggestion or "TERMINATE" in reply else "no suggestion extracted",
        )

    def chat(self, system: str, user: str) -> str:
        """One agent call (not an optimizer call): the reply text."""
        response = self._create("agent")(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=self.config["agent_max_tokens"],
        )
        return response.choices[0].message.content or ""

    # -- generated code -------------------------------------------------------------------

    def trainable(self, function: Any) -> Any:
        return bundle(trainable=True)(function)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """A deadline for in-process calls of trainable code (pure-Python loops only)."""
        seconds = self.config["code_limits"]["wall_time"]

        def expire(signum: int, frame: Any) -> None:
            raise TimeoutError(f"the code did not finish within {seconds} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def run_code(self, code: str, function: str, args: list) -> Any:
        limits = self.config["code_limits"]
        try:
            return run_isolated(
                code,
                function,
                args,
                wall_time=limits["wall_time"],
                cpu_time=limits["cpu_time"],
                memory_bytes=limits["memory_bytes"],
            )
        except IsolatedCodeError as error:
            raise CodeFailure(str(error)[:1500]) from None
