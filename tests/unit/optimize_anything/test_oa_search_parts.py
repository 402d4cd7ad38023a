"""Search parts on the one loop: islands, MAP-Elites, Pareto front, novelty, cascades."""

import itertools

import pytest
from oa_toys import Proposer, config

from opto.optimize_anything import optimize_anything
from opto.trainer.algorithms import (
    AcceptAll,
    BestCandidates,
    Candidate,
    Cascade,
    EliteSampler,
    Feature,
    FullValidation,
    Islands,
    KeepBest,
    MapElites,
    Novelty,
    ParetoFront,
    Pool,
    Stage,
    Strategies,
)
from opto.trainer.objectives import ObjectiveConfig

OBJECTIVE = ObjectiveConfig(scalarize_dict="score")


def digit_sum(candidate):
    return float(sum(int(ch) for ch in candidate if ch.isdigit()))


def counting_proposer():
    numbers = itertools.count(1)
    return Proposer(edit=lambda value: value + str(next(numbers)))


def run_with(strategies, steps, evaluator=digit_sum, proposer=None, **kwargs):
    proposer = proposer or counting_proposer()
    result = optimize_anything(
        "hi",
        evaluator=evaluator,
        strategies=strategies,
        config=config(proposer, max_candidate_proposals=steps),
        **kwargs,
    )
    return result, proposer


def islands(migration_interval):
    return Strategies(
        Islands(2, migration_interval=migration_interval),
        acceptance=AcceptAll(),
        evaluation=FullValidation(),
        pool_policy=KeepBest(),
    )


def test_islands_take_turns_and_migration_brings_the_neighbours_best():
    result, _ = run_with(islands(2), 5)
    assert result.candidates == ["hi", "hi1", "hi2", "hi23", "hi24", "hi245"]
    # steps 1 and 2 start both islands from the seed; from step 3 on island 0 may pick
    # island 1's best as of step 2 ("hi2"), and from step 5 on its best as of step 4
    assert result.parents == [[None], [0], [0], [2], [2], [4]]


def test_islands_without_migration_stay_apart():
    result, _ = run_with(islands(None), 5)
    assert result.candidates[-1] == "hi135"
    assert result.parents[-1] == [3]


def test_islands_survive_a_resume(tmp_path):
    expected, _ = run_with(islands(2), 5)
    # a resumed run continues the same turn order (its candidates come from the run dir)
    first = counting_proposer()
    optimize_anything(
        "hi",
        evaluator=digit_sum,
        strategies=islands(2),
        config=config(first, max_candidate_proposals=3, run_dir=str(tmp_path)),
    )
    numbers = itertools.count(4)
    second = Proposer(edit=lambda value: value + str(next(numbers)))
    resumed = optimize_anything(
        "hi",
        evaluator=digit_sum,
        strategies=islands(2),
        config=config(second, max_candidate_proposals=5, run_dir=str(tmp_path)),
    )
    assert resumed.candidates == expected.candidates
    assert resumed.parents == expected.parents


def length_of(candidate):
    return len(candidate.snapshot["candidate"])


def test_map_elites_keeps_the_best_of_each_cell_and_explores_all_of_them():
    grid = MapElites([Feature("length", bins=[4, 6], value=length_of)])
    proposed = []

    def evaluator(candidate):
        proposed.append(candidate)
        return digit_sum(candidate)

    strategies = Strategies(
        EliteSampler(), acceptance=AcceptAll(), evaluation=FullValidation(), pool_policy=grid
    )
    result, _ = run_with(strategies, 8, evaluator=evaluator)
    cells = [grid.features[0].cell(_candidate(c)) for c in result.candidates]
    assert len(cells) == len(set(cells))  # one elite per cell
    every = {c: digit_sum(c) for c in proposed}
    for candidate, cell in zip(result.candidates, cells, strict=True):
        rivals = [c for c in every if grid.features[0].cell(_candidate(c)) == cell]
        assert digit_sum(candidate) == max(digit_sum(c) for c in rivals)
    assert result.best_candidate == max(every, key=every.get)
    assert len(set(cells)) == 3


def _candidate(text):
    return Candidate(0, {"candidate": text})


def test_a_feature_may_be_a_metric_of_the_side_info():
    feature = Feature("tokens", bins=[10])
    scored = Candidate(0, {"p": "x"}, validation={0: {"score": 1.0, "tokens": 12.0}})
    unscored = Candidate(1, {"p": "y"})
    assert feature.cell(scored) == 1 and feature.cell(unscored) is None
    with pytest.raises(ValueError, match="increasing"):
        Feature("bad", bins=[2, 1])


def pooled(*validations):
    pool = Pool()
    for scores in validations:
        candidate = pool.new({"p": str(len(pool.candidates))}, None, 0)
        candidate.validation = {i: {"score": s} for i, s in enumerate(scores)}
        pool.add(candidate)
    return pool


def test_the_pareto_front_keeps_specialists_and_drops_the_dominated():
    pool = pooled([1.0, 0.0], [0.0, 1.0], [0.6, 0.6], [0.4, 0.4])
    best = ParetoFront("instance").update(pool, [], OBJECTIVE)
    # 2 wins no example but has the best mean, so it stays (and is current); 3 goes
    assert [c.id for c in pool.candidates] == [0, 1, 2]
    assert best.id == 2


def test_the_pareto_front_over_objectives_keeps_the_best_per_metric():
    pool = Pool()
    for i, scores in enumerate(
        [{"score": 1.0, "speed": 0.0}, {"score": 0.0, "speed": 1.0}, {"score": 0.2, "speed": 0.2}]
    ):
        candidate = pool.new({"p": str(i)}, None, 0)
        candidate.validation = {0: scores}
        pool.add(candidate)
    ParetoFront("objective").update(pool, [], OBJECTIVE)
    assert [c.id for c in pool.candidates] == [0, 1]


def test_novelty_refuses_a_renamed_copy_before_anything_is_spent_on_it():
    seed = "def f(x):\n    y = x + 1\n    return y\n"
    proposals = iter(
        [
            "def g(a):\n    b = a + 1  # renamed\n    return b\n",
            "def f(x):\n    y = x + 2\n    return y\n",
        ]
    )
    calls = []

    def evaluator(candidate):
        calls.append(candidate)
        return float(len(calls))

    novelty = Novelty()
    strategies = Strategies(
        BestCandidates(1), acceptance=novelty, evaluation=FullValidation(), pool_policy=KeepBest()
    )
    result = optimize_anything(
        seed,
        evaluator=evaluator,
        strategies=strategies,
        config=config(Proposer(edit=lambda value: next(proposals)), max_candidate_proposals=2),
    )
    assert len(result.candidates) == 2 and "x + 2" in result.candidates[1]
    assert novelty.refused == 1
    assert len(calls) == 1 + 1 + 1 + 1  # seed; step 1 parent only; step 2 parent and child


def test_novelty_with_embeddings_refuses_near_copies():
    def embed(text):  # a bag of letters: texts with the same letters are the same
        return [text.count(letter) for letter in "abcdefghijklmnopqrstuvwxyz"]

    proposals = iter(["the cat sat", "tac eht tas", "a dog ran far away"])
    novelty = Novelty(embed=embed, threshold=0.99)
    strategies = Strategies(
        BestCandidates(1), acceptance=novelty, evaluation=FullValidation(), pool_policy=KeepBest()
    )
    result = optimize_anything(
        "seed text",
        evaluator=lambda candidate: float(len(candidate)),
        strategies=strategies,
        config=config(Proposer(edit=lambda value: next(proposals)), max_candidate_proposals=3),
    )
    assert result.candidates == ["seed text", "the cat sat", "a dog ran far away"]
    assert novelty.refused == 1


def test_a_cascade_stops_a_candidate_at_the_first_gate_it_fails():
    seen = []

    def evaluator(candidate, example):
        seen.append((candidate, example))
        if example == "contract":
            return float(candidate.startswith("ok")), {"stage": "contract"}
        if example == "short":
            return float("fast" in candidate)
        return float(len(candidate))

    proposals = iter(["broken", "ok but slow", "ok fast", "ok fast and good"])
    cascade = Cascade([Stage([0], min_score=1.0), Stage([1], min_score=0.5), Stage()])
    strategies = Strategies(
        BestCandidates(1), acceptance=AcceptAll(), evaluation=cascade, pool_policy=KeepBest()
    )
    result = optimize_anything(
        "ok fast seed",
        evaluator=evaluator,
        dataset=["full"],
        valset=["contract", "short", "full", "full"],
        strategies=strategies,
        config=config(Proposer(edit=lambda value: next(proposals)), max_candidate_proposals=4),
    )
    assert result.candidates == ["ok fast seed", "ok fast", "ok fast and good"]
    stages_of = {}
    for candidate, example in seen:
        stages_of.setdefault(candidate, []).append(example)
    assert stages_of["broken"] == ["contract"]
    assert stages_of["ok but slow"] == ["contract", "short"]
    assert stages_of["ok fast"] == ["contract", "short", "full", "full"]
    assert cascade.dropped == 2


def test_cascade_stages_must_name_real_examples():
    with pytest.raises(ValueError, match="only the last stage"):
        Cascade([Stage(), Stage([0])])
    with pytest.raises(ValueError, match="the validation set has 2"):
        Cascade([Stage([5]), Stage()]).stage_examples(2)
