"""Text helpers Trace keeps in ``opto.trace.utils``: templates, ``key=value`` replies, and a
repair for the JSON LLMs write with unescaped quotes inside strings.

opto's own reply parsing (opto.optimizers.parsing) is more thorough; these functions are
here for programs that call them directly.
"""

from __future__ import annotations

_JSON_ESCAPES = frozenset('"\\/bfnrtu')
_STRUCTURE_AFTER_CLOSING_QUOTE = frozenset(",}]:")
_KEPT_CONTROL_CHARACTERS = frozenset("\n\t\b\r\f")


def dedent(text: str) -> str:
    """``text`` with leading and trailing whitespace removed from every line.

    Unlike ``textwrap.dedent``, relative indentation is not kept: it is meant for prompt
    templates written indented inside code.
    """
    return "\n".join(line.strip() for line in text.split("\n"))


def parse_eqs_to_dict(text: str) -> dict[str, str]:
    """Parse ``key=value`` lines into a dict.

    Each line with ``=`` starts an entry: the key is the text before the first ``=``
    (stripped), the value the text after it as written. A line without ``=`` continues the
    previous value (after a newline); lines before the first key and empty lines are
    ignored. Backticks are removed from values.
    """
    result: dict[str, str] = {}
    key: str | None = None
    for line in text.split("\n"):
        if not line:
            continue
        if "=" in line:
            name, _, value = line.partition("=")
            key = name.strip()
            result[key] = value.replace("`", "")
        elif key is not None:
            result[key] += "\n" + line.replace("`", "")
    return result


def escape_json_nested_quotes(json_str: str) -> str:
    """Repair ``json_str``, JSON whose string values contain unescaped double quotes.

    Inside a string, a quote closes it only when the next non-blank character is ``,``,
    ``}``, ``]``, ``:`` or the end of the text; any other quote is escaped. A backslash that
    does not start a valid JSON escape (such as LaTeX's ``\\(``) is dropped; valid escapes
    are kept as written. Text outside strings is not changed.
    """
    out: list[str] = []
    in_string = False
    index = 0
    length = len(json_str)
    while index < length:
        char = json_str[index]
        if not in_string:
            out.append(char)
            in_string = char == '"'
        elif char == "\\":
            following = json_str[index + 1] if index + 1 < length else ""
            if following in _JSON_ESCAPES:
                out.append(char + following)
                index += 1
        elif char == '"':
            rest = json_str[index + 1 :].lstrip()
            if not rest or rest[0] in _STRUCTURE_AFTER_CLOSING_QUOTE:
                out.append(char)
                in_string = False
            else:
                out.append('\\"')
        else:
            out.append(char)
        index += 1
    return "".join(out)


def remove_non_ascii(json_txt: str) -> str:
    """``escape_json_nested_quotes(json_txt)`` without unprintable characters.

    Newline, tab, backspace, carriage return and form feed are kept, and so are printable
    non-ASCII characters (``é``), despite the name (Trace's).
    """
    repaired = escape_json_nested_quotes(json_txt)
    return "".join(c for c in repaired if c.isprintable() or c in _KEPT_CONTROL_CHARACTERS)


_ESCAPER_CASES = (
    ('{"a": "b"}', '{"a": "b"}'),
    ('{"a": "he said "hi""}', '{"a": "he said \\"hi\\""}'),
    ('{"a": "x", "b": "y "z" w"}', '{"a": "x", "b": "y \\"z\\" w"}'),
    ('{"a": "one\\ntwo"}', '{"a": "one\\ntwo"}'),
    ('{"a": "math \\(x\\)"}', '{"a": "math (x)"}'),
    ('{"a": "\\u00e9 \\/"}', '{"a": "\\u00e9 \\/"}'),
    ('{"a": "kept \\" escape"}', '{"a": "kept \\" escape"}'),
    ('{"s": {"x": "say "y""}}', '{"s": {"x": "say \\"y\\""}}'),
    ('["a", "b "c""]', '["a", "b \\"c\\""]'),
    ('{"n": 1, "b": true}', '{"n": 1, "b": true}'),
)


def test_json_quote_escaper() -> None:
    """Check ``escape_json_nested_quotes`` on known cases; prints ``All tests passed!``.

    Raises AssertionError naming the first case that fails.
    """
    for given, expected in _ESCAPER_CASES:
        got = escape_json_nested_quotes(given)
        if got != expected:
            raise AssertionError(
                f"escape_json_nested_quotes({given!r}) = {got!r}, not {expected!r}"
            )
    print("All tests passed!")
