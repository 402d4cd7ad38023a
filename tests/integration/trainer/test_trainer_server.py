"""The trainer with real HTTP calls: the openai client against the toy server."""

import resumable_run
from resumable_run import DATASET, Calculator, closeness, feedback

import opto.llm as llm_pkg
from opto.llm import LLM
from opto.optimizers import OptoPrime
from opto.trainer import LLMJudge, MetricGuide, evaluate, train
from opto.trainer.loggers import NullLogger


def test_parallel_evaluation_of_an_llm_agent_keeps_input_order(toy_server, monkeypatch):
    monkeypatch.setattr(resumable_run, "CLIENT", LLM("toy", base_url=toy_server.url, api_key="k"))
    inputs = list(range(30))
    agent = Calculator()
    agent.offset.set_data(4)
    scores = evaluate(agent, MetricGuide(closeness), inputs, [x + 4 for x in inputs], num_threads=8)
    assert list(scores) == [1.0] * 30
    assert len(toy_server.answered) == 30


def test_minibatch_training_over_http_with_threads_and_a_run_cache(
    toy_server, monkeypatch, tmp_path
):
    monkeypatch.setattr(resumable_run, "CLIENT", LLM("toy", base_url=toy_server.url, api_key="k"))
    agent = Calculator()
    optimizer = OptoPrime(agent.parameters(), llm=LLM("toy", base_url=toy_server.url, api_key="k"))
    result = train(
        model=agent,
        train_dataset=DATASET,
        optimizer=optimizer,
        guide=MetricGuide(closeness, feedback=feedback),
        logger=NullLogger(),
        batch_size=3,
        num_epochs=5,
        num_threads=3,
        run_dir=tmp_path / "run",
    )
    assert result.best_parameters == {"offset": 7} and agent.offset.data == 7
    bodies = [str(body["messages"]) for body in toy_server.answered]
    assert len(bodies) == len(set(bodies))  # repeated requests came from the run's cache
    assert llm_pkg.get_usage().total.cache_hits > 0
    judge = LLMJudge(llm=LLM("toy", base_url=toy_server.url, api_key="k"))
    assert judge("q", "x", "y") == (0.0, "I do not understand.")
