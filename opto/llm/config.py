"""Which backend, model, base URL and key a client uses when the caller does not say.

Order: explicit arguments, then opto's variables (`OPTO_LLM_*`), then Trace's (`TRACE_*`,
`DEFAULT_LITELLM_MODEL`). The backend defaults to litellm, or to the openai SDK when a base URL
is configured (a base URL means an OpenAI-compatible server). With no model anywhere but an
`OPENAI_API_KEY`, the model is "gpt-4o", as in Trace.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass

from opto.llm.errors import BackendUnavailableError

BACKEND_NAMES = {
    "litellm": "litellm",
    "openai": "openai",
    "customllm": "openai",
    "custom": "openai",
    "autogen": "autogen",
}
TRACE_DEFAULT_MODEL = "gpt-4o"

NOT_CONFIGURED_HELP = """No LLM model is configured. Set one of:
  OPTO_LLM_MODEL=gpt-4o-mini (with OPENAI_API_KEY), or
  OPTO_LLM_MODEL=anthropic/claude-3-5-sonnet-20241022 (with ANTHROPIC_API_KEY), or any litellm
    model name (Trace's TRACE_LITELLM_MODEL works too);
  for a local OpenAI-compatible server (Ollama, vLLM, llama.cpp): OPTO_LLM_BASE_URL=http://127.0.0.1:11434/v1
    and OPTO_LLM_MODEL=<served model name> (Trace's TRACE_CUSTOMLLM_URL / TRACE_CUSTOMLLM_MODEL work too);
or pass LLM(model=...). In tests use opto.llm.ScriptedLLM or DummyLLM."""

AUTOGEN_HELP = (
    "The AutoGen backend is not supported by opto. Use the default litellm backend "
    "(TRACE_DEFAULT_LLM_BACKEND=LiteLLM, any of 100+ providers) or, for an OpenAI-compatible "
    "server, the openai backend (TRACE_DEFAULT_LLM_BACKEND=CustomLLM with OPTO_LLM_BASE_URL)."
)


@dataclass(frozen=True)
class LLMConfig:
    """Which client `LLM()` builds, resolved from arguments and the environment.

    `backend` is ``litellm`` or ``openai``; `model` the model name (None: not configured);
    `base_url` the server of an OpenAI-compatible endpoint (None: the provider's default);
    `api_key` the key given through opto's or Trace's variables (None: the SDK finds its own).
    """

    backend: str
    model: str | None
    base_url: str | None
    api_key: str | None


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def normalize_backend(name: str) -> str:
    """The backend ``name`` (Trace's ``LiteLLM``/``CustomLLM`` or opto's ``litellm``/``openai``,
    in any case) as opto's key; a typed error for an unknown or unsupported one."""
    key = name.strip().lower().replace("_", "").replace("-", "")
    if key.endswith("llm") and key not in BACKEND_NAMES:
        key = key[: -len("llm")]
    if key not in BACKEND_NAMES:
        raise BackendUnavailableError(
            f"unknown LLM backend {name!r}; use one of: LiteLLM, CustomLLM (openai SDK), openai"
        )
    backend = BACKEND_NAMES[key]
    if backend == "autogen":
        raise BackendUnavailableError(AUTOGEN_HELP)
    return backend


def resolve_config(
    backend: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
) -> LLMConfig:
    """Fill in what the arguments leave open from the environment, as Trace's variables do.

    `backend`, `model`, `base_url` and `api_key` win when given; the rest come from
    OPTO_LLM_* and then Trace's TRACE_* variables in `env` (None: `os.environ`; a dict lets
    tests resolve without touching the process). A base URL alone picks the openai backend.
    """
    env = os.environ if env is None else env
    base_url = base_url or env.get("OPTO_LLM_BASE_URL") or None
    named = backend or _first(env, "OPTO_LLM_BACKEND", "TRACE_DEFAULT_LLM_BACKEND")
    chosen = normalize_backend(named) if named else ("openai" if base_url else "litellm")
    if chosen == "openai":
        base_url = base_url or env.get("TRACE_CUSTOMLLM_URL") or None
        model = model or _first(env, "OPTO_LLM_MODEL", "TRACE_CUSTOMLLM_MODEL")
        api_key = api_key or _first(env, "OPTO_LLM_API_KEY", "TRACE_CUSTOMLLM_API_KEY")
    else:
        model = model or _first(
            env, "OPTO_LLM_MODEL", "TRACE_LITELLM_MODEL", "DEFAULT_LITELLM_MODEL"
        )
        api_key = api_key or env.get("OPTO_LLM_API_KEY") or None
    if model is None and not base_url and env.get("OPENAI_API_KEY"):
        model = TRACE_DEFAULT_MODEL
    return LLMConfig(backend=chosen, model=model, base_url=base_url, api_key=api_key)


def configured_model(env: Mapping[str, str] | None = None) -> str | None:
    """The model `LLM()` would use with the variables in `env` (None: `os.environ`), or None.
    Never raises."""
    try:
        return resolve_config(env=env).model
    except BackendUnavailableError:
        return None


def is_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when `LLM()` has a model to call given `env` (None: `os.environ`); examples use it
    to choose between a real model and scripted replies."""
    return configured_model(env) is not None


def require_module(module: str, backend: str) -> None:
    """Raise `BackendUnavailableError` naming the extra to install when the package
    `module` that `backend` needs is missing, before a confusing ImportError deep inside."""
    if importlib.util.find_spec(module) is None:
        raise BackendUnavailableError(
            f"the {backend} backend needs the {module!r} package: pip install 'opto[llm]' "
            f"(or pip install {module})"
        )
