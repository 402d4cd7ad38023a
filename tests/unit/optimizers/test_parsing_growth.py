"""Every reply parser is linear: inputs up to 1 MB, each 4x larger, take about 4x longer.

The inputs are the shapes that make naive parsers quadratic: many blocks each rescanned,
openers that never close, quotes that never end, wrappers peeled one copy at a time.
"""

import contextlib

import pytest
from growth import is_linear, repeat_to

from opto.discovery.errors import ProposalParseError
from opto.discovery.proposal import MAX_REPLY_CHARS, parse_proposal
from opto.optimizers.parsing import (
    extract_between,
    extract_tag_blocks,
    is_terminate,
    normalise_name,
    parse_json_reply,
    parse_xml_reply,
)

JSON_SHAPES = {
    "reasoning blocks": lambda n: repeat_to("<reasoning>a</reasoning>", n),
    "unclosed braces": lambda n: repeat_to("{", n),
    "closing braces": lambda n: repeat_to("}", n),
    "unclosed keys": lambda n: repeat_to('{"a":', n),
    "loose pairs with open quotes": lambda n: repeat_to('"a": \'', n),
    "double quotes": lambda n: repeat_to('"', n),
    "single quotes": lambda n: repeat_to("'", n),
    "open lists": lambda n: repeat_to("[", n, prefix='{"suggestion": '),
    "escaped quotes": lambda n: repeat_to('\\"', n, prefix='{"suggestion": {"x": "'),
    "unescaped quotes": lambda n: repeat_to('x" ', n, prefix='{"suggestion": {"x": "'),
    "missing commas": lambda n: repeat_to('"a": "b" ', n, prefix="{"),
    "fences": lambda n: repeat_to("```\n", n),
    "fenced openers": lambda n: repeat_to("```json\n{", n),
    "comments": lambda n: repeat_to("/*", n, prefix="{"),
    "line comments": lambda n: repeat_to("// x\n", n, prefix='{"a": 1'),
    "many objects": lambda n: repeat_to('{"suggestion": {"x": 1}} ', n),
    "nested objects": lambda n: repeat_to("{", n // 2) + repeat_to("}", n // 2),
    "nested lists": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "long digits": lambda n: repeat_to("1", n, prefix='{"suggestion": {"x": '),
    "suggestion string of braces": lambda n: repeat_to("{", n, prefix='{"suggestion": "'),
    "backtick key": lambda n: repeat_to("`", n, prefix='{"suggestion": {"', suffix='": 1}}'),
    "starred key": lambda n: repeat_to("** ", n, prefix='{"suggestion": {"', suffix='": 1}}'),
    "xml variables": lambda n: repeat_to("<variable><name>a</name><value>", n),
    "terminate lines": lambda n: repeat_to("TERMINATE\n", n),
    "fence lines": lambda n: repeat_to("```\n\n", n, suffix="TERMINATE"),
    "blank lines": lambda n: repeat_to(" \n", n),
    "python tuples": lambda n: repeat_to("(", n, prefix='{"suggestion": {"x": '),
    "triple quotes": lambda n: repeat_to('"""', n, prefix='{"suggestion": {"x": '),
}

XML_SHAPES = {
    "reasoning blocks": lambda n: repeat_to("<reasoning>a</reasoning>", n),
    "unclosed reasoning": lambda n: repeat_to("<reasoning>", n),
    "reasoning close tags": lambda n: repeat_to("</reasoning>", n),
    "reasoning then variable": lambda n: repeat_to("<reasoning><variable>", n),
    "unclosed variables": lambda n: repeat_to("<variable>", n),
    "unclosed names": lambda n: repeat_to("<variable><name>", n),
    "unclosed values": lambda n: repeat_to("<value>", n, prefix="<variable><name>a</name>"),
    "value close tags": lambda n: repeat_to("</value>x", n, prefix="<variable><value>"),
    "complete variables": lambda n: repeat_to(
        "<variable><name>a</name><value>b</value></variable>", n
    ),
    "values with text after the close": lambda n: repeat_to(
        "<variable><name>a</name><value>x</value>y</value>z", n
    ),
    "variables inside reasoning": lambda n: repeat_to(
        "<reasoning><variable><name>a</name><value>b</value></variable></reasoning>", n
    ),
    "cdata openers": lambda n: repeat_to("<![CDATA[", n),
    "cdata in values": lambda n: repeat_to("<![CDATA[x]]>", n, prefix="<variable><value>"),
    "angle brackets": lambda n: repeat_to("<", n),
    "tag prefixes": lambda n: repeat_to("<r", n),
    "name attributes": lambda n: repeat_to('<variable name="', n),
    "json fallback": lambda n: repeat_to('{"suggestion": {"x": 1}} ', n),
    "backtick name": lambda n: repeat_to(
        "`", n, prefix="<variable><name>", suffix="</name><value>1</value></variable>"
    ),
    "indented value": lambda n: repeat_to(
        "\n    x", n, prefix="<variable><name>a</name><value>", suffix="</value></variable>"
    ),
}


def check(function, make_input, sizes=None):
    linear, attempts = is_linear(function, make_input, *([sizes] if sizes else []))
    assert linear, f"time grew more than linearly (ratios for 4x the input): {attempts}"


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(JSON_SHAPES))
def test_parse_json_reply_is_linear(shape):
    check(parse_json_reply, JSON_SHAPES[shape])


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(XML_SHAPES))
def test_parse_xml_reply_is_linear(shape):
    check(parse_xml_reply, XML_SHAPES[shape])


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("`", "`"),
        ("*", "*"),
        ("**", "**"),
        ("'", "'"),
        ('"', '"'),
        (" ", " "),
        ("<", ">"),
        ("`*", "*`"),
        ("<`", "`>"),
        ("` ", " `"),
    ],
)
def test_normalise_name_is_linear(left, right):
    def wrapped(n):
        count = n // (len(left) + len(right))
        return left * count + "name" + right * count

    check(normalise_name, wrapped)
    assert normalise_name(wrapped(1000)) == "name"
    assert normalise_name("` ** 'x' ** `") == "x"


@pytest.mark.parametrize(
    "shape",
    [
        ("<a>", lambda n: repeat_to("<a>", n)),
        ("</a>", lambda n: repeat_to("</a>", n)),
        ("<a></a>", lambda n: repeat_to("<a>x</a>", n)),
        ("<a><a>", lambda n: repeat_to("<a>", n // 2) + repeat_to("</a>", n // 2)),
        ("cdata", lambda n: repeat_to("<a><![CDATA[", n)),
    ],
    ids=lambda shape: shape[0],
)
def test_tag_helpers_are_linear(shape):
    _, make = shape
    check(lambda text: extract_tag_blocks(text, "a"), make)
    check(lambda text: extract_between(text, "<a>", "</a>"), make)


def test_trace_tag_helpers_are_linear():
    from opto.optimizers.utils import (
        extract_reasoning_and_remainder,
        extract_xml_like_data,
        strip_nested_blocks,
    )

    check(lambda text: strip_nested_blocks(text, "a"), lambda n: repeat_to("<a>x</a>", n))
    check(lambda text: strip_nested_blocks(text, "a"), lambda n: repeat_to("<a>", n))
    check(extract_reasoning_and_remainder, lambda n: repeat_to("<reasoning>", n))
    check(extract_xml_like_data, lambda n: repeat_to("<reasoning>a</reasoning>", n))


def test_is_terminate_is_linear():
    check(is_terminate, lambda n: repeat_to("TERMINATE", n))
    check(is_terminate, lambda n: repeat_to(" ", n, suffix="TERMINATE"))


DISCOVERY_SHAPES = {
    "braces": lambda n: repeat_to("{", n),
    "balanced objects": lambda n: repeat_to('{"a": 1}', n),
    "fences": lambda n: repeat_to("```\n", n),
    "open fences": lambda n: repeat_to("```python\n", n),
    "quotes in objects": lambda n: repeat_to('"', n, prefix="{"),
    "def lines": lambda n: repeat_to("def f(\n", n, prefix="```python\n"),
}


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(DISCOVERY_SHAPES))
def test_the_discovery_proposal_parser_is_linear_up_to_its_limit(shape):
    def parse(text):
        with contextlib.suppress(ProposalParseError):
            parse_proposal(text)

    make = DISCOVERY_SHAPES[shape]
    check(parse, make, sizes=(12_500, 50_000, MAX_REPLY_CHARS))
    with pytest.raises(ProposalParseError, match="characters long"):
        parse_proposal(make(1_048_576))
