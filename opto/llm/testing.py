"""Test doubles shipped with the package, for opto's tests and for users' own.

All three go through the same choke point as real clients (usage, budgets, limits), are free
(price 0), do not use the cache unless asked, and retry without waiting.

- `DummyLLM(fn)`: Trace's double; `fn(*args, **kwargs)` returns the reply text.
- `ScriptedLLM([replies])`: replies in order, and a record of every request received.
- `ReplayLLM(path, llm=real)` records real calls to a JSON file; `ReplayLLM(path)` replays them.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

from opto.llm.base import BaseLLM
from opto.llm.cache import canonical_json, request_key
from opto.llm.client import Call
from opto.llm.custom import CallableLLM
from opto.llm.dry_run import active_dry_run
from opto.llm.errors import ReplayError, ReplayMissError, ScriptExhaustedError
from opto.llm.response import ChatResponse, Usage
from opto.llm.retry import RetryPolicy

Reply = Union[str, dict, ChatResponse, BaseException, Callable[[dict], Any]]
REPLAY_FORMAT = "opto-llm-replay"


def _double_options(options: dict[str, Any]) -> dict[str, Any]:
    options.setdefault("cache", False)
    options.setdefault("prices", (0.0, 0.0))
    options.setdefault("retry", RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0))
    return options


def describe_request(request: dict[str, Any], limit: int = 120) -> str:
    """The model and the last user message of `request`, the message cut to `limit`
    characters: enough to recognise a request in an error."""
    text = ""
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = str(message.get("content"))
            break
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"model={request.get('model')!r}, last user message={text!r}"


class DummyLLM(CallableLLM):
    """Calls `fn(*args, **kwargs)` with what the caller passed and wraps the returned text.

    Trace's test double. `reset_freq` is accepted for Trace's signature (there is no provider
    client to rebuild); other keyword arguments are `BaseLLM` options. Unlike a real client it
    does not cache and costs nothing by default.
    """

    backend_name = "dummy"

    def __init__(
        self, fn: Callable[..., Any], reset_freq: float | None = None, **options: Any
    ) -> None:
        options.setdefault("model", "dummy")
        super().__init__(fn, reset_freq=reset_freq, **_double_options(options))


class ScriptedLLM(BaseLLM):
    """Returns `replies` in order; raises `ScriptExhaustedError` when they run out.

    A reply is a string, a dict (a full chat-completion body, or {"content", "finish_reason"}),
    a `ChatResponse`, an exception to raise (e.g. `RateLimitError(...)` to test retries), or a
    function of the request returning one of those. With `n=k` a call takes k replies.
    Every request received is kept in `requests` (a deep copy), so tests can inspect prompts.
    `model` is the name the calls are recorded under; other keyword arguments are `BaseLLM`
    options.
    """

    backend_name = "scripted"

    def __init__(self, replies: Iterable[Reply], model: str = "scripted", **options: Any) -> None:
        super().__init__(model=model, **_double_options(options))
        self._replies: deque[Reply] = deque(replies)
        self._given = len(self._replies)
        self.requests: list[dict[str, Any]] = []
        self._script_lock = threading.Lock()

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_script_lock")

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._script_lock = threading.Lock()

    @property
    def remaining(self) -> int:
        """How many scripted replies are left."""
        return len(self._replies)

    @property
    def last_request(self) -> dict[str, Any] | None:
        """The most recent request received (a copy), or None before the first call."""
        return self.requests[-1] if self.requests else None

    def add(self, *replies: Reply) -> None:
        """Append more replies to the script (a test that learns what comes next)."""
        with self._script_lock:
            self._replies.extend(replies)
            self._given += len(replies)

    def _complete(self, call: Call) -> ChatResponse:
        """Take n replies; the usage of full reply bodies is kept (summed over choices)."""
        wanted = int(call.request.get("n") or 1)
        with self._script_lock:
            self.requests.append(copy.deepcopy(call.request))
            number = len(self.requests)
            if len(self._replies) < wanted:
                raise ScriptExhaustedError(
                    f"ScriptedLLM has no reply left for request #{number} (it was given "
                    f"{self._given}); {describe_request(call.request)}",
                    model=call.model,
                )
            items = [self._replies.popleft() for _ in range(wanted)]
        replies = [self._reply(item, call) for item in items]
        choices = [replace(reply.choices[0], index=index) for index, reply in enumerate(replies)]
        usage = Usage(
            prompt_tokens=max(reply.usage.prompt_tokens for reply in replies),
            completion_tokens=sum(reply.usage.completion_tokens for reply in replies),
        )
        return ChatResponse(choices=choices, model=call.model, usage=usage)

    def _reply(self, item: Reply, call: Call) -> ChatResponse:
        if callable(item) and not isinstance(item, BaseException):
            item = item(call.request)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            return ChatResponse.from_text(item, model=call.model)
        if isinstance(item, ChatResponse):
            return copy.deepcopy(item)
        if isinstance(item, dict) and "choices" in item:
            return ChatResponse.from_dict(item, model=call.model)
        if isinstance(item, dict):
            return ChatResponse.from_text(
                item.get("content"),
                model=call.model,
                finish_reason=item.get("finish_reason", "stop"),
            )
        raise TypeError(f"ScriptedLLM cannot use a reply of type {type(item).__name__}")


# What a replay file records of a request, and what its key is made of: only the fields that
# shape the reply. Anything else (credentials in `extra_query`/`extra_body`/`aws_*`/
# `vertex_credentials`/`api_token`, headers, base URLs, the model's name) is never written.
REPLAY_FIELDS = frozenset(
    {
        "messages",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "reasoning_effort",
        "thinking",
        "modalities",
        "prediction",
    }
)


def _replay_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The caller's view of a request, reduced to `REPLAY_FIELDS`: the same when recording
    with any client and when replaying without one."""
    request = {key: value for key, value in kwargs.items() if key in REPLAY_FIELDS}
    if args:
        request.setdefault("messages", args[0])
    return json.loads(canonical_json(request))


class ReplayLLM(BaseLLM):
    """Record real calls to a JSON file, or replay them offline.

    `ReplayLLM(path, llm=client)` forwards each call to `client` and appends the request and
    reply to `path` (rewritten atomically after every call). Only the request fields that
    shape the reply (`REPLAY_FIELDS`) are written and make its key, so a replay file holds no
    credential and can be committed; two requests that differ only in other fields share an
    entry (their replies are served in the order they were recorded). `ReplayLLM(path)` answers from the
    file; a request that is not recorded raises `ReplayMissError` naming it. The same request
    asked several times gets its recorded replies in order. Replays are free and report the
    recorded token counts.
    """

    backend_name = "replay"

    def __init__(self, path: str | Path, llm: BaseLLM | None = None, **options: Any) -> None:
        super().__init__(model=llm.model if llm else "replay", **_double_options(options))
        self.path = Path(path)
        self.recorder = llm
        self._entries: dict[str, dict[str, Any]] = {}
        self._served: dict[str, int] = {}
        if self.path.exists():
            self._entries = self._load()
        elif llm is None:
            raise ReplayError(
                f"replay file {self.path} does not exist; record it first with "
                "ReplayLLM(path, llm=<a real client>)"
            )
        self._file_lock = threading.Lock()

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_file_lock")

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._file_lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReplayError(f"cannot read replay file {self.path}: {exc}") from exc
        try:
            if data["format"] == REPLAY_FORMAT:
                return {entry["key"]: entry for entry in data["entries"] if entry["responses"]}
        except (KeyError, TypeError):
            pass
        raise ReplayError(f"{self.path} is not an opto replay file (format {REPLAY_FORMAT!r})")

    def _save(self) -> None:
        data = {"format": REPLAY_FORMAT, "version": 1, "entries": list(self._entries.values())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, indent=1, ensure_ascii=False)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def _store(self, request: dict[str, Any], response: ChatResponse, model: str) -> None:
        key = request_key(request)
        with self._file_lock:
            entry = self._entries.setdefault(
                key, {"key": key, "model": model, "request": request, "responses": []}
            )
            entry["responses"].append(response.to_dict())
            self._save()

    def __call__(self, *args: Any, **kwargs: Any) -> ChatResponse:
        if self.recorder is None or active_dry_run() is not None:  # a dry run records nothing
            return super().__call__(*args, **kwargs)
        response = self.recorder(*args, **kwargs)
        self._store(_replay_request(args, kwargs), response, self.recorder.model or "")
        return response

    async def acall(self, *args: Any, **kwargs: Any) -> ChatResponse:
        if self.recorder is None or active_dry_run() is not None:
            return await super().acall(*args, **kwargs)
        response = await self.recorder.acall(*args, **kwargs)
        self._store(_replay_request(args, kwargs), response, self.recorder.model or "")
        return response

    def _complete(self, call: Call) -> ChatResponse:
        request = _replay_request(call.args, call.kwargs)
        key = request_key(request)
        with self._file_lock:
            entry = self._entries.get(key)
            served = self._served.get(key, 0)
            if entry is not None and served < len(entry["responses"]):
                self._served[key] = served + 1
                return ChatResponse.from_dict(entry["responses"][served])
        if entry is None:
            raise ReplayMissError(
                f"no recorded reply in {self.path} for request {key[:12]} "
                f"({describe_request(request)}); record it with ReplayLLM(path, llm=<client>)",
                model=call.model,
            )
        raise ReplayMissError(
            f"request {key[:12]} was recorded {len(entry['responses'])} time(s) in {self.path} "
            f"and is now asked once more ({describe_request(request)})",
            model=call.model,
        )
