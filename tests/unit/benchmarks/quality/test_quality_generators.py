"""The task generators are exact (each answer re-derived independently here) and seeded."""

import re

import pytest
from qbench.generators import battleship, bbh, instructions, numeric
from qbench.programs.prompting import final_answer


def _boolean(text: str) -> bool:
    """An independent evaluator: Python's own, on the generated True/False/not/and/or text."""
    assert re.fullmatch(r"[TrueFalsnotd() ]+", text), text
    return eval(text, {"__builtins__": {}})  # our generated text, checked above


@pytest.mark.parametrize("subtask", sorted(bbh.GENERATORS))
def test_bbh_items_are_distinct_and_reproducible(subtask):
    first = bbh.generate(subtask, seed=3, count=30)
    assert first == bbh.generate(subtask, seed=3, count=30)
    assert first != bbh.generate(subtask, seed=4, count=30)
    assert len({item["question"] for item in first}) == 30


def test_boolean_expression_answers_are_right():
    for item in bbh.generate("boolean_expressions", seed=0, count=200):
        expression = item["question"].removesuffix(" is")
        assert str(_boolean(expression)) == item["answer"]


def test_multistep_arithmetic_answers_are_right():
    for item in bbh.generate("multistep_arithmetic_two", seed=0, count=200):
        expression = item["question"].removesuffix(" =")
        assert re.fullmatch(r"[-+*() 0-9]+", expression)
        assert str(eval(expression, {"__builtins__": {}})) == item["answer"]


def test_word_sorting_answers_are_right():
    for item in bbh.generate("word_sorting", seed=0, count=100):
        words = item["question"].split("List: ")[1].split()
        assert item["answer"].split() == sorted(words)


def test_object_counting_answers_are_right():
    numbers = {word: i + 1 for i, word in enumerate(bbh.NUMBER_WORDS)}
    for item in bbh.generate("object_counting", seed=0, count=200):
        listing, question = item["question"].removeprefix("I have ").split(". How many ")
        category = question.removesuffix(" do I have?")
        total = 0
        for phrase in re.split(r", and |, ", listing):
            count, name = phrase.split(" ", 1)
            if name.rstrip("s") in bbh.CATEGORIES[category] or name in bbh.CATEGORIES[category]:
                total += numbers[count]
        assert str(total) == item["answer"], item


def test_dyck_answers_close_the_sequence_and_only_it():
    closing = {v: k for k, v in bbh.DYCK_PAIRS.items()}
    for item in bbh.generate("dyck_languages", seed=0, count=200):
        tokens = item["question"].split("Input: ")[1].split() + item["answer"].split()
        stack = []
        for token in tokens:
            if token in bbh.DYCK_PAIRS:
                stack.append(token)
            else:
                assert stack and stack.pop() == closing[token]
        assert stack == []
        assert item["answer"]


@pytest.mark.parametrize(
    ("subtask", "given", "expected"),
    [
        ("boolean_expressions", "true.", "True"),
        ("multistep_arithmetic_two", " -12 ", "-12"),
        ("multistep_arithmetic_two", "1,024", "1024"),
        ("object_counting", "Seven", "7"),
        ("word_sorting", "apple, Banana cherry", "apple banana cherry"),
        ("dyck_languages", "])}", "] ) }"),
    ],
)
def test_answers_are_normalized_before_comparison(subtask, given, expected):
    assert bbh.normalize_answer(subtask, given) == expected


def test_the_final_answer_is_taken_from_the_last_answer_line():
    assert final_answer("x\nAnswer: 3\nso the answer is: **7**\n") == "7"
    assert final_answer("just\n  this  \n") == "this"
    assert final_answer("") == ""


RULE_EXAMPLES = [
    ({"kind": "max_words", "n": 3}, "one two three", "one two three four"),
    ({"kind": "min_words", "n": 3}, "one two three", "one two"),
    ({"kind": "no_commas"}, "a b", "a, b"),
    ({"kind": "lowercase"}, "all small", "Not small"),
    ({"kind": "uppercase"}, "ALL BIG", "not BIG"),
    ({"kind": "keyword_count", "word": "stone", "n": 2}, "Stone and stone", "stones and stone"),
    ({"kind": "forbidden_words", "words": ["very"]}, "everyone", "very well"),
    ({"kind": "end_phrase", "phrase": "That is all."}, "Done. That is all.", "That is all. ok"),
    ({"kind": "start_word", "word": "Today"}, "today we go", "We go today"),
    ({"kind": "bullets", "n": 2}, "* a\n* b", "* a\n* b\n* c"),
    ({"kind": "quoted"}, '"hello"', "hello"),
    ({"kind": "title"}, "<<A title>>\ntext", "<A title>"),
    ({"kind": "paragraphs", "n": 2}, "one\n***\ntwo", "one\n\ntwo"),
]


@pytest.mark.parametrize(("rule", "good", "bad"), RULE_EXAMPLES)
def test_each_rule_checker_accepts_and_refuses(rule, good, bad):
    assert instructions.check_rule(rule, good).followed
    verdict = instructions.check_rule(rule, bad)
    assert not verdict.followed and verdict.detail


def test_every_rule_kind_has_a_checker_and_is_drawn():
    assert {example[0]["kind"] for example in RULE_EXAMPLES} == set(instructions.RULE_KINDS)
    drawn = {
        rule["kind"]
        for seed in range(10)
        for p in instructions.generate(seed, 20)
        for rule in p["rules"]
    }
    assert drawn == set(instructions.RULE_KINDS)


def test_instruction_prompts_never_combine_conflicting_rules():
    for seed in range(20):
        prompts = instructions.generate(seed, 20)
        assert prompts == instructions.generate(seed, 20)
        for prompt in prompts:
            kinds = frozenset(rule["kind"] for rule in prompt["rules"])
            assert 1 <= len(kinds) <= 2 and kinds not in instructions.CONFLICTS


def test_numeric_programs_reach_their_target_at_the_hidden_solution():
    for seed in range(50):
        task = numeric.generate(seed)
        assert task == numeric.generate(seed)
        assert numeric.evaluate(task["steps"], task["hidden_solution"]) == task["target"]
        start_gap = abs(numeric.evaluate(task["steps"], task["start"]) - task["target"])
        assert start_gap > 0
        assert numeric.tolerance(task["target"]) >= 0.01


def test_battleship_boards_hold_the_ships_without_overlap():
    for seed in range(50):
        cells = battleship.generate_board(seed)
        assert cells == battleship.generate_board(seed)
        assert len({tuple(c) for c in cells}) == sum(battleship.SHIP_LENGTHS)
        assert all(0 <= r < battleship.SIZE and 0 <= c < battleship.SIZE for r, c in cells)


def test_shots_are_scored_by_the_caller_whatever_the_child_claims():
    ships = [[0, 0], [0, 1]]
    assert battleship.score_shots(ships, [[0, 0], [0, 0], [5, 5], "x", [9, 9], [0, 1]]) == {
        "hits": 2,
        "ship_cells": 2,
        "repeated": 1,
        "invalid": 2,
        "score": 1.0,
    }
    assert battleship.score_shots(ships, "all hits")["score"] == 0
    assert battleship.score_shots(ships, [[True, 0]])["invalid"] == 1
    assert battleship.score_shots(ships, [[0, 0]] * 100)["repeated"] == battleship.SHOTS - 1
