import pickle

import pytest

import opto.utils.llm as compat
from opto.llm import (
    LLM,
    BackendUnavailableError,
    LiteLLMBackend,
    LLMFactory,
    OpenAIBackend,
    UnknownProfileError,
    configured_model,
    is_configured,
)
from opto.llm.config import resolve_config


def user(text):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]


def test_defaults_to_litellm_and_no_model():
    config = resolve_config(env={})
    assert (config.backend, config.model, config.base_url) == ("litellm", None, None)
    assert not is_configured(env={}) and configured_model(env={}) is None


def test_trace_default_model_when_only_an_openai_key_is_set():
    assert resolve_config(env={"OPENAI_API_KEY": "sk"}).model == "gpt-4o"


@pytest.mark.parametrize(
    ("env", "model"),
    [
        ({"DEFAULT_LITELLM_MODEL": "legacy"}, "legacy"),
        ({"DEFAULT_LITELLM_MODEL": "legacy", "TRACE_LITELLM_MODEL": "trace"}, "trace"),
        ({"TRACE_LITELLM_MODEL": "trace", "OPTO_LLM_MODEL": "opto"}, "opto"),
    ],
)
def test_litellm_model_precedence(env, model):
    assert resolve_config(env=env).model == model
    assert resolve_config(model="explicit", env=env).model == "explicit"


def test_base_url_selects_the_openai_backend():
    config = resolve_config(
        env={"OPTO_LLM_BASE_URL": "http://127.0.0.1:11434/v1", "OPTO_LLM_MODEL": "llama3"}
    )
    assert (config.backend, config.model, config.base_url) == (
        "openai",
        "llama3",
        "http://127.0.0.1:11434/v1",
    )
    assert resolve_config(base_url="http://x/v1", env={}).backend == "openai"


def test_trace_custom_llm_variables():
    env = {
        "TRACE_DEFAULT_LLM_BACKEND": "CustomLLM",
        "TRACE_CUSTOMLLM_URL": "http://server/v1",
        "TRACE_CUSTOMLLM_MODEL": "served",
        "TRACE_CUSTOMLLM_API_KEY": "key",
    }
    config = resolve_config(env=env)
    assert config == type(config)("openai", "served", "http://server/v1", "key")
    opto_env = {
        **env,
        "OPTO_LLM_MODEL": "mine",
        "OPTO_LLM_API_KEY": "k2",
        "OPTO_LLM_BACKEND": "litellm",
    }
    config = resolve_config(env=opto_env)
    assert (config.backend, config.model, config.api_key) == ("litellm", "mine", "k2")


@pytest.mark.parametrize("name", ["LiteLLM", "litellm", "CustomLLM", "openai", "OpenAI"])
def test_backend_names(name):
    assert resolve_config(backend=name, env={}).backend in ("litellm", "openai")


def test_autogen_and_unknown_backends_are_clear_errors():
    with pytest.raises(BackendUnavailableError, match="AutoGen backend is not supported"):
        resolve_config(env={"TRACE_DEFAULT_LLM_BACKEND": "AutoGen"})
    with pytest.raises(BackendUnavailableError, match="unknown LLM backend"):
        resolve_config(backend="bard", env={})
    assert configured_model(env={"OPTO_LLM_BACKEND": "AutoGen", "OPTO_LLM_MODEL": "m"}) is None


def test_llm_builds_the_backend_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRACE_LITELLM_MODEL", "anthropic/claude-3-5-haiku-20241022")
    llm = LLM(max_tokens=10)
    assert isinstance(llm, LiteLLMBackend) and llm.model == "anthropic/claude-3-5-haiku-20241022"
    assert llm.default_params == {"max_tokens": 10}
    assert is_configured()
    monkeypatch.setenv("OPTO_LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("OPTO_LLM_MODEL", "qwen")
    local = LLM()
    assert isinstance(local, OpenAIBackend) and local.base_url == "http://127.0.0.1:8000/v1"
    assert isinstance(LLM("gpt-4o-mini", backend="CustomLLM"), OpenAIBackend)


def test_profiles():
    assert {"default", "cheap", "premium", "fast", "reasoning"} <= set(LLMFactory.list_profiles())
    assert LLM(profile="cheap").model == "gpt-4o-mini"
    assert LLMFactory.get_llm("premium", max_cost=1.0).budget.max_cost == 1.0
    LLMFactory.register_profile(
        "local-test", backend="CustomLLM", model="llama3", base_url="http://h/v1"
    )
    try:
        local = LLM(profile="local-test")
        assert isinstance(local, OpenAIBackend) and local.model == "llama3"
        info = LLMFactory.get_profile_info("local-test")
        info["params"]["model"] = "changed"
        assert LLMFactory.get_profile_info("local-test")["params"]["model"] == "llama3"
    finally:
        LLMFactory._profiles.pop("local-test")
    with pytest.raises(UnknownProfileError, match="known: default"):
        LLM(profile="nope")
    with pytest.raises(BackendUnavailableError):
        LLMFactory.register_profile("x", backend="AutoGen")


def test_compat_names_exist():
    for name in (
        "LLM",
        "AbstractModel",
        "LiteLLM",
        "CustomLLM",
        "AutoGenLLM",
        "DummyLLM",
        "LLMFactory",
        "embed",
    ):
        assert hasattr(compat, name)
    assert compat.LLM is LLM


def test_compat_litellm_reads_trace_variables_and_retry_settings(monkeypatch):
    monkeypatch.setenv("TRACE_LITELLM_MODEL", "gpt-4o-mini")
    llm = compat.LiteLLM(max_retries=3, base_delay=0.5)
    assert llm.model == "gpt-4o-mini"
    assert (llm.retry.max_attempts, llm.retry.base_delay) == (4, 0.5)
    assert isinstance(llm, compat.AbstractModel) and llm.cache is None
    assert not isinstance("text", compat.AbstractModel)


def test_compat_custom_llm_accepts_a_model(monkeypatch):
    monkeypatch.setenv("TRACE_CUSTOMLLM_URL", "http://server/v1")
    monkeypatch.setenv("TRACE_CUSTOMLLM_API_KEY", "k")
    llm = compat.CustomLLM(model="named")
    assert (llm.model, llm.base_url, llm.api_key) == ("named", "http://server/v1", "k")


def test_compat_autogen_is_a_clear_error():
    with pytest.raises(BackendUnavailableError, match="LiteLLM"):
        compat.AutoGenLLM()


def make_model():
    built = make_model.count = getattr(make_model, "count", 0) + 1
    return lambda **kwargs: {
        "choices": [{"message": {"role": "assistant", "content": f"model #{built}"}}]
    }


def test_abstract_model_builds_from_factory_and_rebuilds():
    make_model.count = 0
    llm = compat.AbstractModel(make_model)
    assert llm(messages=user("q")).content == "model #1"
    assert llm(messages=user("q")).content == "model #1"
    restored = pickle.loads(pickle.dumps(llm))
    assert restored(messages=user("q")).content == "model #2"
    fresh = compat.AbstractModel(make_model, reset_freq=0.0)
    assert fresh(messages=user("q")).content != fresh(messages=user("q")).content
    with pytest.raises(TypeError):
        compat.AbstractModel("not callable")
