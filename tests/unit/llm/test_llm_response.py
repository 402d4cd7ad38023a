import pytest

from opto.llm import ChatResponse, MalformedResponseError
from opto.llm.response import StreamAssembler


def body(content="hi", finish="stop", usage=True):
    data = {
        "id": "c1",
        "model": "m",
        "created": 5,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }
    if usage:
        data["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return data


def test_openai_shape_and_item_access():
    response = ChatResponse.from_dict(body())
    assert response.choices[0].message.content == "hi"
    assert response["choices"][0]["message"]["content"] == "hi"
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 2)
    assert response.content == "hi" and not response.truncated
    with pytest.raises(KeyError):
        response["nope"]


def test_round_trip_through_dict():
    response = ChatResponse.from_dict(body("x", finish="length"))
    again = ChatResponse.from_dict(response.to_dict())
    assert again == response
    assert again.truncated


def test_missing_usage_gives_zero_usage():
    assert ChatResponse.from_dict(body(usage=False)).usage.total_tokens == 0


@pytest.mark.parametrize(
    "data",
    [
        "not a dict",
        {"foo": 1},
        {"choices": []},
        {"choices": [{"text": "completion api"}]},
        {"choices": [{"message": {"content": 12}}]},
    ],
)
def test_malformed_bodies_are_typed_errors(data):
    with pytest.raises(MalformedResponseError):
        ChatResponse.from_dict(data)


def test_tool_call_reply_has_no_content():
    data = body()
    data["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t"}],
    }
    response = ChatResponse.from_dict(data)
    assert response.content is None and response.choices[0].message.tool_calls == [{"id": "t"}]


def test_stream_assembler_joins_deltas_per_choice():
    seen = []
    assembler = StreamAssembler("m", seen.append)
    assembler.add(
        {"id": "s", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    )
    assembler.add(
        {
            "choices": [
                {"index": 0, "delta": {"content": "Hel"}},
                {"index": 1, "delta": {"content": "B"}},
            ]
        }
    )
    assembler.add(
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "length"}]}
    )
    assembler.add({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}})
    response = ChatResponse.from_dict(assembler.result())
    assert [c.message.content for c in response.choices] == ["Hello", "B"]
    assert response.truncated and response.usage.total_tokens == 6
    assert seen == ["Hel", "B", "lo"]


def test_stream_assembler_rejects_garbage():
    with pytest.raises(MalformedResponseError):
        StreamAssembler().add("data: nonsense")
