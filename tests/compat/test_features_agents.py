"""Trace 0.2 programs built on ``opto.features``: the tutorial agent (BasicLearner) trained by
OptoPrime, and a traced chat (TracedLLM with ChatHistory)."""

import json

import pytest

from opto import trace
from opto.features.flows.compose import ChatHistory, TracedLLM
from opto.features.flows.types import TraceObject
from opto.features.predefined_agents import BasicLearner, Learner, call_llm
from opto.llm import DummyLLM, ScriptedLLM
from opto.optimizers import OptoPrime


def capital_bot(messages, **_):
    """A stand-in model: answers in one word only when told to be brief."""
    brief = "one word" in messages[0]["content"]
    return "Paris" if brief else "The capital of France is Paris, a lovely city."


def test_basic_learner_is_trained_by_optoprime_as_in_the_trainer_tutorial():
    agent = BasicLearner(llm=DummyLLM(capital_bot))
    assert Learner is BasicLearner
    assert agent.parameters() == [agent.system_prompt]

    answer = agent("What is the capital of France?")
    assert answer.data == "The capital of France is Paris, a lovely city."

    name = agent.system_prompt.py_name
    optimizer_llm = ScriptedLLM(
        [json.dumps({"reasoning": "be brief", "suggestion": {name: "Reply in one word."}})]
    )
    optimizer = OptoPrime(agent.parameters(), llm=optimizer_llm)
    optimizer.objective = f"{optimizer.default_objective} Hint: answers must be one word."
    optimizer.zero_feedback()
    optimizer.backward(answer, "Too long: answer with the city only.")
    optimizer.step()

    assert agent.system_prompt.data == "Reply in one word."
    assert agent("What is the capital of France?").data == "Paris"
    user = optimizer_llm.requests[0]["messages"][1]["content"]
    assert f"(str) {name}=You're a helpful agent" in user
    assert "message=message0" in user and "Query: {message}" in user


def test_basic_learner_with_its_own_prompts():
    llm = ScriptedLLM(["42"])
    agent = BasicLearner("You are a calculator.", "Compute: {message}", llm=llm)
    assert agent(" 6 * 7").data == "42"
    assert llm.requests[0]["messages"] == [
        {"role": "system", "content": "You are a calculator."},
        {"role": "user", "content": "Compute:  6 * 7"},
    ]


def test_call_llm_needs_the_message_placeholder():
    llm = ScriptedLLM(["hi"])
    assert call_llm(llm, "sys", "Say: {message}", "hello") == "hi"
    with pytest.raises(ValueError, match="must contain"):
        call_llm(llm, "sys", "no placeholder", "hello")


def test_traced_llm_chat_with_history_and_a_trainable_system_prompt():
    llm = ScriptedLLM(["Hello Ada!", "You said your name is Ada."])
    chat = TracedLLM("Be friendly.", llm=llm, chat_history_on=True, trainable=True)
    assert [p.data for p in chat.parameters()] == ["Be friendly."]

    first = chat("I am Ada.")
    second = chat.chat("What is my name?")
    assert second.data == "You said your name is Ada."
    sent = llm.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "Hello Ada!"
    assert first in second.parents and chat.system_prompt in second.parents
    assert len(chat.chat_history) == 4

    optimizer_llm = ScriptedLLM(
        [json.dumps({"suggestion": {chat.system_prompt.py_name: "Be brief and friendly."}})]
    )
    optimizer = OptoPrime(chat.parameters(), llm=optimizer_llm)
    optimizer.zero_feedback()
    optimizer.backward(second, "too wordy")
    optimizer.step()
    assert chat.system_prompt.data == "Be brief and friendly."
    assert (
        "#Constraints\n(str) system_prompt0: The system prompt"
        in (optimizer_llm.requests[0]["messages"][1]["content"])
    )


def test_traced_llm_keeps_the_flag_of_a_node_it_is_given():
    prompt = trace.node("Be terse.", trainable=True)
    chat = TracedLLM(system_prompt=prompt, llm=ScriptedLLM([]))
    assert chat.system_prompt is prompt and prompt.trainable, "Trace switched it off"
    assert chat.parameters() == [prompt]
    with pytest.raises(TypeError, match="AbstractModel"):
        TracedLLM(llm=lambda **kwargs: "not a client")


def test_chat_history_keeps_the_first_question_and_the_latest_turns():
    history = ChatHistory(max_len=3)
    for content, role in [("u1", "user"), ("a1", "assistant"), ("u2", "user"), ("a2", "assistant")]:
        history.add(content, role)
    history.append({"role": "user", "content": "u3"})
    assert [m["content"] for m in history.get_messages()] == ["u1", "a2", "u3"]
    with pytest.raises(ValueError, match="Invalid role"):
        history.add("x", "system")
    with pytest.raises(ValueError, match="'role' and 'content'"):
        history.append({"content": "x"})
    with pytest.warns(UserWarning, match="two user messages"):
        history.add("u4", "user")
    nodes = history.get_messages_as_node("bot")
    assert nodes[-1].data == "u4" and nodes[-1].name.startswith("bot_user_query")


def test_trace_object_requires_a_string_form():
    class Plain(TraceObject):
        pass

    class Point(TraceObject):
        def __str__(self):
            return "Point(1, 2)"

    with pytest.raises(NotImplementedError):
        str(Plain())
    assert str(trace.node(Point()).data) == "Point(1, 2)"
