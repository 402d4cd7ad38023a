"""Trace-compatible LLM names: `from opto.utils.llm import LLM, LiteLLM, CustomLLM, DummyLLM`.

These are thin shims over `opto.llm`, where the real clients live. Differences from Trace:
`cache` defaults to None (cache only temperature-0 calls) instead of a True that Trace ignored;
on the provider clients `.model` is the model name, not the underlying callable (an
`AbstractModel`'s `.model` is the callable, as in Trace); `AutoGenLLM` is not supported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from opto.llm.base import BaseLLM
from opto.llm.config import AUTOGEN_HELP, resolve_config
from opto.llm.custom import CallableLLM
from opto.llm.embedding import embed
from opto.llm.errors import BackendUnavailableError
from opto.llm.factory import LLM, LLMFactory
from opto.llm.litellm_backend import LiteLLMBackend
from opto.llm.openai_backend import OpenAIBackend
from opto.llm.retry import RetryPolicy
from opto.llm.testing import DummyLLM
from opto.utils.auto_retry import retry_with_exponential_backoff

__all__ = [
    "LLM",
    "TRACE_DEFAULT_LLM_BACKEND",
    "AbstractModel",
    "AutoGenLLM",
    "CustomLLM",
    "DummyLLM",
    "LLMFactory",
    "LiteLLM",
    "auto_construct_oai_config_list_from_env",
    "embed",
    "retry_with_exponential_backoff",
]

TRACE_DEFAULT_LLM_BACKEND = os.environ.get("TRACE_DEFAULT_LLM_BACKEND", "LiteLLM")
"""The backend named by TRACE_DEFAULT_LLM_BACKEND when this module was imported (Trace 0.1's
module constant). `LLM()` itself reads the variable on every call, so changing it later works."""


def auto_construct_oai_config_list_from_env(
    env: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """AutoGen-style model configs built from API keys in the environment (Trace's helper).

    `OPENAI_API_KEY` gives `{"model": "gpt-4o", "api_key": ...}` and `ANTHROPIC_API_KEY`
    gives `{"model": "claude-3-5-sonnet-latest", "api_key": ...}`, in that order; no key, `[]`.
    `env` defaults to `os.environ`.
    """
    env = os.environ if env is None else env
    configs = []
    if env.get("OPENAI_API_KEY"):
        configs.append({"model": "gpt-4o", "api_key": env["OPENAI_API_KEY"]})
    if env.get("ANTHROPIC_API_KEY"):
        configs.append({"model": "claude-3-5-sonnet-latest", "api_key": env["ANTHROPIC_API_KEY"]})
    return configs


class AbstractModel(CallableLLM):
    """A model built by `factory()` (any callable returning an OpenAI-shaped reply), rebuilt
    every `reset_freq` seconds and after unpickling.

    `model` is the callable a call invokes (Trace's property); a subclass may override it to
    change the call. The model's name is `model_name`. Every opto client passes
    `isinstance(client, AbstractModel)`, as every Trace model did.
    """

    backend_name = "custom"

    def __init__(
        self,
        factory: Callable[[], Callable[..., Any]],
        reset_freq: float | None = None,
        **options: Any,
    ) -> None:
        if not callable(factory):
            raise TypeError(f"AbstractModel needs a factory callable, got {type(factory).__name__}")
        self.factory = factory
        options.setdefault("model", "custom")
        super().__init__(factory, reset_freq=reset_freq, **options)

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._built: Callable[..., Any] | None = None

    def _runtime_fields(self) -> tuple[str, ...]:
        return (*super()._runtime_fields(), "_built")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that overrides the `model` property keeps the name setter."""
        super().__init_subclass__(**kwargs)
        override = cls.__dict__.get("model")
        if isinstance(override, property) and override.fset is None:
            cls.model = override.setter(AbstractModel._set_model_name)

    def _set_model_name(self, name: str) -> None:
        self._model_name = name

    def _get_model(self) -> Callable[..., Any]:
        if self._built is None:
            self._built = self.factory()
        return self._built

    model = property(_get_model, _set_model_name, doc="The callable a call invokes.")

    @property
    def model_name(self) -> str | None:
        """The model name given to the constructor, used in requests and in usage records."""
        return self._model_name

    def _reset_client(self) -> None:
        self._built = None

    def _target(self) -> Callable[..., Any]:
        return self.model

    def _build_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        request = {"model": kwargs.get("model") or self._model_name, **self.default_params}
        request.update(kwargs)
        if args:
            request["args"] = list(args)
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._model_name!r}, backend={self.backend_name!r})"

    @classmethod
    def __subclasshook__(cls, candidate: type) -> bool:
        if cls is not AbstractModel:
            return NotImplemented
        return BaseLLM in getattr(candidate, "__mro__", ())  # not issubclass: it would recurse


class LiteLLM(LiteLLMBackend):
    """Trace's default backend, a litellm client under Trace's name and arguments.

    ``model`` is the litellm model name; without it: OPTO_LLM_MODEL, TRACE_LITELLM_MODEL,
    DEFAULT_LITELLM_MODEL, else "gpt-4o" when OPENAI_API_KEY is set. ``reset_freq`` is the
    number of seconds after which the provider client is rebuilt (None: never). ``cache``
    True/False forces caching on or off, None caches temperature-0 calls only.
    ``max_retries`` is how many times a failed call is retried (so ``max_retries + 1``
    attempts) and ``base_delay`` the first wait in seconds, doubled each retry. Other keyword
    arguments are the options of ``opto.llm.BaseLLM`` or default request parameters.
    """

    def __init__(
        self,
        model: str | None = None,
        reset_freq: float | None = None,
        cache: bool | None = None,
        max_retries: int = 10,
        base_delay: float = 1.0,
        **options: Any,
    ) -> None:
        config = resolve_config(backend="litellm", model=model)
        options.setdefault(
            "retry", RetryPolicy(max_attempts=max_retries + 1, base_delay=base_delay)
        )
        options.setdefault("base_url", config.base_url)
        options.setdefault("api_key", config.api_key)
        super().__init__(config.model, reset_freq=reset_freq, cache=cache, **options)


class CustomLLM(OpenAIBackend):
    """Trace's client for an OpenAI-compatible server (vLLM, Ollama, a proxy).

    The server comes from TRACE_CUSTOMLLM_URL / _MODEL / _API_KEY (or OPTO_LLM_BASE_URL /
    _MODEL / _API_KEY), or from ``base_url=`` and ``api_key=`` keywords. ``model`` overrides
    the configured model name (unlike Trace, where it was ignored). ``reset_freq`` is the
    number of seconds after which the HTTP client is rebuilt (None: never); ``cache``
    True/False forces caching on or off, None caches temperature-0 calls only. Other keyword
    arguments are the options of ``opto.llm.BaseLLM`` or default request parameters.
    """

    def __init__(
        self,
        model: str | None = None,
        reset_freq: float | None = None,
        cache: bool | None = None,
        **options: Any,
    ) -> None:
        config = resolve_config(
            backend="openai",
            model=model,
            base_url=options.pop("base_url", None),
            api_key=options.pop("api_key", None),
        )
        super().__init__(
            config.model,
            base_url=config.base_url,
            api_key=config.api_key,
            reset_freq=reset_freq,
            cache=cache,
            **options,
        )


class AutoGenLLM:
    """Not supported: AutoGen 0.2's client is deprecated; use LiteLLM or CustomLLM."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise BackendUnavailableError(AUTOGEN_HELP)
