import asyncio
import json
import pickle

import pytest

from opto.llm import (
    ChatResponse,
    DummyLLM,
    RateLimitError,
    ReplayError,
    ReplayLLM,
    ReplayMissError,
    ScriptedLLM,
    ScriptExhaustedError,
    get_usage,
)


def user(text):
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]


def test_dummy_llm_passes_the_call_through_like_trace():
    seen = []

    def model(*args, **kwargs):
        seen.append((args, kwargs))
        return f"{len(kwargs['messages'])} messages, max {kwargs['max_tokens']}"

    llm = DummyLLM(model)
    response = llm(messages=user("q"), max_tokens=7, response_format={"type": "json_object"})
    assert response.choices[0].message.content == "2 messages, max 7"
    assert seen == [
        ((), {"messages": user("q"), "max_tokens": 7, "response_format": {"type": "json_object"}})
    ]
    assert llm.create(messages=user("q"), max_tokens=1).content == "2 messages, max 1"
    assert get_usage().by_model["dummy"].calls == 2


def test_dummy_llm_accepts_positional_and_dict_replies():
    llm = DummyLLM(
        lambda prompt: {"choices": [{"message": {"role": "assistant", "content": prompt.upper()}}]}
    )
    assert llm("hi").content == "HI"


def test_dummy_llm_errors_propagate_unchanged():
    def broken(**kwargs):
        raise ValueError("my bug")

    with pytest.raises(ValueError, match="my bug"):
        DummyLLM(broken)(messages=user("q"))
    assert get_usage().total.errors == 1


def test_dummy_llm_async_callable_and_sync_callable_in_acall():
    async def model(**kwargs):
        await asyncio.sleep(0)
        return "async reply"

    assert asyncio.run(DummyLLM(model).acall(messages=user("q"))).content == "async reply"
    assert asyncio.run(DummyLLM(lambda **k: "sync").acall(messages=user("q"))).content == "sync"
    with pytest.raises(TypeError, match="acall"):
        DummyLLM(model)(messages=user("q"))


def test_scripted_replies_in_order_and_requests_recorded():
    llm = ScriptedLLM(["one", "two"])
    prompt = user("first")
    assert llm(messages=prompt, max_tokens=9).content == "one"
    prompt[1]["content"] = "mutated afterwards"
    assert llm(messages=user("second"), temperature=0.3).content == "two"
    assert llm.requests[0]["messages"][1]["content"] == "first"
    assert llm.requests[0]["max_tokens"] == 9 and llm.requests[1]["temperature"] == 0.3
    assert llm.last_request["messages"][1]["content"] == "second"
    assert llm.remaining == 0


def test_scripted_runs_out_with_a_clear_error():
    llm = ScriptedLLM(["only"])
    llm(messages=user("a"))
    with pytest.raises(ScriptExhaustedError) as info:
        llm(messages=user("the second question"))
    message = str(info.value)
    assert "request #2" in message and "given 1" in message and "the second question" in message
    llm.add("more")
    assert llm(messages=user("c")).content == "more"


def test_scripted_reply_kinds():
    llm = ScriptedLLM(
        [
            {"content": "cut", "finish_reason": "length"},
            ChatResponse.from_text("object"),
            lambda request: f"saw {request['messages'][-1]['content']}",
            {
                "choices": [{"message": {"role": "assistant", "content": "body"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            },
        ],
        on_truncation="ignore",
    )
    assert llm(messages=user("a")).truncated
    assert llm(messages=user("b")).content == "object"
    assert llm(messages=user("c")).content == "saw c"
    last = llm(messages=user("d"))
    assert last.content == "body" and last.usage.completion_tokens == 4 and not last.usage.estimated


def test_scripted_errors_go_through_retries():
    llm = ScriptedLLM([RateLimitError("slow down", retry_after=0.0), "after retry"])
    response = llm(messages=user("q"))
    assert response.content == "after retry" and response.usage.attempts == 2
    assert len(llm.requests) == 2 and get_usage().total.retries == 1


def test_scripted_n_takes_several_replies():
    llm = ScriptedLLM(["a", "b", "c"])
    response = llm(messages=user("q"), n=2)
    assert [c.message.content for c in response.choices] == ["a", "b"]
    assert [c.index for c in response.choices] == [0, 1]
    with pytest.raises(ScriptExhaustedError):
        llm(messages=user("q"), n=2)


def test_scripted_async_and_pickle():
    llm = ScriptedLLM(["x", "y"])

    async def main():
        return await asyncio.gather(llm.acall(messages=user("1")), llm.acall(messages=user("2")))

    assert sorted(r.content for r in asyncio.run(main())) == ["x", "y"]
    copy = pickle.loads(pickle.dumps(ScriptedLLM(["z"])))
    assert copy(messages=user("q")).content == "z"


def test_replay_records_then_replays_offline(tmp_path):
    path = tmp_path / "rec.json"
    real = ScriptedLLM(["first answer", "second answer", "again"], model="gpt-test")
    recorder = ReplayLLM(path, llm=real)
    recorder(messages=user("q1"), max_tokens=5)
    recorder(messages=user("q2"), max_tokens=5)
    recorder(messages=user("q1"), max_tokens=5)
    data = json.loads(path.read_text())
    assert data["format"] == "opto-llm-replay" and len(data["entries"]) == 2
    assert data["entries"][0]["model"] == "gpt-test"

    replay = ReplayLLM(path)
    assert replay(messages=user("q2"), max_tokens=5).content == "second answer"
    assert replay(messages=user("q1"), max_tokens=5).content == "first answer"
    assert replay(messages=user("q1"), max_tokens=5).content == "again"
    with pytest.raises(ReplayMissError, match="recorded 2 time"):
        replay(messages=user("q1"), max_tokens=5)
    with pytest.raises(ReplayMissError) as info:
        replay(messages=user("never asked"), max_tokens=5)
    assert "never asked" in str(info.value) and str(path) in str(info.value)
    with pytest.raises(ReplayMissError):
        replay(messages=user("q2"), max_tokens=6)


def test_replay_is_free_and_async(tmp_path):
    path = tmp_path / "rec.json"
    ReplayLLM(path, llm=ScriptedLLM(["a"], prices=(1.0, 1.0)))(messages=user("q"))
    replayed = asyncio.run(ReplayLLM(path).acall(messages=user("q")))
    assert replayed.content == "a" and replayed.usage.cost == 0


def test_async_recording(tmp_path):
    path = tmp_path / "rec.json"
    asyncio.run(ReplayLLM(path, llm=ScriptedLLM(["a"])).acall(messages=user("q")))
    assert ReplayLLM(path)(messages=user("q")).content == "a"


def test_replay_file_errors(tmp_path):
    with pytest.raises(ReplayError, match="does not exist"):
        ReplayLLM(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReplayError, match="cannot read"):
        ReplayLLM(bad)
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ReplayError, match="not an opto replay file"):
        ReplayLLM(bad)


def test_recording_keeps_no_partial_file_on_error(tmp_path):
    path = tmp_path / "rec.json"
    recorder = ReplayLLM(path, llm=ScriptedLLM([]))
    with pytest.raises(ScriptExhaustedError):
        recorder(messages=user("q"))
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


SECRETS = {
    "extra_query": {"key": "SECRET-QUERY-KEY"},
    "extra_body": {"api_token": "SECRET-BODY-TOKEN", "top_k": 5},
    "aws_access_key_id": "SECRET-AWS-ID",
    "aws_secret_access_key": "SECRET-AWS-KEY",
    "aws_session_token": "SECRET-AWS-SESSION",
    "vertex_credentials": '{"private_key": "SECRET-VERTEX"}',
    "api_token": "SECRET-API-TOKEN",
    "api_key": "SECRET-API-KEY",
    "extra_headers": {"Authorization": "Bearer SECRET-HEADER"},
    "user": "someone@example.invalid",
}


def test_a_replay_file_records_only_the_fields_that_shape_the_reply(tmp_path):
    path = tmp_path / "replay.json"
    recorder = ReplayLLM(path, llm=ScriptedLLM(["answer"]))
    recorder(messages=user("q"), temperature=0.3, max_tokens=7, seed=1, **SECRETS)
    text = path.read_text()
    assert "SECRET" not in text and "example.invalid" not in text
    (entry,) = json.loads(text)["entries"]
    assert entry["request"] == {
        "messages": user("q"),
        "temperature": 0.3,
        "max_tokens": 7,
        "seed": 1,
    }
    replay = ReplayLLM(path)  # replayed with or without the credentials: same key
    assert replay(messages=user("q"), temperature=0.3, max_tokens=7, seed=1).content == "answer"
    with pytest.raises(ReplayMissError):
        replay(messages=user("q"), temperature=0.4, max_tokens=7, seed=1)
