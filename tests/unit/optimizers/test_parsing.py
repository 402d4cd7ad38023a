"""Reply parsing: a corpus of realistic bad replies, rules one by one, and fuzzing.

The corpus (reply_corpus/cases.json + one text file per reply) holds the expected outcome of
every case; a reply's text is read byte for byte from its file.
"""

import json
import math
import string
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from opto.optimizers.parsing import (
    ParsedReply,
    extract_between,
    extract_tag_blocks,
    is_terminate,
    normalise_name,
    parse_json_reply,
    parse_xml_reply,
)

CORPUS = Path(__file__).parent / "reply_corpus"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
FORMATS = {"json", "xml", "none"}


def read_reply(case: dict) -> str:
    return (CORPUS / case["file"]).read_bytes().decode("utf-8")


def assert_same_typed(got, expected, where="value"):
    """Equal, and of the same type all the way down (5 is not 5.0, True is not 1)."""
    assert type(got) is type(expected), f"{where}: {got!r} is not {expected!r}"
    if isinstance(expected, dict):
        assert set(got) == set(expected), f"{where}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected:
            assert_same_typed(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same_typed(a, b, f"{where}[{i}]")
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


def check_invariants(reply: ParsedReply, text) -> None:
    assert isinstance(reply, ParsedReply)
    assert reply.raw == (text if isinstance(text, str) else "")
    assert reply.format in FORMATS
    assert isinstance(reply.suggestion, dict)
    assert all(isinstance(k, str) and k for k in reply.suggestion)
    assert reply.error is None or (isinstance(reply.error, str) and reply.error)
    assert reply.error is None or "internal parser error" not in reply.error
    if reply.terminate:
        assert reply.suggestion == {} and reply.error is None
    assert isinstance(reply.notes, tuple)


# --- the corpus ---------------------------------------------------------------------------


def test_corpus_is_complete_and_consistent():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 40
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*.txt")}
    assert on_disk == {c["file"] for c in CASES}
    for case in CASES:
        assert case["protocol"] in {"json", "xml", "between"}
        assert case["file"] == f"{case['protocol']}/{case['id']}.txt"
        assert case["note"] and case["style"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_reply_parses_as_expected(case):
    text = read_reply(case)
    expect = case["expect"]
    kwargs = case.get("kwargs", {})
    if case["protocol"] == "between":
        assert extract_between(text, **kwargs) == expect["value"]
        return
    parse = parse_json_reply if case["protocol"] == "json" else parse_xml_reply
    reply = parse(text, **kwargs)
    check_invariants(reply, text)
    assert_same_typed(reply.suggestion, expect["suggestion"], "suggestion")
    assert reply.terminate is expect["terminate"]
    assert (reply.error is not None) is expect["error"], reply.error
    assert reply.format == expect["format"]
    if "truncated" in expect:
        assert reply.truncated is expect["truncated"]
    if "reasoning" in expect:
        assert reply.reasoning == expect["reasoning"]
    if "answer" in expect:
        assert_same_typed(reply.answer, expect["answer"], "answer")


# --- TERMINATE --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["TERMINATE", "  TERMINATE\n", "TERMINATE.", "terminate", '"TERMINATE"', "`TERMINATE`",
     "**TERMINATE**", "```\nTERMINATE\n```", "```text\nTERMINATE!\n```"],
)  # fmt: skip
def test_whole_reply_sentinel_terminates(text):
    assert is_terminate(text)
    for parse in (parse_json_reply, parse_xml_reply):
        reply = parse(text)
        assert reply.terminate and reply.suggestion == {} and reply.error is None


@pytest.mark.parametrize(
    "text",
    ["", "TERMINATE now", "I will not TERMINATE yet.", "TERMINATED", "TERMINATE\nbut x0 = 3",
     '{"reasoning": "TERMINATE"}', None, 3, "TERMINATE " * 30],
)  # fmt: skip
def test_mentioning_the_sentinel_is_not_the_sentinel(text):
    assert is_terminate(text) is False


def test_a_real_suggestion_is_never_terminate():
    text = 'TERMINATE\n{"reasoning": "TERMINATE", "suggestion": {"x0": 1}}\nTERMINATE'
    reply = parse_json_reply(text)
    assert reply.suggestion == {"x0": 1} and not reply.terminate
    xml = "<reasoning>TERMINATE</reasoning><variable><name>x0</name><value>1</value></variable>"
    reply = parse_xml_reply(xml + "\nTERMINATE")
    assert reply.suggestion == {"x0": "1"} and not reply.terminate


def test_empty_suggestion_with_sentinel_answer_terminates():
    reply = parse_json_reply('{"reasoning": "fine", "answer": "TERMINATE", "suggestion": {}}')
    assert reply.terminate and reply.answer == "TERMINATE"


# --- JSON rules ---------------------------------------------------------------------------


def test_custom_keys_follow_the_optimizer_settings():
    text = '{"thinking": "t", "proposal": {"x0": 2}, "answer": "ignored as a key"}'
    reply = parse_json_reply(
        text, reasoning_key="thinking", answer_key=None, suggestion_key="proposal"
    )
    assert reply.reasoning == "t" and reply.suggestion == {"x0": 2} and reply.answer is None


def test_without_answer_key_the_answer_field_is_just_another_entry():
    reply = parse_json_reply('{"reasoning": "r", "answer": 5, "x0": 1}', answer_key=None)
    assert reply.suggestion == {"answer": 5, "x0": 1}


def test_cut_off_after_a_complete_suggestion_is_not_an_error():
    reply = parse_json_reply('{"suggestion": {"x0": 1}, "reasoning": "I chose 1 becau')
    assert reply.suggestion == {"x0": 1} and reply.error is None and reply.truncated
    assert reply.reasoning == "I chose 1 becau"


@pytest.mark.parametrize(
    ("tail", "kept"),
    [('"x1": tru', {"x0": 1}), ('"x1": 1.', {"x0": 1}), ('"x1": -Inf', {"x0": 1}),
     ('"x1": "ab', {"x0": 1}), ('"x1": "ab"', {"x0": 1}), ('"x1": [1, 2', {"x0": 1}),
     ('"x1": {"a": 1}', {"x0": 1, "x1": {"a": 1}}), ('"x1": null', {"x0": 1, "x1": None}),
     ('"x1": 12', {"x0": 1}), ('"x1": 12 ', {"x0": 1, "x1": 12}), ('"x1": "ab" ', {"x0": 1}), ('"x1"', {"x0": 1}), ("", {"x0": 1})],
)  # fmt: skip
def test_a_value_the_reply_ends_inside_of_is_dropped(tail, kept):
    reply = parse_json_reply('{"reasoning": "r", "suggestion": {"x0": 1, ' + tail)
    assert_same_typed(reply.suggestion, kept, "suggestion")
    assert reply.truncated and reply.error is not None  # the suggestion was never closed


def test_unparseable_suggestion_type_is_an_error():
    reply = parse_json_reply('{"reasoning": "r", "suggestion": 5}')
    assert reply.suggestion == {} and "not int" in reply.error
    reply = parse_json_reply('{"reasoning": "r", "suggestion": "make x0 bigger"}')
    assert reply.suggestion == {} and "not a string" in reply.error


def test_loose_pairs_never_glue_two_pairs_into_one_value():
    text = 'Set "x0": "a, b", then "x1": "c" and "x2": 3 (reasoning: "r")'
    reply = parse_json_reply(text)
    assert reply.suggestion == {"x0": "a, b", "x1": "c", "x2": 3}


def test_a_brace_inside_a_string_does_not_end_the_object():
    text = 'prose {"suggestion": {"__code0": "def f():\\n    return \'}\' + \\"{\\""}} tail }'
    assert parse_json_reply(text).suggestion == {"__code0": "def f():\n    return '}' + \"{\""}


def test_objects_inside_a_read_object_are_not_candidates():
    text = '{"reasoning": "r", "answer": {"k": 1}, "sugg'
    reply = parse_json_reply(text)
    assert reply.suggestion == {} and reply.truncated and reply.answer == {"k": 1}


def test_deep_nesting_is_refused_without_recursion_error():
    for text in ('{"a":' * 5000, "[" * 5000 + "]" * 5000, '{"suggestion": ' + "[" * 3000):
        check_invariants(parse_json_reply(text), text)
    deep = '{"suggestion": {"x0": ' + "[" * 100 + "1" + "]" * 100 + "}}"
    assert parse_json_reply(deep).suggestion["x0"] == json.loads(deep)["suggestion"]["x0"]


def test_non_finite_numbers_are_read():
    reply = parse_json_reply('{"suggestion": {"a": NaN, "b": Infinity, "c": -Infinity}}')
    assert math.isnan(reply.suggestion["a"]) and reply.suggestion["b"] == math.inf
    assert reply.suggestion["c"] == -math.inf


# --- XML rules ----------------------------------------------------------------------------


def test_value_tidying_keeps_relative_indentation_and_inner_whitespace():
    value = "\n\n      if x:\n          return 1\n\n      return 2   \n\n  "
    text = f"<variable><name>c</name><value>{value}</value></variable>"
    assert parse_xml_reply(text).suggestion["c"] == "if x:\n    return 1\n\nreturn 2"
    inline = "<variable><name>c</name><value>  a\n    b  </value></variable>"
    assert parse_xml_reply(inline).suggestion["c"] == "a\n    b"
    tabs = "<variable><name>c</name><value>\n\tx\r\n\t\ty\n</value></variable>"
    assert parse_xml_reply(tabs).suggestion["c"] == "x\r\n\ty"


def test_tags_tolerate_spaces_attributes_and_case():
    text = "< Variable id='1' >< name >x0</ NAME >< value type=\"int\" >5</value ></variable>"
    assert parse_xml_reply(text).suggestion == {"x0": "5"}


def test_unclosed_value_in_the_last_variable_reports_truncation():
    reply = parse_xml_reply("<variable><name>x0</name><value>1</value></variable><variable><name>y")
    assert reply.suggestion == {"x0": "1"} and reply.error is None  # y has no value at all
    reply = parse_xml_reply("<variable><name>x0</name><value>1")
    assert reply.suggestion == {} and reply.truncated and "x0" in reply.error


def test_bad_tag_names_are_an_error_not_an_exception():
    assert parse_xml_reply("<v>1</v>", variable_tag="").error
    assert parse_xml_reply("<v>1</v>", value_tag=None).error


# --- helpers ------------------------------------------------------------------------------


def test_extract_tag_blocks_is_nesting_aware():
    text = "noise <a>1<a>2</a>3</a> </a> <A x='y'>4</A> <a/> <![CDATA[<a>no</a>]]> <a>open"
    assert extract_tag_blocks(text, "a") == ["1<a>2</a>3", "4", ""]
    assert extract_tag_blocks("<ab>x</ab><a>y</a>", "a") == ["y"]
    assert extract_tag_blocks("<a>x</a>", "") == []
    assert extract_tag_blocks(None, "a") == [] and extract_tag_blocks("<a>x</a>", 5) == []


def test_extract_between_takes_the_last_complete_pair():
    start, end = "<IMPROVED_VARIABLE>", "</IMPROVED_VARIABLE>"
    text = f"{start}one{end} then {start}two{end} and a stray {end}"
    assert extract_between(text, start, end) == "two"
    assert extract_between(f"{start} open", start, end) is None
    assert extract_between(f"{start}{end}", start, end) == ""
    assert extract_between(None, start, end) is None and extract_between("x", "", end) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [(" x0 ", "x0"), ("`x0`", "x0"), ("'x0'", "x0"), ('"x0"', "x0"), ("**x0**", "x0"),
     ("<x0>", "x0"), ("` 'x0' `", "x0"), ("__code0", "__code0"), ("x:0", "x:0"), ("'", "'"),
     (3, "3")],
)  # fmt: skip
def test_normalise_name(name, expected):
    assert normalise_name(name) == expected


def test_parsed_reply_is_frozen_and_knows_if_it_is_ok():
    reply = parse_json_reply('{"suggestion": {"x0": 1}}')
    assert reply.ok
    with pytest.raises(FrozenInstanceError):
        reply.terminate = True
    assert not parse_json_reply("nothing").ok


@pytest.mark.parametrize("bad", [None, 42, b'{"suggestion": {"x0": 1}}', ["x"], {"suggestion": 1}])
def test_non_text_input_is_an_error(bad):
    for parse in (parse_json_reply, parse_xml_reply):
        reply = parse(bad)
        check_invariants(reply, bad)
        assert reply.error.startswith("the reply is not text") and reply.suggestion == {}
    assert not is_terminate(bad) and extract_tag_blocks(bad, "a") == []
    assert extract_between(bad, "<a>", "</a>") is None


def test_large_replies_parse_completely():
    """200 KB replies, well-formed and pathological, parse (in linear time; timing lives in
    benchmarks/). A quadratic scan would make this test take minutes."""
    code = "def f(x):\n" + "".join(f"    y{i} = {{'k': \"}}{i}\"}}\n" for i in range(7000))
    reply = json.dumps({"reasoning": "r", "suggestion": {"__code0": code, "x0": 1}})
    assert len(reply) > 200_000
    assert parse_json_reply(reply).suggestion == {"__code0": code, "x0": 1}
    assert parse_json_reply(reply.replace("\\n", "\n")).suggestion["__code0"] == code
    xml = "".join(f"<variable><name>x{i}</name><value>{i}</value></variable>" for i in range(5000))
    assert len(parse_xml_reply(xml).suggestion) == 5000
    for junk in ("{" * 200_000, "{'" * 100_000, '"a": ' * 40_000, "<reasoning><variable>" * 10_000,
                 "<variable><name>x</name>" + "<value>" * 30_000, "```\n" * 50_000,
                 '{"a": "' + "\\" * 200_000, "[{" * 100_000):  # fmt: skip
        for parse in (parse_json_reply, parse_xml_reply):
            check_invariants(parse(junk), junk)
        extract_tag_blocks(junk, "value")
        extract_between(junk, "<a>", "</a>")


# --- hypothesis: never raises -------------------------------------------------------------

FRAGMENTS = [
    "{", "}", "[", "]", "(", ")", ":", ",", '"', "'", "\\", "\n", " ", "```", "```json\n", "#",
    "//", "/*", "*/", '"suggestion"', '"reasoning"', '"answer"', "suggestion", '"x0"', "'x0'",
    "null", "true", "None", "1", "-", "1.5e", "NaN", "-Infinity", '"""', "'''", "\\u12", "\\n",
    "TERMINATE", "<variable>", "</variable>", "<name>", "</name>", "<value>", "</value>",
    "<reasoning>", "</reasoning>", "<value/>", "<variable name='x'>", "<![CDATA[", "]]>", "<",
    ">", "</", "__code0", "```python\ndef f():\n    return 1\n```", "<IMPROVED_VARIABLE>",
    "</IMPROVED_VARIABLE>", "\t", "é", "\ud800",
]  # fmt: skip
spliced = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=60).map(
    "".join
)


def check_never_raises(text):
    for reply in (
        parse_json_reply(text),
        parse_xml_reply(text),
        parse_xml_reply(text, reasoning_tag="reason", variable_tag="var", value_tag="data"),
        parse_json_reply(text, answer_key=None, suggestion_key="proposal"),
    ):
        check_invariants(reply, text)
    assert isinstance(is_terminate(text), bool)
    for tag in ("variable", "value", "a"):
        assert all(isinstance(b, str) for b in extract_tag_blocks(text, tag))
    found = extract_between(text, "<IMPROVED_VARIABLE>", "</IMPROVED_VARIABLE>")
    assert found is None or isinstance(found, str)


@settings(max_examples=300)
@given(st.text())
def test_parsers_never_raise_on_any_text(text):
    check_never_raises(text)


@settings(max_examples=500)
@given(spliced)
def test_parsers_never_raise_on_spliced_reply_fragments(text):
    check_never_raises(text)


# --- hypothesis: round trips --------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}(:[0-9]{1,2})?", fullmatch=True)
no_fence_text = st.text(alphabet=st.characters(blacklist_characters="`"), max_size=30)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    no_fence_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(no_fence_text, inner, max_size=4)
    ),
    max_leaves=10,
)
suggestions = st.dictionaries(names, json_values, min_size=1, max_size=5)


def wrap(body: str, style: int) -> str:
    return [
        body,
        f"Here is my answer:\n```json\n{body}\n```\nDone.",
        f"```\n{body}\n```",
        f"Reasoning first.\n\n{body}\n\nHope that helps!",
    ][style]


@given(
    suggestion=suggestions,
    reasoning=st.text(max_size=40),
    answer=json_values,
    indent=st.sampled_from([None, 2, 4]),
    ascii_only=st.booleans(),
    style=st.integers(0, 3),
)
def test_well_formed_json_reply_round_trips(
    suggestion, reasoning, answer, indent, ascii_only, style
):
    body = json.dumps(
        {"reasoning": reasoning, "answer": answer, "suggestion": suggestion},
        indent=indent,
        ensure_ascii=ascii_only,
    )
    reply = parse_json_reply(wrap(body, style))
    assert reply.error is None and not reply.terminate and reply.format == "json"
    assert_same_typed(reply.suggestion, suggestion, "suggestion")
    assert reply.reasoning == reasoning


@given(suggestion=suggestions, reasoning=st.text(max_size=40), cut=st.integers(min_value=0))
def test_a_cut_off_json_reply_keeps_only_true_values(suggestion, reasoning, cut):
    """Whatever the cut, every value read back is exactly the one written."""
    body = json.dumps({"reasoning": reasoning, "answer": "", "suggestion": suggestion})
    prefix = body[: cut % (len(body) + 1)]
    reply = parse_json_reply(prefix)
    for name, value in reply.suggestion.items():
        assert name in suggestion
        assert_same_typed(value, suggestion[name], name)
    if prefix != body and reply.suggestion:
        assert reply.truncated


xml_values = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="`"), max_size=60
).filter(lambda v: v == v.strip() and "</value" not in v.lower() and "<![cdata[" not in v.lower())


@given(
    variables=st.dictionaries(names, xml_values, min_size=1, max_size=5),
    reasoning=xml_values.filter(lambda r: "<" not in r),
    pretty=st.booleans(),
)
def test_well_formed_xml_reply_round_trips(variables, reasoning, pretty):
    assume(not all("__code" in n and not v for n, v in variables.items()))
    sep = "\n" if pretty else ""
    body = f"<reasoning>{sep}{reasoning}{sep}</reasoning>\n" + "".join(
        f"<variable>{sep}<name>{name}</name>{sep}<value>{sep}{value}{sep}</value>{sep}</variable>\n"
        for name, value in variables.items()
    )
    reply = parse_xml_reply(f"Sure.\n{body}That is all.")
    assert reply.error is None and reply.format == "xml"
    assert reply.suggestion == variables
    assert reply.reasoning == reasoning


@given(
    blocks=st.lists(
        st.text(alphabet=string.ascii_letters + " \n{}\"'<>/=", max_size=20), max_size=5
    ),
    noise=st.text(alphabet=string.ascii_letters + " \n{}:,", max_size=10),
)
def test_extract_tag_blocks_round_trips(blocks, noise):
    assume(all("<" not in b for b in blocks))
    text = noise.join(f"<block>{b}</block>" for b in blocks)
    assert extract_tag_blocks(noise + text + noise, "block") == blocks


@given(
    value=xml_values.filter(lambda v: "improved_variable" not in v.lower()),
    noise=st.text(max_size=20),
)
def test_extract_between_round_trips(value, noise):
    assume("improved_variable" not in noise.lower())
    text = f"{noise}\n<IMPROVED_VARIABLE>\n{value}\n</IMPROVED_VARIABLE>\n{noise}"
    assert extract_between(text, "<IMPROVED_VARIABLE>", "</IMPROVED_VARIABLE>") == value
