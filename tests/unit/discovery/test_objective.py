"""The beta-free fitness: best reward within a KL budget per seed, then mean and sd."""

import statistics

import pytest

from opto.discovery import LossObjective, PreferenceConfig


def run(seed, beta, reward, kl):
    return {
        "seed": seed,
        "beta": beta,
        "reward": reward,
        "kl": kl,
        "win_rate": 0.5 + reward / 10,
        "frontier_gap": 0.1,
        "train_accuracy": 0.7,
        "reference_reward": 0.0,
    }


OBJECTIVE = LossObjective(preset="base", betas=(0.5, 2.0), seeds=(0, 1), kl_budget=0.3)


def test_each_seed_scores_its_best_reward_within_the_budget():
    evaluations = [
        run(0, 0.5, 0.9, 0.8),  # best reward but over budget
        run(0, 2.0, 0.4, 0.2),
        run(1, 0.5, 0.5, 0.3),  # on the budget: fits
        run(1, 2.0, 0.3, 0.1),
    ]
    fitness, _ = OBJECTIVE.score(evaluations)
    assert fitness["per_seed"] == [0.4, 0.5]
    assert fitness["beta_per_seed"] == [2.0, 0.5]
    assert fitness["mean"] == pytest.approx(0.45)
    assert fitness["sd"] == pytest.approx(statistics.stdev([0.4, 0.5]))
    assert fitness["n"] == 2


def test_a_seed_with_no_beta_in_budget_scores_the_reference_reward():
    evaluations = [run(0, b, 1.0, 2.0) for b in (0.5, 2.0)] + [
        run(1, b, 0.2, 0.1) for b in (0.5, 2.0)
    ]
    fitness, _ = OBJECTIVE.score(evaluations)
    assert fitness["per_seed"] == [0.0, 0.2]
    assert fitness["beta_per_seed"][0] is None


def test_without_a_budget_the_best_reward_counts():
    objective = LossObjective(preset="base", betas=(0.5, 2.0), seeds=(0,), kl_budget=None)
    fitness, _ = objective.score([run(0, 0.5, 0.9, 5.0), run(0, 2.0, 0.4, 0.2)])
    assert fitness["mean"] == 0.9
    assert fitness["sd"] == 0.0


def test_metrics_are_means_over_seeds_per_beta():
    evaluations = [run(0, 0.5, 0.2, 0.1), run(1, 0.5, 0.4, 0.3), run(0, 2.0, 0.1, 0.0)]
    evaluations.append(run(1, 2.0, 0.1, 0.0))
    _, metrics = OBJECTIVE.score(evaluations)
    assert set(metrics) == {"0.5", "2"}
    assert metrics["0.5"]["reward"] == pytest.approx(0.3)
    assert metrics["0.5"]["kl"] == pytest.approx(0.2)
    assert metrics["0.5"]["reward_sd"] == pytest.approx(statistics.stdev([0.2, 0.4]))
    assert metrics["2"]["win_rate"] == pytest.approx(0.51)


def test_a_missing_seed_is_an_error():
    with pytest.raises(ValueError, match="no evaluation for seed 1"):
        OBJECTIVE.score([run(0, 0.5, 0.2, 0.1)])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"preset": "nope"}, "unknown preset"),
        ({"betas": ()}, "betas"),
        ({"betas": (0.0,)}, "betas"),
        ({"seeds": ()}, "seeds"),
        ({"seeds": (0, 0)}, "seeds"),
        ({"seeds": (-1,)}, "seeds"),
        ({"seeds": (True,)}, "seeds"),
        ({"kl_budget": 0.0}, "kl_budget"),
        ({"kl_budget": float("nan")}, "kl_budget"),
    ],
)
def test_validation(arguments, message):
    with pytest.raises((ValueError, KeyError), match=message):
        LossObjective(**arguments)


def test_round_trip_with_a_custom_config():
    config = PreferenceConfig(n_prompts=10, n_pairs=50, tabular=True)
    objective = LossObjective(preset=config, betas=(1, 2), seeds=(3,), kl_budget=None)
    again = LossObjective.from_dict(objective.to_dict())
    assert again == objective
    assert again.config == config
    assert again.preset_name == "custom"


def test_description_names_the_grid_the_seeds_and_the_budget():
    text = LossObjective().describe()
    for fragment in (
        "'overfit' preset",
        "600 preference pairs",
        "30 epochs",
        "{0.1, 0.25, 0.5, 1, 2.5, 5}",
        "5 seeds",
        "at most 0.3 nats",
        "memorise",
    ):
        assert fragment in text
