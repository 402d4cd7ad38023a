"""Evaluation and search on a Dask LocalCluster (2 worker processes) give the same results
as threads: the model and guide are pickled once, candidates travel as snapshots."""

import json
import os
import re
from pathlib import Path

import pytest
from toy_tasks import Dice, Shifter, dataset, make_guide, the_response

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trainer import MetricGuide, evaluate, evaluate_vector, train
from opto.trainer.loggers import NullLogger

distributed = pytest.importorskip("distributed")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def dask_executor():
    """Two worker processes; they import the toy tasks from this folder."""
    paths = [str(HERE), os.environ.get("PYTHONPATH", "")]
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    try:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = saved
    yield client.get_executor()
    client.close()
    cluster.close()


def test_100_examples_score_the_same_on_dask_as_on_threads(dask_executor):
    data = dataset(100)
    threads = evaluate(Shifter(2), make_guide(), data["inputs"], data["infos"], min_score=0.0)
    on_dask = evaluate(
        Shifter(2),
        make_guide(),
        data["inputs"],
        data["infos"],
        min_score=0.0,
        executor=dask_executor,
        num_threads=8,
    )
    assert list(on_dask) == list(threads)
    assert on_dask.errors == threads.errors
    assert on_dask.errors.count("(ValueError) 17 is a multiple of 17") == 1
    assert sum(e is not None for e in on_dask.errors) == 5  # 17, 34, 51, 68, 85
    vectors = evaluate_vector(
        Shifter(3), make_guide(), data["inputs"], data["infos"], executor=dask_executor
    )
    assert vectors == evaluate_vector(Shifter(3), make_guide(), data["inputs"], data["infos"])
    assert vectors[0] == {"closeness": 1.0, "exact": 1.0}


def test_repeated_samples_of_one_example_are_separate_runs_on_dask(dask_executor):
    # Dask's submit is "pure" by default: equal arguments would share one task and one result
    scores = evaluate(
        Dice(), MetricGuide(the_response), [1, 1], [0, 0], num_samples=3, executor=dask_executor
    )
    values = [value for samples in scores for value in samples]
    assert len(set(values)) == 6


def step_towards_three(*args, **kwargs):
    prompt = kwargs["messages"][-1]["content"]
    name, value = re.search(r"\(int\) (offset\d+)=(-?\d+)", prompt).groups()
    return json.dumps({"suggestion": {name: int(value) + 1}})


def search(executor):
    agent = Shifter(0)
    optimizer = OptoPrime(agent.parameters(), llm=DummyLLM(step_towards_three))
    data = dataset(20)
    return train(
        model=agent,
        train_dataset=data,
        algorithm="BasicSearchAlgorithm",
        optimizer=optimizer,
        guide=make_guide(),
        logger=NullLogger(),
        batch_size=2,
        num_steps=4,
        num_proposals=2,
        min_score=0.0,
        executor=executor,
    )


def test_a_search_validates_candidates_on_dask_like_on_threads(dask_executor):
    on_dask, on_threads = search(dask_executor), search(None)
    assert on_dask.best_parameters == on_threads.best_parameters == {"offset": 3}
    assert on_dask.best_scores == on_threads.best_scores
    assert on_dask.train_scores == on_threads.train_scores
