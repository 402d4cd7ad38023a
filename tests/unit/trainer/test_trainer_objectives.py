import math

import pytest

from opto.trainer.objectives import (
    ObjectiveConfig,
    aggregate_score_dicts,
    dominates,
    pareto_rank,
    scalarize,
    select_best,
    select_top_k,
    to_score_dict,
    weighted_scalarize,
)


def test_scores_become_dicts():
    assert to_score_dict(0.5) == {"score": 0.5}
    assert to_score_dict(True) == {"score": 1.0}
    assert to_score_dict({"a": 1, "b": 0.5}) == {"a": 1.0, "b": 0.5}
    assert to_score_dict(2, score_key="acc") == {"acc": 2.0}


@pytest.mark.parametrize(
    ("score", "error"),
    [({}, ValueError), (float("nan"), ValueError), ({"a": "x"}, TypeError), ("1", TypeError)],
)
def test_bad_scores_are_refused(score, error):
    with pytest.raises(error):
        to_score_dict(score)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "best"}, "mode"),
        ({"tie_break": "coin"}, "tie_break"),
        ({"weights": {"a": -1}}, "minimize"),
        ({"pareto_metrics": ()}, "pareto_metrics"),
    ],
)
def test_config_checks_its_fields(options, message):
    with pytest.raises(ValueError, match=message):
        ObjectiveConfig(**options)


def test_scalar_mode_averages_dicts_and_weighted_mode_weighs():
    assert scalarize({"a": 1.0, "b": 0.0}) == 0.5
    assert scalarize({"a": 1.0, "b": 0.0}, ObjectiveConfig(scalarize_dict="sum")) == 1.0
    weighted = ObjectiveConfig(mode="weighted", weights={"a": 2.0, "b": 1.0})
    assert scalarize({"a": 1.0, "b": 3.0}, weighted) == 5.0
    assert weighted_scalarize({"a": 1.0}, {"a": 1.0, "b": 1.0}, missing_value=0.0) == 1.0


def test_minimized_metrics_are_negated():
    config = ObjectiveConfig(mode="weighted", minimize={"cost"})
    cheap, costly = {"acc": 1.0, "cost": 1.0}, {"acc": 1.0, "cost": 5.0}
    assert select_best([(costly, "x"), (cheap, "y")], config) == 1


def test_dominance_and_pareto_ranks():
    assert dominates({"a": 1, "b": 1}, {"a": 1, "b": 0})
    assert not dominates({"a": 1, "b": 0}, {"a": 0, "b": 1})
    assert not dominates({"a": 1}, {"a": 1})
    points = [{"a": 1, "b": 0}, {"a": 0, "b": 1}, {"a": 0, "b": 0}, {"a": -1, "b": -1}]
    assert pareto_rank(points) == [0, 0, 1, 2]
    assert pareto_rank(points, metrics=["a"]) == [0, 1, 1, 2]


def test_select_in_each_mode():
    candidates = [
        ({"acc": 0.9, "speed": 0.1}, "A"),
        ({"acc": 0.5, "speed": 0.9}, "B"),
        ({"acc": 0.4, "speed": 0.4}, "C"),
    ]
    assert select_best(candidates) == 1  # mean 0.5 vs 0.7 vs 0.4
    weighted = ObjectiveConfig(mode="weighted", weights={"acc": 1.0})
    assert select_best(candidates, weighted) == 0
    pareto = ObjectiveConfig(mode="pareto", weights={"speed": 1.0})
    assert select_top_k(candidates, pareto, k=3) == [1, 0, 2]
    lexicographic = ObjectiveConfig(mode="pareto", tie_break="lexicographic")
    assert select_top_k(candidates, lexicographic, k=2) == [0, 1]
    seeded = ObjectiveConfig(mode="pareto", tie_break="random_seeded", seed=3)
    assert select_top_k(candidates, seeded, k=2) == select_top_k(candidates, seeded, k=2)
    assert sorted(select_top_k(candidates, seeded, k=2)) == [0, 1]


def test_scalar_selection_is_stable_on_ties_and_numbers_work():
    assert select_top_k([(1, "a"), (3, "b"), (3, "c")], k=2) == [1, 2]
    with pytest.raises(ValueError):
        select_best([])


def test_aggregate_means_per_metric_and_keeps_failures():
    dicts = [{"a": 1.0, "b": 2.0}, {"a": 0.0}, {"a": 0.5, "b": None}]
    assert aggregate_score_dicts(dicts) == {"a": 0.5, "b": 2.0}
    assert aggregate_score_dicts([{"s": 1.0}, {"s": -math.inf}]) == {"s": -math.inf}
    assert ObjectiveConfig(mode="pareto", minimize={"c"}).to_dict()["minimize"] == ["c"]
