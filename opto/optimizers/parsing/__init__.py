"""Tolerant parsing of LLM replies, for every optimizer and for opto.discovery.

Models wrap JSON in prose and fences, write Python dicts, forget commas, run out of tokens
and echo the prompt's example; small local models do all of it at once. The parsers recover
what the reply certainly says, drop what is uncertain, and say why in ``error``; none of them
raises on a reply, whatever it is given. docs/parsing.md has the exact rules.

The files, bottom up:

- ``code_blocks.py``: markdown ``` fences (where, which language, unwrapping one);
- ``json_candidates.py``: where JSON objects may be in a reply;
- ``json_reader.py``: decoding one candidate, strictly then forgivingly;
- ``tag_blocks.py``: XML-like tags, ``extract_tag_blocks`` and ``extract_between``;
- ``text_cleanup.py``: CDATA, blank edges and shared indentation of a value;
- ``tagged_scanner.py``: the reasoning and variable elements of a tagged reply;
- ``reply.py``: ``ParsedReply``, the TERMINATE rule, name normalisation;
- ``json_reply.py`` / ``tagged_reply.py``: one reply format each, read into a draft;
- ``replies.py``: ``parse_json_reply`` and ``parse_xml_reply`` with their explicit fallback
  order (``JSON_FALLBACKS``, ``XML_FALLBACKS``).
"""

from opto.optimizers.parsing.code_blocks import Fence, code_fences
from opto.optimizers.parsing.replies import (
    JSON_FALLBACKS,
    XML_FALLBACKS,
    FallbackError,
    parse_json_reply,
    parse_xml_reply,
)
from opto.optimizers.parsing.reply import SENTINEL, ParsedReply, is_terminate, normalise_name
from opto.optimizers.parsing.tag_blocks import extract_between, extract_tag_blocks

__all__ = [
    "JSON_FALLBACKS",
    "SENTINEL",
    "XML_FALLBACKS",
    "FallbackError",
    "Fence",
    "ParsedReply",
    "code_fences",
    "extract_between",
    "extract_tag_blocks",
    "is_terminate",
    "normalise_name",
    "parse_json_reply",
    "parse_xml_reply",
]
