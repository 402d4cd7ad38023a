"""`LLM(...)`: build the right client from arguments and the environment, and named profiles.

`LLM()` picks the backend per call (not at import, unlike Trace 0.1): explicit `backend=`,
else `OPTO_LLM_BACKEND`, else `TRACE_DEFAULT_LLM_BACKEND`, else litellm (the openai SDK when a
base URL is set). `LLM(profile="cheap")` uses a profile registered in `LLMFactory`.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from opto.llm.base import BaseLLM
from opto.llm.config import normalize_backend, resolve_config
from opto.llm.errors import UnknownProfileError


def make_client(
    model: str | None = None,
    *,
    backend: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> BaseLLM:
    """The client `LLM(...)` builds: a litellm or an openai-SDK client for the configuration.

    `model`, `backend` (``litellm``/``openai`` or Trace's names), `base_url` and `api_key`
    override what the environment says (see `resolve_config`); `options` are `BaseLLM`
    options and default request parameters.
    """
    config = resolve_config(backend=backend, model=model, base_url=base_url, api_key=api_key)
    if config.backend == "openai":
        from opto.llm.openai_backend import OpenAIBackend

        backend_class: type[BaseLLM] = OpenAIBackend
    else:
        from opto.llm.litellm_backend import LiteLLMBackend

        backend_class = LiteLLMBackend
    return backend_class(config.model, base_url=config.base_url, api_key=config.api_key, **options)


class _AnyClient(type):
    """Makes `isinstance(x, LLM)` true for every client, so `LLM` works as a type hint."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, BaseLLM)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return BaseLLM in getattr(subclass, "__mro__", ())


class LLM(metaclass=_AnyClient):
    """Builds a client: `LLM(model=None, *, backend=None, profile=None, base_url=None,
    api_key=None, **options)`; see `BaseLLM` for the options.

    `model` is the model name (None: OPTO_LLM_MODEL or Trace's variables); `backend` picks
    the SDK (``litellm``, default, or ``openai`` for an OpenAI-compatible server; Trace's
    ``LiteLLM``/``CustomLLM`` work too); `profile` starts from a named `LLMFactory` profile.
    `LLM` is not a class of its own: `isinstance(client, LLM)` holds for every opto client,
    so it also serves as a type hint.
    """

    def __new__(  # type: ignore[misc]
        cls,
        model: str | None = None,
        *,
        backend: str | None = None,
        profile: str | None = None,
        **options: Any,
    ) -> BaseLLM:
        if profile is not None:
            return LLMFactory.get_llm(profile, model=model, backend=backend, **options)
        return make_client(model, backend=backend, **options)


class LLMFactory:
    """Named client profiles (Trace 0.2): `LLMFactory.get_llm("cheap")`, `LLM(profile=...)`."""

    _profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {"backend": "LiteLLM", "params": {"model": "gpt-4o-mini"}},
        "cheap": {"backend": "LiteLLM", "params": {"model": "gpt-4o-mini"}},
        "premium": {"backend": "LiteLLM", "params": {"model": "gpt-4"}},
        "fast": {"backend": "LiteLLM", "params": {"model": "gpt-3.5-turbo-mini"}},
        "reasoning": {"backend": "LiteLLM", "params": {"model": "o1-mini"}},
    }

    @classmethod
    def get_llm(cls, profile: str = "default", **overrides: Any) -> BaseLLM:
        """A new client from the named `profile` (see `list_profiles`); non-None `overrides`
        replace the profile's settings."""
        info = cls.get_profile_info(profile)
        params = dict(info["params"])
        params.update({key: value for key, value in overrides.items() if value is not None})
        backend = params.pop("backend", None) or info["backend"]
        return make_client(backend=backend, **params)

    @classmethod
    def register_profile(cls, name: str, backend: str = "LiteLLM", **params: Any) -> None:
        """Add or replace the profile `name`: clients made from it use `backend` and the
        keyword `params` (model, temperature, ...). An unknown backend is refused now, not
        at the first `get_llm`."""
        normalize_backend(backend)
        cls._profiles[name] = {"backend": backend, "params": params}

    @classmethod
    def list_profiles(cls) -> list[str]:
        """The names of the known profiles, built-in and registered."""
        return list(cls._profiles)

    @classmethod
    def get_profile_info(cls, profile: str | None = None) -> dict[str, Any]:
        """One profile's settings (a copy), or all of them when `profile` is None."""
        if profile is None:
            return copy.deepcopy(cls._profiles)
        if profile not in cls._profiles:
            raise UnknownProfileError(
                f"no LLM profile named {profile!r}; known: {', '.join(cls._profiles)}. "
                "Add one with LLMFactory.register_profile(name, backend, model=...)"
            )
        return copy.deepcopy(cls._profiles[profile])
