"""The fallback order between reply formats is explicit: chosen by the caller, documented."""

import pytest

from opto.optimizers.parsing import (
    JSON_FALLBACKS,
    XML_FALLBACKS,
    FallbackError,
    parse_json_reply,
    parse_xml_reply,
)

TAGGED = "<variable><name>x0</name><value>2</value></variable>"
JSON = '{"reasoning": "r", "suggestion": {"x0": 2}}'
LOOSE = 'My answer: "x0": 7 and then some words'


def test_the_defaults_are_the_documented_orders():
    assert JSON_FALLBACKS == ("loose_pairs", "xml")
    assert XML_FALLBACKS == ("json",)


def test_json_reads_tags_only_when_asked():
    assert parse_json_reply(TAGGED).suggestion == {"x0": "2"}
    assert parse_json_reply(TAGGED).format == "xml"
    strict = parse_json_reply(TAGGED, fallbacks=())
    assert strict.suggestion == {}
    assert strict.error == "no JSON object found in the reply"


def test_xml_reads_json_only_when_asked():
    assert parse_xml_reply(JSON).suggestion == {"x0": 2}
    strict = parse_xml_reply(JSON, fallbacks=())
    assert (strict.suggestion, strict.format) == ({}, "none")


def test_the_order_given_is_the_order_tried():
    both = LOOSE + "\n" + "<variable><name>y</name><value>3</value></variable>"
    assert parse_json_reply(both, fallbacks=("loose_pairs", "xml")).suggestion == {"x0": 7}
    assert parse_json_reply(both, fallbacks=("xml", "loose_pairs")).suggestion == {"y": "3"}
    assert parse_json_reply(LOOSE, fallbacks=("xml",)).suggestion == {}


def test_xml_can_fall_back_to_loose_pairs():
    assert parse_xml_reply(LOOSE).suggestion == {}
    assert parse_xml_reply(LOOSE, fallbacks=("loose_pairs",)).suggestion == {"x0": 7}


def test_a_usable_primary_answer_is_never_replaced_by_a_fallback():
    reply = JSON + "\n" + "<variable><name>x0</name><value>9</value></variable>"
    assert parse_json_reply(reply).suggestion == {"x0": 2}
    assert parse_xml_reply(reply).suggestion == {"x0": "9"}


@pytest.mark.parametrize("fallbacks", [("json",), ("yaml",), ("xml", "nope")])
def test_json_refuses_unknown_or_own_readers(fallbacks):
    with pytest.raises(FallbackError, match="unknown fallback"):
        parse_json_reply(JSON, fallbacks=fallbacks)


def test_xml_refuses_its_own_format_as_fallback():
    with pytest.raises(FallbackError):
        parse_xml_reply(TAGGED, fallbacks=("xml",))
