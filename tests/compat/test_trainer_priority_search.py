"""PrioritySearch and its family used as Trace 0.2 programs use them: constructed with
keywords, trained with Trace's options, hooks overridden, saved and resumed."""

import hashlib
import json

import pytest
from trainer_compat_toys import (
    DATA,
    VARIABLE,
    Greeter,
    GreetingGuide,
    Recorder,
    optimizer_for,
    teacher,
    wrong_teacher,
)

from opto.trainer.algorithms import (
    POLCA,
    BeamSearch,
    ParetobasedPS,
    PrioritySearch,
    SequentialSearch,
    SequentialUpdate,
    StreamingPrioritySearch,
)
from opto.trainer.algorithms.priority_search import HeapMemory, ModuleCandidate
from opto.trainer.loggers import BaseLogger, NullLogger

pytestmark = pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")


class Collect(BaseLogger):
    def __init__(self):
        super().__init__()
        self.names = []

    def log(self, name, data, step, **kwargs):
        self.names.append(name)


def fickle_teacher(*args, messages, **kwargs):
    """Proposes "Yo" or "Hello", chosen by a hash of the prompt."""
    prompt = messages[-1]["content"]
    variable = VARIABLE.search(prompt)
    word = ["Yo", "Hello"][int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 2]
    return json.dumps({"reasoning": "r", "suggestion": {variable[1]: word}})


def test_priority_search_as_the_trace_example_runs_it():
    agent = Greeter("Hi")
    logger = Collect()
    search = PrioritySearch(agent=agent, optimizer=optimizer_for(agent), logger=logger)
    result = search.train(
        guide=GreetingGuide(),
        train_dataset=DATA,
        num_epochs=1,
        batch_size=1,
        num_batches=2,
        num_proposals=2,
        num_candidates=2,
        score_range=(0, 1),
        test_frequency=-1,
        num_test_samples=1,
        score_function="mean",
        num_threads=2,
        verbose=False,
    )
    assert agent.prefix.data == "Hello"
    assert result.best_parameters == {"prefix": "Hello"} and result.best_score == 1.0
    assert "Update/best_candidate_mean_score" in logger.names
    assert "Algo/Average train score" in logger.names and "Parameter/prefix:0" in logger.names


def test_positional_guide_and_data_and_a_separate_validation_set():
    agent = Greeter("Hi")
    search = PrioritySearch(agent, optimizer_for(agent), logger=NullLogger())
    validation = {"inputs": ["Gus", "Hal"], "infos": ["Hello Gus", "Hello Hal"]}
    search.train(
        GreetingGuide(),
        DATA,
        validate_dataset=validation,
        batch_size=2,
        num_candidates=2,
        test_dataset=validation,
        test_frequency=2,
    )
    assert agent.prefix.data == "Hello"
    assert all(len(c.rollouts) > 0 for _, c in search.memory)


def test_a_subclass_changes_the_search_through_its_hooks():
    seen = []

    class NoYo(PrioritySearch):
        def filter_candidates(self, candidates):
            seen.extend(candidates)
            return [c for c in candidates if "Yo" not in c.update_dict.values()]

    agent = Greeter("Hi")
    search = NoYo(agent, optimizer_for(agent, fickle_teacher), logger=NullLogger())
    search.train(
        GreetingGuide(), DATA, batch_size=2, num_proposals=2, num_candidates=2, num_steps=4
    )
    proposed = {v for c in seen for v in c.update_dict.values()}
    assert proposed == {"Yo", "Hello"}
    kept = {v for _, c in search.memory for v in c.update_dict.values()}
    assert "Yo" not in kept and agent.prefix.data == "Hello"


def test_memories_have_their_sizes_and_merge_on_schedule():
    agent = Greeter("Hi")
    search = PrioritySearch(agent, optimizer_for(agent, fickle_teacher), logger=NullLogger())
    search.train(
        GreetingGuide(),
        DATA,
        batch_size=1,
        num_candidates=2,
        num_proposals=2,
        long_term_memory_size=3,
        short_term_memory_size=5,
        memory_update_frequency=2,
        num_epochs=0,
        num_steps=5,
    )
    assert len(search.long_term_memory) <= 3 and len(search.short_term_memory) <= 5
    assert search.memory is search.short_term_memory  # iteration 5: not a merge iteration
    assert all(
        set(r) >= {"score", "feedback"} for _, c in search.long_term_memory for r in c.rollouts
    )
    assert all(r["module"] is None for _, c in search.long_term_memory for r in c.rollouts)


@pytest.mark.parametrize("score_function", ["ucb", "time"])
def test_other_priorities(score_function):
    agent = Greeter("Hi")
    search = PrioritySearch(agent, optimizer_for(agent), logger=NullLogger())
    search.train(
        GreetingGuide(),
        DATA,
        batch_size=2,
        num_candidates=2,
        score_function=score_function,
        ucb_exploration_constant=0.5,
    )
    assert agent.prefix.data == "Hello"
    if score_function == "ucb":
        assert search.min_score == 0.0 and search.max_score == 1.0
    with pytest.raises(ValueError, match="score function"):
        search.train(GreetingGuide(), DATA, score_function="best")


def test_one_shared_optimizer_when_not_decoupled():
    agent = Greeter("Hi")
    optimizer = optimizer_for(agent)
    search = PrioritySearch(agent, optimizer, logger=NullLogger())
    search.train(GreetingGuide(), DATA, batch_size=2, num_candidates=2, decouple_optimizers=False)
    assert agent.prefix.data == "Hello"
    assert all(c.optimizer is optimizer for _, c in search.memory)
    assert optimizer.parameters == agent.parameters()


def test_saving_loading_and_resuming(tmp_path):
    agent = Greeter("Hi")
    recorder = Recorder(fickle_teacher)
    search = PrioritySearch(agent, optimizer_for(agent, recorder), logger=NullLogger())
    search.train(
        GreetingGuide(),
        DATA,
        batch_size=1,
        num_candidates=2,
        num_epochs=0,
        num_steps=2,
        save_frequency=1,
        save_path=str(tmp_path / "run"),
    )
    saved = json.loads((tmp_path / "run" / "algo.json").read_text())
    assert saved["algorithm"] == "PrioritySearch" and saved["n_iters"] == 1
    remembered = len(saved["search"]["candidates"])

    loaded = PrioritySearch.load(str(tmp_path / "run"), logger=NullLogger())
    assert loaded.n_iters == 1 and loaded.agent is None
    model = Greeter("Hi")
    result = loaded.resume(
        model=model,
        train_dataset=DATA,
        guide=GreetingGuide(),
        optimizer=optimizer_for(model, teacher),
        num_steps=4,
    )
    assert loaded.agent is model and result.steps == 4
    assert len(loaded.memory) + len(loaded._exploration_candidates) >= remembered
    assert model.prefix.data == "Hello"
    with pytest.raises(ValueError, match="not a SequentialSearch"):
        SequentialSearch.load(str(tmp_path / "run"))


def test_sequential_update_takes_a_proposal_only_if_it_validates():
    agent = Greeter("Hello")
    search = SequentialUpdate(agent, optimizer_for(agent, wrong_teacher), logger=NullLogger())
    search.train(GreetingGuide(), DATA, batch_size=2)
    assert agent.prefix.data == "Hello"  # "Yo" validated worse and was never taken
    agent = Greeter("Hello")
    blind = SequentialUpdate(agent, optimizer_for(agent, wrong_teacher), logger=NullLogger())
    blind.train(GreetingGuide(), DATA, batch_size=2, validate_proposals=False)
    assert agent.prefix.data == "Yo"  # without validation every proposal is taken


def test_sequential_search_and_beam_search():
    agent = Greeter("Hi")
    recorder = Recorder(fickle_teacher)
    search = SequentialSearch(agent, optimizer_for(agent, recorder), logger=NullLogger())
    with pytest.warns(UserWarning, match="num_candidates=1"):
        search.train(GreetingGuide(), DATA, batch_size=2, num_proposals=3, num_candidates=4)
    assert agent.prefix.data == "Hello"
    assert search.num_candidates == 1 and search.long_term_memory.size == 1
    agent = Greeter("Hi")
    beam = BeamSearch(agent, optimizer_for(agent, fickle_teacher), logger=NullLogger())
    beam.train(GreetingGuide(), DATA, batch_size=2, num_candidates=2, num_proposals=2)
    assert agent.prefix.data == "Hello" and len(beam.memory) <= 2


def test_pareto_exploration_prefers_candidates_best_on_some_input():
    agent = Greeter("Hi")
    search = ParetobasedPS(agent, optimizer_for(agent, fickle_teacher), logger=NullLogger())
    search.train(GreetingGuide(), DATA, batch_size=2, num_candidates=2, num_proposals=2)
    assert agent.prefix.data == "Hello"
    best = search._best_candidate
    assert search.compute_score_for_task_x(best, "Ada") in (0.0, 1.0)
    assert best in search.get_best_candidates_for_x(best.rollouts[-1]["x"], [best])


def test_streaming_priority_search_with_several_candidates():
    agent = Greeter("Hi")
    search = StreamingPrioritySearch(
        agent, optimizer_for(agent, fickle_teacher), logger=NullLogger()
    )
    search.train(
        GreetingGuide(),
        DATA,
        batch_size=2,
        num_candidates=3,
        num_proposals=1,
        exploration_ratio=0.5,
        num_steps=4,
    )
    assert agent.prefix.data == "Hello"
    counts = [c.num_rollouts for _, c in search.memory]
    assert all(n % 2 == 0 for n in counts)  # each exploration adds its batch of 2 once
    with pytest.raises(ValueError, match="exploration_ratio"):
        search.train(GreetingGuide(), DATA, exploration_ratio=0)


def test_polca_keeps_the_memory_diverse_and_passes_advice_on():
    embeddings = {"Hello": [1.0, 0.0], "Yo": [0.0, 1.0], "Hi": [0.5, 0.5]}

    def embed(text):
        return next(v for word, v in embeddings.items() if f"'{word}'" in text)

    agent = Greeter("Hi")
    optimizer = optimizer_for(agent, fickle_teacher)
    polca = POLCA(
        agent=agent, optimizer=optimizer, epsilon=0.5, embedding_fn=embed, logger=NullLogger()
    )
    polca.train(GreetingGuide(), DATA, batch_size=2, num_candidates=2, num_proposals=2)
    kept = [c for _, c in polca.memory] + polca._exploration_candidates
    learned = [next(iter(c.update_dict.values())) for c in kept if c.optimizer is not optimizer]
    assert agent.prefix.data == "Hello"
    assert sorted(learned) == sorted(set(learned))  # no two proposals closer than epsilon
    assert all(hasattr(c, "embedding") for c in kept)


def test_candidates_and_memories():
    agent = Greeter("Hi")
    candidate = ModuleCandidate(agent)
    rollout = {"module": None, "x": "a", "info": "b", "target": "t", "feedback": "f"}
    candidate.add_rollouts([{**rollout, "score": 0.5}, {**rollout, "score": 1.0}])
    assert candidate.compute_score_confidence(0, 1, 1.0, 3) == (0.0, 0.75, 1.0)
    module = candidate.get_module()
    assert module is not agent and module.prefix.data == "Hi"
    with pytest.raises(TypeError):
        ModuleCandidate(agent, {agent.prefix: "Yo"})  # a proposal needs its optimizer

    memory = HeapMemory(size=2)
    for score, name in [(1, "a"), (2, "b"), (3, "c")]:
        memory.push(score, name)
    assert sorted(data for _, data in memory) == ["b", "c"]  # the lowest went
    assert memory.best() == (-3, "c") and memory.best(lambda d: d == "b") == (-2, "b")
    assert memory.pop() == (-3, "c") and len(memory) == 1
