import json

import pytest
from trainer_toys import (
    DATA,
    TARGET,
    Adder,
    FragileAdder,
    Recorder,
    bad_reply,
    guided_reply,
    make_guide,
    noisy_reply,
    optimizer_for,
    two_metrics,
)

from opto.trainer import MetricGuide, ObjectiveConfig, evaluate, train
from opto.trainer.algorithms import (
    BasicSearchAlgorithm,
    BestCandidates,
    Candidate,
    MinibatchAlgorithm,
    ParetoSampler,
    Pool,
    SearchLoop,
    Strategies,
)
from opto.trainer.loggers import NullLogger

SEARCHES = [
    ("BasicSearchAlgorithm", {}),
    ("BeamsearchAlgorithm", {"beam_width": 2}),
    ("UCBSearchAlgorithm", {}),
    ("PrioritySearch", {"num_candidates": 2}),
    ("PrioritySearch", {"score_function": "ucb"}),
    ("ParetobasedPS", {}),
    ("SequentialSearch", {}),
    ("BeamSearch", {}),
]


def mean_score(agent) -> float:
    return evaluate(agent, make_guide(), DATA["inputs"], DATA["infos"], num_threads=2).mean()


def run(algorithm, reply, **options):
    agent = Adder(0)
    recorder = Recorder(reply)
    result = train(
        model=agent,
        train_dataset=DATA,
        algorithm=algorithm,
        optimizer=optimizer_for(agent, recorder),
        guide=make_guide(),
        logger=NullLogger(),
        **{"batch_size": 2, **options},
    )
    return agent, result, recorder


def test_minibatch_joins_a_batch_into_one_step_and_learns_from_feedback():
    agent, result, recorder = run("MinibatchAlgorithm", guided_reply, batch_size=3, num_epochs=1)
    assert result.steps == 3 == len(recorder.prompts)  # one optimizer call per batch of 3
    first = recorder.prompts[0]
    assert "batchify0 = batchify(items_0=add0, items_1=add1, items_2=add2)" in first
    feedback = first.rsplit("#Feedback", 1)[1]
    assert "ID [0]: The output is too small by 5." in feedback and "ID [2]:" in feedback
    assert agent.offset.data == TARGET
    assert result.best_parameters == {"offset": TARGET}
    assert result.train_scores[0] == pytest.approx(1 / 6) and result.train_scores[-1] == 1.0
    assert result.stopped == "completed"


def test_a_batch_of_one_is_shown_as_the_single_output():
    _, _, recorder = run("MinibatchAlgorithm", guided_reply, batch_size=1, num_steps=1)
    assert "batchify" not in recorder.prompts[0]
    assert "#Feedback\nThe output is too small by 5." in recorder.prompts[0]


def test_minibatch_without_a_check_follows_bad_proposals_and_with_it_does_not():
    agent, result, _ = run("MinibatchAlgorithm", bad_reply, num_steps=3)
    assert agent.offset.data == -9
    agent, result, _ = run("MinibatchAlgorithm", bad_reply, num_steps=3, ensure_improvement=True)
    assert agent.offset.data == 0
    assert [r["accepted"] for r in result.history] == [0, 0, 0]


@pytest.mark.parametrize(("algorithm", "options"), SEARCHES)
def test_every_search_improves_the_toy_task(algorithm, options):
    before = mean_score(Adder(0))
    agent, result, recorder = run(algorithm, noisy_reply, num_steps=8, **options)
    after = mean_score(agent)
    assert after > before + 0.5
    assert result.best_parameters == {"offset": agent.offset.data}
    assert result.best_score == pytest.approx(after)
    assert recorder.prompts  # the optimizer was asked


def test_plain_minibatch_with_noisy_proposals_is_what_the_searches_beat():
    agent, _, _ = run("MinibatchAlgorithm", noisy_reply, num_steps=8)
    searched, _, _ = run("BasicSearchAlgorithm", noisy_reply, num_steps=8)
    assert mean_score(searched) >= mean_score(agent)


def test_errors_in_the_batch_reach_the_optimizer_as_feedback():
    agent = FragileAdder(0)
    recorder = Recorder(guided_reply)
    train(
        model=agent,
        train_dataset={"inputs": [13, 2], "infos": [18, 7]},
        guide=make_guide(),
        optimizer=optimizer_for(agent, recorder),
        logger=NullLogger(),
        batch_size=2,
        num_steps=1,
        min_score=-1.0,
    )
    prompt = recorder.prompts[0]
    assert "13 is unlucky" in prompt
    assert "ID [1]: The output is too small by 5." in prompt


def test_several_optimizers_take_turns():
    agent = Adder(0)
    first, second = Recorder(guided_reply), Recorder(guided_reply)
    optimizers = [optimizer_for(agent, first), optimizer_for(agent, second)]
    loop = MinibatchAlgorithm(agent, optimizers, logger=NullLogger())
    loop.train(make_guide(), DATA, batch_size=2, num_steps=3)
    assert (len(first.prompts), len(second.prompts)) == (2, 1)


def test_weighted_objectives_decide_which_candidate_is_best():
    guide = MetricGuide(two_metrics)
    # "small" prefers offset 0 (or below), "closeness" prefers the target
    for weights, expected in (
        ({"closeness": 1.0}, lambda v: v > 0),
        ({"small": 1.0}, lambda v: v <= 0),
    ):
        agent = Adder(0)
        BasicSearchAlgorithm(agent, optimizer_for(agent), logger=NullLogger()).train(
            guide,
            DATA,
            batch_size=2,
            num_steps=4,
            objective_config=ObjectiveConfig(mode="weighted", weights=weights),
        )
        assert expected(agent.offset.data), (weights, agent.offset.data)


def test_pareto_objectives_keep_a_front():
    agent = Adder(0)
    loop = BasicSearchAlgorithm(agent, optimizer_for(agent), logger=NullLogger())
    result = loop.train(
        MetricGuide(two_metrics),
        DATA,
        batch_size=2,
        num_steps=3,
        num_proposals=3,
        objective_config={"mode": "pareto", "weights": {"closeness": 1.0}},
    )
    assert set(result.best_scores) == {"closeness", "small"}
    assert agent.offset.data > 0  # on the front, ties broken by the closeness weight


def test_pareto_sampler_counts_the_examples_each_candidate_wins():
    pool = Pool()
    for snapshot, scores in (
        ({"o": 1}, [1.0, 0.0, 0.0]),
        ({"o": 2}, [0.0, 1.0, 1.0]),
        ({"o": 3}, [0.0, 0.5, 0.0]),
    ):
        candidate = pool.new(snapshot, None, 0)
        candidate.validation = {i: {"score": s} for i, s in enumerate(scores)}
        pool.add(candidate)
    assert ParetoSampler().wins(pool, ObjectiveConfig()) == {0: 1, 1: 2}
    import random

    drawn = [
        ParetoSampler().select(pool, ObjectiveConfig(), random.Random(i))[0].id for i in range(40)
    ]
    assert set(drawn) == {0, 1} and drawn.count(1) > drawn.count(0)
    by_metric = ParetoSampler("objective").wins(pool, ObjectiveConfig())
    assert by_metric == {1: 1}


def test_ucb_tries_unvisited_candidates_first_then_balances():
    pool = Pool()
    seen, fresh = pool.new({"o": 1}, None, 0), pool.new({"o": 2}, None, 0)
    seen.rollouts = [{"score": 0.9}] * 5
    pool.add(seen)
    pool.add(fresh)
    selector = BestCandidates(1, score="ucb", exploration=1.0)
    assert selector.select(pool, ObjectiveConfig(), None) == [fresh]
    fresh.rollouts = [{"score": 0.5}]
    assert selector.select(pool, ObjectiveConfig(), None) == [fresh]  # few visits, big bonus
    assert BestCandidates(1, score="ucb", exploration=0.0).select(
        pool, ObjectiveConfig(), None
    ) == [seen]


def test_a_custom_loop_from_strategies():
    agent = Adder(0)
    plan = Strategies(BestCandidates(1), proposals=2, validate=True, pool_size=3)
    loop = SearchLoop(agent, optimizer_for(agent), logger=NullLogger(), strategies=plan)
    result = loop.train(make_guide(), DATA, batch_size=2, num_steps=3)
    assert len(loop.pool.candidates) <= 3
    assert result.steps == 3 and result.best_score == max(
        c.score(loop.objective) for c in loop.pool.candidates
    )


def test_strategy_settings_are_checked():
    with pytest.raises(ValueError, match="keep"):
        Strategies(BestCandidates(1), keep="all")
    with pytest.raises(ValueError, match="proposals"):
        Strategies(BestCandidates(1), proposals=0)
    with pytest.raises(ValueError, match="score"):
        BestCandidates(1, score="max")
    with pytest.raises(ValueError, match="frontier"):
        ParetoSampler("everything")


def test_misspelt_options_are_refused():
    agent = Adder(0)
    with pytest.raises(TypeError, match="beam_widht"):
        MinibatchAlgorithm(agent, optimizer_for(agent), logger=NullLogger()).train(
            make_guide(), DATA, beam_widht=3
        )


def test_result_unpacks_like_trace_and_epochs_bound_the_run():
    _agent, result, _ = run("MinibatchAlgorithm", guided_reply, batch_size=4, num_epochs=2)
    train_scores, test_score = result
    assert len(train_scores) == 4 and test_score is None
    assert result.history[-1]["epoch"] == 2


def test_test_dataset_is_scored_on_schedule_and_at_the_end():
    _agent, result, _ = run(
        "MinibatchAlgorithm",
        guided_reply,
        num_steps=2,
        test_dataset=DATA,
        test_frequency=1,
        num_test_samples=2,
    )
    assert [r["test_score"] for r in result.history] == [1.0, 1.0]
    assert result.test_score == 1.0


def test_candidates_round_trip_through_json():
    candidate = Candidate(3, {"offset": (1, 2)}, parent=1, step=2)
    candidate.validation = {0: {"score": 1.0}}
    candidate.rollouts = [{"score": 0.5}]
    copy = Candidate.from_json(json.loads(json.dumps(candidate.to_json())))
    assert copy.snapshot == {"offset": (1, 2)} and copy.validation == candidate.validation
    assert copy.key == candidate.key
