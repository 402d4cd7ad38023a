"""The loop's parts, alone and swapped in: acceptance, evaluation policy, pool policy, selector.

Each part is tested on a pool built by hand; then parts written here (as a user would) are
given to ``SearchLoop`` to show that the loop does what they say, and that the cost estimate
asks them too.
"""

import math
import random

import pytest
from trainer_toys import DATA, Adder, guided_reply, make_guide, noisy_reply, optimizer_for

from opto.trainer import ObjectiveConfig, train
from opto.trainer.algorithms import (
    AcceptAll,
    AcceptanceCriterion,
    BestCandidates,
    EvaluationPolicy,
    FullValidation,
    ImprovementGate,
    KeepBest,
    KeepLatest,
    NoValidation,
    ParetoSampler,
    Pool,
    PoolPolicy,
    SearchLoop,
    Selector,
    Strategies,
    Trial,
)
from opto.trainer.loggers import NullLogger

SCALAR = ObjectiveConfig()


def pool_of(*scores):
    """A pool whose candidates have these validation scores (one example each)."""
    pool = Pool()
    for value, score in enumerate(scores):
        candidate = pool.new({"offset": value}, None, 0)
        if score is not None:
            candidate.validation = {0: {"score": score}}
        pool.add(candidate)
    return pool


def trial(parent_score, child_score):
    pool = pool_of(0.5)
    child = pool.new({"offset": 9}, 0, 1)
    return Trial(child, pool.candidates[0], parent_score, child_score, pool)


def test_acceptance_criteria():
    assert AcceptAll().accept(trial(0.9, math.nan)) and not AcceptAll().needs_minibatch_scores
    gate = ImprovementGate(0.1)
    assert gate.needs_minibatch_scores
    assert gate.accept(trial(0.5, 0.75)) and not gate.accept(trial(0.5, 0.55))
    assert ImprovementGate(0.0).accept(trial(0.5, 0.5))  # not worse
    assert not ImprovementGate(1e-9).accept(trial(0.5, 0.5))  # strictly better


class RecordingValidation:
    """A ValidationSet of three examples that scores example i as i / 10 and records calls."""

    size = 3

    def __init__(self):
        self.calls = []

    def score(self, candidates, examples):
        self.calls.append([(c.id, list(e)) for c, e in zip(candidates, examples, strict=True)])
        for candidate, indices in zip(candidates, examples, strict=True):
            for index in indices:
                candidate.validation[index] = {"score": index / 10}


def test_full_validation_scores_only_what_is_missing_in_one_call():
    pool = pool_of(None, None)
    seen, new = pool.candidates
    seen.validation = {0: {"score": 0.0}, 1: {"score": 0.1}, 2: {"score": 0.2}}
    new.validation = {1: {"score": 0.1}}
    validation = RecordingValidation()
    assert FullValidation().evaluate([seen, new], validation) == [seen, new]
    assert validation.calls == [[(new.id, [0, 2])]]
    assert sorted(new.validation) == [0, 1, 2]
    assert FullValidation().examples_per_candidate(7) == 7


def test_no_validation_scores_nothing():
    pool = pool_of(None)
    validation = RecordingValidation()
    assert NoValidation(minibatch=True).evaluate(pool.candidates, validation) == pool.candidates
    assert validation.calls == [] and NoValidation().examples_per_candidate(7) == 0


def test_pool_policies():
    pool = pool_of(0.2, 0.9, 0.5)
    child = pool.new({"offset": 7}, 1, 1)
    child.validation = {0: {"score": 0.7}}
    best = KeepBest(2).update(pool, [child], SCALAR)
    assert best.score(SCALAR) == 0.9
    assert [c.score(SCALAR) for c in pool.candidates] == [0.9, 0.7]
    assert KeepBest(2).projected_size(2, 3) == 2 and KeepBest().projected_size(2, 3) == 5

    pool = pool_of(0.9, 0.1)
    pool.current = 0
    newest = pool.new({"offset": 8}, 0, 1)
    assert KeepLatest().update(pool, [newest], SCALAR) is newest and pool.candidates == [newest]
    pool.current = newest.id
    assert KeepLatest().update(pool, [], SCALAR) is newest  # nothing accepted: it stays
    assert KeepLatest().projected_size(4, 3) == 1


def test_selectors_say_how_many_parents_they_pick():
    assert BestCandidates(3).parents(2) == 2 and BestCandidates(3).parents(5) == 3
    assert ParetoSampler().parents(10) == 1
    pool = pool_of(0.1, 0.8, 0.4)
    assert [c.id for c in BestCandidates(2).select(pool, SCALAR, random.Random(0))] == [1, 2]


def test_shorthand_settings_make_parts():
    plan = Strategies(BestCandidates(2), proposals=2, gate=0.05, validate=True, pool_size=5)
    assert isinstance(plan.acceptance, ImprovementGate) and plan.acceptance.threshold == 0.05
    assert isinstance(plan.evaluation, FullValidation) and not plan.evaluation.minibatch
    assert isinstance(plan.pool_policy, KeepBest) and plan.pool_policy.size == 5
    plan = Strategies(BestCandidates(1), rollout_children=True, keep="latest")
    assert isinstance(plan.evaluation, NoValidation) and plan.evaluation.minibatch
    assert isinstance(plan.pool_policy, KeepLatest) and isinstance(plan.acceptance, AcceptAll)
    assert plan.scores_children_on_minibatch
    assert not Strategies(BestCandidates(1)).scores_children_on_minibatch
    assert repr(Strategies(ParetoSampler("hybrid"), gate=1e-9)) == (
        "Strategies(ParetoSampler(frontier='hybrid'), proposals=1, acceptance="
        "ImprovementGate(1e-09), evaluation=NoValidation(minibatch=False), "
        "pool_policy=KeepBest(None))"
    )


def test_a_part_and_its_shorthand_together_are_refused():
    with pytest.raises(TypeError, match="acceptance= or gate="):
        Strategies(BestCandidates(1), gate=0.1, acceptance=AcceptAll())
    with pytest.raises(TypeError, match="evaluation= or validate=, rollout_children="):
        Strategies(
            BestCandidates(1), validate=True, rollout_children=True, evaluation=NoValidation()
        )
    with pytest.raises(TypeError, match="pool_policy= or keep="):
        Strategies(BestCandidates(1), keep="latest", pool_policy=KeepBest())
    with pytest.raises(ValueError, match="pool_size"):
        KeepBest(0)


class EvenOffsetsOnly(AcceptanceCriterion):
    """A rule of one's own that needs no scores: odd offsets are refused before any run."""

    needs_minibatch_scores = False

    def __init__(self):
        self.seen = []

    def accept(self, trial):
        self.seen.append((trial.parent.id, trial.child.snapshot["offset"], trial.child_score))
        return trial.child.snapshot["offset"] % 2 == 0


def test_a_custom_acceptance_criterion_decides_what_enters_the_pool():
    agent = Adder(0)
    rule = EvenOffsetsOnly()
    plan = Strategies(BestCandidates(1), proposals=2, acceptance=rule)
    loop = SearchLoop(
        agent, optimizer_for(agent, noisy_reply), logger=NullLogger(), strategies=plan
    )
    result = loop.train(make_guide(), DATA, batch_size=2, num_steps=3)
    offsets = [offset for _, offset, _ in rule.seen]
    assert rule.seen and all(math.isnan(score) for *_, score in rule.seen)  # never run
    assert {c.snapshot["offset"] % 2 for c in loop.pool.candidates} == {0}
    assert sum(r["accepted"] for r in result.history) == sum(o % 2 == 0 for o in offsets)


class ShortThenFull(EvaluationPolicy):
    """Cascade: two examples first; only children scoring at least ``bar`` there get the
    rest of the validation set, the others are dropped."""

    def __init__(self, bar):
        super().__init__()
        self.bar = bar
        self.dropped = []

    def evaluate(self, candidates, validation):
        validation.score(candidates, [[0, 1]] * len(candidates))
        passed = [
            c for c in candidates if min(s["score"] for s in c.validation.values()) >= self.bar
        ]
        self.dropped += [c for c in candidates if c not in passed]
        rest = [i for i in range(validation.size) if i > 1]
        if passed and rest:
            validation.score(passed, [rest] * len(passed))
        return passed

    def examples_per_candidate(self, size):
        return size


def test_a_staged_evaluation_policy_drops_candidates_between_stages():
    agent = Adder(0)
    policy = ShortThenFull(bar=0.5)
    plan = Strategies(BestCandidates(1), proposals=2, evaluation=policy)
    loop = SearchLoop(
        agent, optimizer_for(agent, noisy_reply), logger=NullLogger(), strategies=plan
    )
    loop.train(make_guide(), DATA, batch_size=2, num_steps=4)
    # the seed candidate is evaluated when the run starts and stays whatever its scores
    dropped = [c for c in policy.dropped if c.parent is not None]
    assert dropped  # the noisy teacher proposes some poor values
    children = [c for c in loop.pool.candidates if c.parent is not None]
    assert not {c.id for c in children} & {c.id for c in dropped}
    assert all(sorted(c.validation) == list(range(8)) for c in children)
    assert all(sorted(c.validation) == [0, 1] for c in dropped)


class KeepFirstAndNewest(PoolPolicy):
    """A pool policy of one's own: the seed candidate and the newest child stay."""

    def update(self, pool, children, objective):
        first = pool.candidates[0]
        newest = children[-1] if children else pool.candidates[-1]
        pool.candidates = [first] if newest is first else [first, newest]
        return newest

    def projected_size(self, size, added):
        return min(size + added, 2)


class Newest(Selector):
    def select(self, pool, objective, rng):
        return [max(pool.candidates, key=lambda c: c.id)]


def test_custom_selector_and_pool_policy_drive_the_loop_and_the_estimate():
    agent = Adder(0)
    plan = Strategies(Newest(), pool_policy=KeepFirstAndNewest(), evaluation=FullValidation())
    loop = SearchLoop(
        agent, optimizer_for(agent, noisy_reply), logger=NullLogger(), strategies=plan
    )
    result = loop.train(make_guide(), DATA, batch_size=2, num_steps=4)
    seed, newest = loop.pool.candidates
    assert seed.id == 0 and newest.id == loop.pool.next_id - 1 and newest.step == 4
    assert newest.parent == newest.id - 1  # each step improved the newest candidate
    assert result.best_parameters == newest.snapshot and loop.pool.current == newest.id

    agent = Adder(0)
    estimate = train(
        model=agent,
        train_dataset=DATA,
        algorithm=SearchLoop(agent, optimizer_for(agent, guided_reply), strategies=plan),
        guide=make_guide(),
        logger=NullLogger(),
        batch_size=2,
        num_steps=3,
        dry_run=True,
    )
    assert estimate.examples["validation"] == 8 * 4  # the first candidate and one per step
