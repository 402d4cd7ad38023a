"""Exact generators for five BIG-Bench-Hard-style tasks, each question with its ground truth.

The questions follow the published formats of the BBH subtasks of the same names; the answers
are computed while the question is built (no evaluation of generated text), so they are exact.
Every generator is a pure function of a ``random.Random``: the same seed gives the same items
under any Python 3 interpreter, which is what lets opto and trace-opt see identical data.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# A fixed vocabulary for word sorting: common English words of 3 to 10 letters.
WORDS = [
    "apple",
    "anchor",
    "basket",
    "beacon",
    "cactus",
    "candle",
    "dragon",
    "eleven",
    "falcon",
    "garden",
    "harbor",
    "island",
    "jacket",
    "kettle",
    "ladder",
    "magnet",
    "napkin",
    "orange",
    "pebble",
    "quartz",
    "rabbit",
    "saddle",
    "tablet",
    "umbrella",
    "velvet",
    "walnut",
    "yellow",
    "zipper",
    "bridge",
    "castle",
    "dinner",
    "engine",
    "forest",
    "guitar",
    "hammer",
    "insect",
    "jungle",
    "kitten",
    "lemon",
    "marble",
    "needle",
    "oyster",
    "parrot",
    "quiver",
    "river",
    "silver",
    "ticket",
    "violin",
    "window",
    "yogurt",
    "zebra",
    "blanket",
    "coffee",
    "desert",
    "feather",
    "ginger",
    "helmet",
    "igloo",
    "jigsaw",
    "kernel",
    "lantern",
    "meadow",
    "nickel",
    "orchid",
    "planet",
    "quilt",
    "ribbon",
    "saddle",
    "shadow",
    "timber",
    "unicorn",
    "vessel",
    "wizard",
    "sailor",
    "banner",
    "copper",
    "dolphin",
    "emerald",
    "fabric",
    "gravel",
    "hollow",
    "iceberg",
    "jewel",
    "lobster",
    "mirror",
    "nectar",
    "onion",
    "pepper",
    "puzzle",
    "rocket",
    "spider",
    "thunder",
    "trumpet",
    "valley",
    "whistle",
    "canyon",
    "pillow",
    "cotton",
]

# Object counting: items by category. Plural forms are regular (+s) for every item below.
CATEGORIES = {
    "musical instruments": ["violin", "piano", "flute", "trumpet", "drum", "clarinet"],
    "fruits": ["apple", "banana", "plum", "peach", "grape", "orange"],
    "animals": ["rabbit", "goat", "snake", "duck", "cow", "frog"],
    "vegetables": ["carrot", "onion", "potato", "cabbage", "yam", "turnip"],
}
NUMBER_WORDS = ["a", "two", "three", "four", "five"]

NUMBER_NAMES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]

DYCK_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def boolean_expression(rng: random.Random) -> tuple[str, str]:
    """``not ( True ) and ( False ) is`` -> ``False``: a random expression of depth <= 2."""

    def operand(depth: int) -> tuple[str, bool]:
        if depth == 0 or rng.random() < 0.4:
            value = rng.choice([True, False])
            text = str(value)
        else:
            text, value = binary(depth - 1)
            text = f"( {text} )"
        if rng.random() < 0.3:
            text, value = f"not {text}", not value
        return text, value

    def binary(depth: int) -> tuple[str, bool]:
        left, left_value = operand(depth)
        right, right_value = operand(depth)
        if rng.random() < 0.5:
            return f"{left} and {right}", left_value and right_value
        return f"{left} or {right}", left_value or right_value

    text, value = binary(2)
    return f"{text} is", str(value)


def multistep_arithmetic(rng: random.Random) -> tuple[str, str]:
    """``((-1 + 2) * (3 - -4)) =`` -> ``7``: two inner operations combined by a third."""
    operations = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}

    def inner() -> tuple[str, int]:
        a, b = rng.randint(-9, 9), rng.randint(-9, 9)
        sign = rng.choice(sorted(operations))
        return f"({a} {sign} {b})", operations[sign](a, b)

    (left, left_value), (right, right_value) = inner(), inner()
    sign = rng.choice(sorted(operations))
    return f"({left} {sign} {right}) =", str(operations[sign](left_value, right_value))


def word_sorting(rng: random.Random) -> tuple[str, str]:
    """Sort 5 to 9 distinct words alphabetically; the answer is the words joined by spaces."""
    words = rng.sample(sorted(set(WORDS)), rng.randint(5, 9))
    question = "Sort the following words alphabetically: List: " + " ".join(words)
    return question, " ".join(sorted(words))


def object_counting(rng: random.Random) -> tuple[str, str]:
    """A list of owned items across categories and a question about one category."""
    asked = rng.choice(sorted(CATEGORIES))
    picks: list[tuple[str, int]] = []
    for category in sorted(CATEGORIES):
        wanted = rng.randint(1, 3) if category == asked else rng.randint(0, 2)
        for item in rng.sample(CATEGORIES[category], wanted):
            picks.append((item, rng.randint(1, len(NUMBER_WORDS))))
    rng.shuffle(picks)
    phrases = [
        f"{NUMBER_WORDS[count - 1]} {item}{'s' if count > 1 else ''}" for item, count in picks
    ]
    listing = ", ".join(phrases[:-1]) + f", and {phrases[-1]}" if len(phrases) > 1 else phrases[0]
    total = sum(count for item, count in picks if item in CATEGORIES[asked])
    return f"I have {listing}. How many {asked} do I have?", str(total)


def dyck_language(rng: random.Random) -> tuple[str, str]:
    """An unfinished bracket sequence; the answer is the closing brackets, space-separated."""
    opened: list[str] = []
    tokens: list[str] = []
    for _ in range(rng.randint(4, 10)):
        if opened and rng.random() < 0.4:
            tokens.append(DYCK_PAIRS[opened.pop()])
        else:
            bracket = rng.choice(sorted(DYCK_PAIRS))
            opened.append(bracket)
            tokens.append(bracket)
    if not opened:
        bracket = rng.choice(sorted(DYCK_PAIRS))
        opened.append(bracket)
        tokens.append(bracket)
    question = (
        "Complete the rest of the sequence, making sure that the parentheses are closed "
        "properly. Input: " + " ".join(tokens)
    )
    return question, " ".join(DYCK_PAIRS[b] for b in reversed(opened))


GENERATORS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "boolean_expressions": boolean_expression,
    "multistep_arithmetic_two": multistep_arithmetic,
    "word_sorting": word_sorting,
    "object_counting": object_counting,
    "dyck_languages": dyck_language,
}


def generate(subtask: str, seed: int, count: int) -> list[dict[str, str]]:
    """``count`` distinct questions of ``subtask`` with their answers, from ``seed``."""
    if subtask not in GENERATORS:
        raise ValueError(f"unknown BBH subtask {subtask!r}; known: {', '.join(GENERATORS)}")
    rng = random.Random(f"bbh/{subtask}/{seed}")
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(items) < count:
        question, answer = GENERATORS[subtask](rng)
        if question not in seen:
            seen.add(question)
            items.append({"question": question, "answer": answer})
    return items


def normalize_answer(subtask: str, text: str) -> str:
    """The comparable form of an answer: case and spacing ignored, numbers as integers."""
    cleaned = " ".join(text.strip().strip(".").split())
    if subtask == "boolean_expressions":
        return cleaned.capitalize()
    if subtask in ("multistep_arithmetic_two", "object_counting"):
        cleaned = (
            str(NUMBER_NAMES.index(cleaned.lower())) if cleaned.lower() in NUMBER_NAMES else cleaned
        )
        cleaned = cleaned.replace(",", "")
        try:
            return str(int(float(cleaned)))
        except ValueError:
            return cleaned
    if subtask == "word_sorting":
        return " ".join(word.strip(",") for word in cleaned.lower().split())
    if subtask == "dyck_languages":
        return " ".join(cleaned.replace(" ", ""))
    return cleaned
