"""What opto makes of every optimizer reply in a recording, without and with key resolution.

    python benchmarks/quality/reply_outcomes.py benchmarks/quality/recordings/qwen2.5-coder-1.5b-sample

Each recorded optimizer exchange (opto's and trace-opt's, which use the same names) is read
back offline: the prompt's #Variables, #Inputs, #Others and #Outputs lines give the names and
the current values, and the reply goes through opto's parser, then through the update rules
twice: as OptoPrime applied them before small-model robustness (``plan_updates`` on the
suggestion as parsed) and as it applies them now (keys read as prompt names first, code
written beside the suggestion included). Per implementation whose replies they are, it
prints how many replies parsed, how many updates were applied, refused, and named something
that is not a variable (split into inputs, computed values and names not in the problem).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
from collections import Counter
from pathlib import Path

from opto.optimizers.key_resolution import PromptNames, code_outside_suggestion, resolve_suggestion
from opto.optimizers.parsing import parse_json_reply
from opto.optimizers.updates import plan_updates
from opto.trace import node
from opto.trace.graph import GRAPH

_LINE = re.compile(r"^\((?P<type>[\w.]+)\) (?P<name>[A-Za-z_]\w*)(?P<sep>[:=])", re.M)
_TYPES = {"int": int, "float": float, "bool": lambda t: t == "True", "str": str}


def sections(prompt: str) -> dict[str, str]:
    """``{section name: its text}`` of a problem prompt (``#Variables`` -> ``Variables``)."""
    parts = re.split(r"^#(\w+)\n", prompt, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def entries(text: str) -> list[tuple[str, str, str]]:
    """``(type, name, value text)`` of each ``(type) name=value`` line of a section."""
    found = list(_LINE.finditer(text))
    out = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        out.append((match["type"], match["name"], text[match.end() : end].strip("\n")))
    return out


def value_of(kind: str, text: str):
    if kind in _TYPES:
        try:
            return _TYPES[kind](text)
        except ValueError:
            return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def problem_of(prompt: str) -> tuple[PromptNames, dict]:
    """The names the prompt showed, and a trainable node per variable (by its name)."""
    parts = sections(prompt)
    variables = entries(parts.get("Variables", ""))
    shown = {}
    for kind, name, text in variables:
        base = "__code" if kind == "code" else name.rstrip("0123456789") or name
        value = text if kind == "code" else value_of(kind, text)
        shown[name] = node(value, trainable=True, name=base)
    computed = [e[1] for key in ("Others", "Outputs") for e in entries(parts.get(key, ""))]
    names = PromptNames(
        variables=tuple(shown),
        inputs=frozenset(e[1] for e in entries(parts.get("Inputs", ""))),
        computed=frozenset(computed),
        code_variables=tuple(n for kind, n, _ in variables if kind == "code"),
    )
    return names, shown


def outcome(reply: str, names: PromptNames, shown: dict, resolve: bool) -> Counter:
    """Counts for one reply: parsed, applied, refused, and the kinds of names not applied."""
    parsed = parse_json_reply(reply)
    counts = Counter(replies=1, parsed=int(bool(parsed.suggestion) or parsed.terminate))
    suggestion = dict(parsed.suggestion)
    refused: dict[str, str] = {}
    if resolve:
        resolved = resolve_suggestion({**code_outside_suggestion(reply), **suggestion}, names)
        suggestion, refused = resolved.suggestion, dict(resolved.refused)
    plan = plan_updates(suggestion, list(shown.values()), shown)
    counts["applied"] += len(plan.accepted)
    counts["refused"] += len(plan.refused) + len(refused)
    for name in plan.unknown:
        counts[f"not applied: {names.section_of(name) or 'not in the problem'}"] += 1
    return counts


def exchanges(recording: Path):
    """``(implementation, prompt, reply)`` of every optimizer call in the recording."""
    for path in sorted((recording / "replies").glob("*.json.gz")):
        impl = path.name.removesuffix(".json.gz").rsplit(".", 1)[-1]
        for entry in json.loads(gzip.decompress(path.read_bytes()))["entries"]:
            messages = entry["request"]["messages"]
            if "suggestion" not in messages[0]["content"]:
                continue  # an agent call, not an optimizer call
            for response in entry["responses"]:
                yield impl, messages[-1]["content"], response["choices"][0]["message"]["content"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", type=Path)
    options = parser.parse_args(argv)
    totals: dict[tuple[str, str], Counter] = {}
    for impl, prompt, reply in exchanges(options.recording):
        for rule, resolve in (("before", False), ("after", True)):
            GRAPH.clear()
            names, shown = problem_of(prompt)
            totals.setdefault((impl, rule), Counter()).update(outcome(reply, names, shown, resolve))
    columns = sorted({key for counts in totals.values() for key in counts})
    order = ["replies", "parsed", "applied", "refused"]
    columns = order + [c for c in columns if c not in order]
    print("| replies of | rules | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for (impl, rule), counts in totals.items():
        print(f"| {impl} | {rule} | " + " | ".join(str(counts[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
