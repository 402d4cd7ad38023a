"""Reading {thought, name, code} out of realistic LLM replies, and refusing what is unusable."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opto.discovery import Proposal, ProposalParseError, parse_proposal

CODE = "def margin(a, b, c, d, beta):\n    return np.logaddexp(0.0, -beta * ((a - c) - (b - d)))\n"


def as_json(**fields):
    return json.dumps(fields)


def test_plain_json_reply():
    reply = as_json(thought="why", name="margin", code=CODE)
    assert parse_proposal(reply) == Proposal(thought="why", name="margin", code=CODE)


def test_fenced_json_with_prose_around_it():
    reply = (
        "Here is my next idea, building on the hinge.\n\n```json\n"
        + as_json(thought="hinge", name="m", code=CODE)
        + "\n```\nLet me know the fitness!"
    )
    assert parse_proposal(reply).code == CODE


def test_json_object_in_prose_without_a_fence():
    reply = "Sure. " + as_json(thought="t", name="m", code=CODE) + " Hope this { helps."
    assert parse_proposal(reply).name == "m"


def test_raw_newlines_inside_the_code_string_are_accepted():
    reply = '{"thought": "t", "name": "m", "code": "' + CODE + '"}'  # invalid in strict JSON
    with pytest.raises(ValueError):
        json.loads(reply)
    assert parse_proposal(reply).code == CODE


def test_python_dict_literal_with_triple_quoted_code():
    reply = "{'thought': 'dict style', 'name': 'm', 'code': '''" + CODE + "'''}"
    assert parse_proposal(reply).code == CODE


def test_keys_are_case_insensitive_and_aliases_are_known():
    reply = json.dumps({"Reasoning": "because", "Name": "m", "CODE": CODE})
    proposal = parse_proposal(reply)
    assert (proposal.thought, proposal.name) == ("because", "m")


def test_nested_proposal_object():
    reply = json.dumps({"proposal": {"thought": "t", "name": "m", "code": CODE}})
    assert parse_proposal(reply).code == CODE


def test_code_given_as_a_list_of_lines():
    reply = json.dumps({"thought": "t", "name": "m", "code": CODE.splitlines()})
    assert parse_proposal(reply).code == CODE


def test_code_fence_inside_the_code_string_is_removed():
    reply = as_json(thought="t", name="m", code="```python\n" + CODE + "```")
    assert parse_proposal(reply).code == CODE


def test_indented_code_is_dedented():
    indented = "".join("    " + line + "\n" for line in CODE.splitlines())
    assert parse_proposal(as_json(thought="", name="m", code=indented)).code == CODE


def test_missing_name_is_taken_from_the_function():
    assert parse_proposal(as_json(thought="t", code=CODE)).name == "margin"


def test_missing_thought_is_empty():
    assert parse_proposal(as_json(name="m", code=CODE)).thought == ""


def test_the_first_object_with_code_wins():
    first = as_json(thought="1", name="first", code=CODE)
    second = as_json(thought="2", name="second", code=CODE)
    assert parse_proposal(f"{first}\nor maybe\n{second}").name == "first"


def test_a_fenced_function_without_json_is_accepted_with_the_prose_as_thought():
    reply = f"I propose a margin loss.\n```python\n{CODE}```\nIt should work."
    proposal = parse_proposal(reply)
    assert proposal.code == CODE
    assert proposal.name == "margin"
    assert proposal.thought == "I propose a margin loss. It should work."


@pytest.mark.parametrize(
    "reply, expected",
    [
        (None, "The reply was empty."),
        ("   \n", "The reply was empty."),
        ("I would try an ordinal regression view.", "contains no JSON object"),
        ('{"thought": "t", "name": "m", "code": "def f(a, b', "cut off at the token limit"),
        ('{"thought": "t", "name": "m"}', "has no \"code\" key (its keys: 'thought', 'name')"),
        ('{"thought": "t", "code": ""}', 'The "code" value is empty'),
        ('{"thought": "t", "code": 42}', 'The "code" value is empty or not a string'),
        # The shared forgiving reader (opto.optimizers.parsing) reads the missing comma as part
        # of the string "t", so the object it sees has no "code".
        ('{"thought": "t" "code": "x"}', "has no \"code\" key (its keys: 'thought')"),
        ('{"thought": "t", "code": @}', "could not be parsed: Expecting value"),
        ("x" * 200_001, "keep it under 200000"),
    ],
)
def test_unusable_replies_raise_a_message_for_the_model(reply, expected):
    with pytest.raises(ProposalParseError) as caught:
        parse_proposal(reply)
    assert expected in str(caught.value)


def test_the_error_message_says_how_to_reply():
    with pytest.raises(ProposalParseError, match='keys "thought", "name" and "code"'):
        parse_proposal("no json here")


def test_long_names_are_shortened_to_one_line():
    proposal = parse_proposal(as_json(name="a\nvery " + "long " * 40, code=CODE))
    assert "\n" not in proposal.name
    assert len(proposal.name) == 80


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("{}[]\":,'`\\ \nabcdefjson0123456789"), max_size=120))
def test_arbitrary_text_gives_a_proposal_or_a_parse_error(text):
    try:
        proposal = parse_proposal(text)
    except ProposalParseError:
        return
    assert proposal.code.strip()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=60), st.text(min_size=1, max_size=300))
def test_any_json_proposal_round_trips(thought, name, code):
    if not code.strip():
        return
    proposal = parse_proposal(json.dumps({"thought": thought, "name": name, "code": code}))
    assert proposal.thought == thought.strip()
    assert proposal.code.strip()


@pytest.mark.parametrize(
    "reply, message",
    [
        ("[" * 40_000 + "]" * 40_000, "contains no JSON object"),
        # Python 3.13's json reads this depth, 3.11's gives up: either way a reason comes back.
        ('{"a": ' * 8_000 + "1" + "}" * 8_000, ("nested too deeply", 'no "code" key')),
        ('{"code": ' + "[" * 30_000 + "]" * 30_000 + "}", "nested too deeply"),
        ('{"a": ' * 900 + "1" + "}" * 900, "no \"code\" key (its keys: 'a')"),
    ],
)
def test_deeply_nested_replies_are_refused_with_a_reason(reply, message):
    # Deep nesting can make json and ast raise RecursionError; the proposer must get feedback.
    with pytest.raises(ProposalParseError, match="Reply with one JSON object") as caught:
        parse_proposal(reply)
    messages = message if isinstance(message, tuple) else (message,)
    assert any(text in str(caught.value) for text in messages)


def test_a_proposal_is_looked_for_one_level_deep_only():
    inner = {"thought": "t", "name": "m", "code": CODE}
    assert parse_proposal(json.dumps({"proposal": inner})).code == CODE
    with pytest.raises(ProposalParseError, match='no "code" key'):
        parse_proposal(json.dumps({"reply": {"proposal": inner}}))


def test_repairs_of_the_shared_json_reader_apply_to_proposals():
    # Trailing commas, comments and unquoted keys cost a generation before the discovery
    # parser used opto.optimizers.parsing; now they are read.
    reply = '{thought: "t", // why\n "name": "m", "code": "def f(a):\\n    return a",}'
    proposal = parse_proposal(reply)
    assert (proposal.thought, proposal.name, proposal.code) == (
        "t",
        "m",
        "def f(a):\n    return a\n",
    )


def test_an_unclosed_fence_is_not_taken_as_a_function():
    with pytest.raises(ProposalParseError):
        parse_proposal("I propose:\n```python\ndef f(a):\n    return a\n")
