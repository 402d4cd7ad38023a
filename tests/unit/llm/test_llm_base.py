import asyncio
import subprocess
import sys
import warnings

import pytest

from opto.llm import (
    LLM,
    BaseLLM,
    DummyLLM,
    InvalidRequestError,
    LLMError,
    LLMNotConfiguredError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitError,
    RetryPolicy,
    ScriptedLLM,
    ServerError,
    TruncatedResponseError,
    TruncationWarning,
    get_usage,
)


def user(text):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]




@pytest.mark.parametrize(
    "messages",
    [
        [],
        "",
        None,
        [{"content": "no role"}],
        [{"role": "user", "content": 5}],
        ["just text"],
        {"role": "user"},
    ],
)
def test_bad_messages_are_rejected_before_any_call(messages):
    llm = ScriptedLLM(["never used"])
    with pytest.raises(InvalidRequestError):
        llm(messages=messages)
    assert llm.requests == [] and llm.remaining == 1


def test_messages_positional_or_keyword_once():
    llm = ScriptedLLM(["a", "b"])
    assert llm(user("q")).content == "a"
    assert llm("plain text").content == "b"
    assert llm.requests[1]["messages"] == [{"role": "user", "content": "plain text"}]
    with pytest.raises(InvalidRequestError, match="once"):
        llm(user("q"), messages=user("q"))
    with pytest.raises(InvalidRequestError, match="required"):
        llm(max_tokens=3)


def test_default_params_and_per_call_overrides():
    llm = ScriptedLLM(["a", "b"], temperature=0.2, max_tokens=100)
    llm(messages=user("q"))
    llm(messages=user("q"), temperature=0.9, model="other")
    first, second = llm.requests
    assert (first["temperature"], first["max_tokens"], first["model"]) == (0.2, 100, "scripted")
    assert (second["temperature"], second["model"]) == (0.9, "other")


def test_control_keys_never_reach_the_provider():
    llm = ScriptedLLM(["a"])
    llm(messages=user("q"), cache=False, timeout=3, on_delta=print)
    assert not {"cache", "timeout", "on_delta"} & set(llm.requests[0])


def test_truncation_is_reported():
    cut = {"content": "cut", "finish_reason": "length"}
    with pytest.warns(TruncationWarning, match="max_tokens=4"):
        assert ScriptedLLM([cut])(messages=user("q"), max_tokens=4).truncated
    with pytest.raises(TruncatedResponseError) as info:
        ScriptedLLM([cut], on_truncation="raise")(messages=user("q"))
    assert info.value.response.content == "cut"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ScriptedLLM([cut], on_truncation="ignore")(messages=user("q")).truncated
    assert get_usage().total.truncated == 3 and get_usage().total.calls == 3


def test_options_are_checked():
    with pytest.raises(ValueError):
        ScriptedLLM([], on_truncation="explode")
    with pytest.raises(ValueError):
        ScriptedLLM([], timeout=0)
    with pytest.raises(ValueError):
        ScriptedLLM([], prices=(1,))


def test_retry_waits_follow_the_policy():
    llm = ScriptedLLM(
        [RateLimitError("slow", retry_after=3.0), ServerError("boom"), "ok"],
        retry=RetryPolicy(base_delay=1.0, jitter=0.0),
    )
    waits = []
    llm._sleep = waits.append
    response = llm(messages=user("q"))
    assert response.content == "ok" and response.usage.attempts == 3
    assert waits == [3.0, 2.0]


def test_retries_end_with_the_typed_error_and_attempt_count():
    llm = ScriptedLLM([ServerError("boom")] * 3, retry=RetryPolicy(max_attempts=3, base_delay=0))
    with pytest.raises(ServerError) as info:
        llm(messages=user("q"))
    assert info.value.attempts == 3 and info.value.model == "scripted"
    usage = get_usage().total
    assert (usage.errors, usage.retries, usage.calls) == (1, 2, 0)


class RaisingBackend(BaseLLM):
    def __init__(self, outcome, **options):
        super().__init__("fake", **options)
        self.outcome = outcome
        self.calls = 0

    def _complete(self, call):
        self.calls += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def test_unknown_provider_exceptions_become_llm_errors():
    backend = RaisingBackend(RuntimeError("provider blew up"))
    with pytest.raises(LLMError, match="provider blew up") as info:
        backend(messages=user("q"))
    assert isinstance(info.value.__cause__, RuntimeError)


def test_malformed_replies_are_not_retried():
    backend = RaisingBackend("<html>login page</html>")
    with pytest.raises(MalformedResponseError, match="login page"):
        backend(messages=user("q"))
    assert backend.calls == 1


def test_sdk_objects_with_model_dump_are_accepted():
    class SdkReply:
        def model_dump(self):
            return {"choices": [{"message": {"role": "assistant", "content": "from sdk"}}]}

    assert RaisingBackend(SdkReply())(messages=user("q")).content == "from sdk"


def test_async_timeout_is_enforced_and_retried():
    async def never(**kwargs):
        await asyncio.sleep(30)

    llm = DummyLLM(never, timeout=0.05, retry=RetryPolicy(max_attempts=2, base_delay=0))
    with pytest.raises(LLMTimeoutError) as info:
        asyncio.run(llm.acall(messages=user("q")))
    assert info.value.attempts == 2


def test_every_client_is_an_llm():
    assert isinstance(ScriptedLLM([]), LLM) and isinstance(DummyLLM(str), LLM)
    assert not isinstance("text", LLM)


def test_no_model_gives_one_clear_error():
    llm = LLM()
    with pytest.raises(LLMNotConfiguredError) as info:
        llm(messages=user("q"))
    for name in ("OPTO_LLM_MODEL", "TRACE_LITELLM_MODEL", "OPTO_LLM_BASE_URL", "ScriptedLLM"):
        assert name in str(info.value)


def run_python(code: str, **env) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_opto_llm_loads_no_provider_sdk_and_no_model_fails_before_loading_one():
    code = (
        "import sys, opto.llm as L\n"
        "print('litellm' in sys.modules, 'openai' in sys.modules)\n"
        "try:\n    L.LLM()('hi')\nexcept L.LLMNotConfiguredError:\n    print('not configured')\n"
        "print('litellm' in sys.modules, 'openai' in sys.modules)\n"
    )
    assert run_python(code).splitlines() == ["False False", "not configured", "False False"]
