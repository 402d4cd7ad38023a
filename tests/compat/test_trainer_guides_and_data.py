"""Guides, feedback writers, objectives, data loading, sampling and the helpers of
``opto.trainer.train``, as Trace programs use them."""

import json

import pytest
from trainer_compat_toys import DATA, Greeter, GreetingGuide, optimizer_for

from opto.llm import DummyLLM, ScriptedLLM
from opto.trainer.guide import LLMJudge
from opto.trainer.loader import DataLoader
from opto.trainer.objectives import (
    ObjectiveConfig,
    apply_minimize,
    score_dict_to_scalar,
    to_scalar_score,
    weighted_scalarize,
)
from opto.trainer.sampler import BatchRollout, Rollout, Sampler
from opto.trainer.search_template import Samples
from opto.trainer.suggest import KeywordSuggest, ReferenceSuggest, SimpleReferenceSuggest
from opto.trainer.summarizer import Summarizer, get_trajectory_of_one_rollout
from opto.trainer.train import (
    dataset_check,
    load_guide,
    load_logger,
    load_optimizer,
    load_trainer_class,
)
from opto.utils.trainer import Trainer as OldTrainer


def test_the_llm_judge_asks_whether_the_answer_is_correct_and_reads_the_marker():
    prompts = []

    def judge_model(*args, messages, **kwargs):
        prompts.append(messages)
        user = messages[-1]["content"]
        return "Correct [TERMINATE]" if "Student's answer: 4\n" in user else "Incorrect: 2+2 is 4"

    judge = LLMJudge(llm=DummyLLM(judge_model))
    assert judge("What is 2+2?", "4", "4") == (1, "Correct [TERMINATE]")
    score, feedback = judge("What is 2+2?", "5", "4")
    assert score == 0 and feedback == "Incorrect: 2+2 is 4"
    system, user = prompts[0][0]["content"], prompts[0][1]["content"]
    assert "teacher" in system
    assert "What is 2+2?" in user and "Correct answer: 4" in user
    assert "whether the student's answer is correct" in user
    assert "say Correct [TERMINATE]" in user and "say Incorrect" in user


def test_feedback_writers_that_return_text():
    simple = SimpleReferenceSuggest("ignored", anything=1)
    assert simple.get_feedback("q", "a", "b", score=1) == "Correct"
    assert simple.get_feedback("q", "a", "b", score=0) == "Incorrect"
    assert "'b'" in simple.get_feedback("q", "a", "b")

    teacher = ReferenceSuggest(llm=ScriptedLLM(["Use {braces} carefully."]))
    assert teacher.get_feedback("q", "a", "b", score=1) == "Correct [TERMINATE]"
    text = teacher.get_feedback("What?", "x", "y", score=0)
    assert text.endswith("Use {braces} carefully.") and "What?" in text
    with pytest.raises(ValueError, match="reference"):
        teacher.get_feedback("q", "a")

    keywords = KeywordSuggest(
        keyword_response={"Timeout": "Make it faster.", "KeyError": "Check keys."}
    )
    keywords.add_analyzer(lambda content, log: "Output is empty." if not content else "")
    assert keywords.match("KeyError: 'x' after Timeout") == "Make it faster.\nCheck keys."
    feedback = keywords.get_feedback("task", "", info="Timeout after 3 s")
    assert "Make it faster." in feedback and "Output is empty." in feedback
    with pytest.raises(ValueError):
        KeywordSuggest(json_file="x.json", keyword_response={})


def test_keyword_table_from_a_json_file(tmp_path):
    path = tmp_path / "advice.json"
    path.write_text(json.dumps({"NaN": "Guard against division by zero."}))
    assert KeywordSuggest(json_file=path).match("loss became NaN") == (
        "Guard against division by zero."
    )


def test_objective_helpers():
    config = ObjectiveConfig(scalarize_dict="score")
    assert score_dict_to_scalar({"score": 0.5, "cost": 3.0}, config) == 0.5
    with pytest.raises(ValueError, match="score"):
        score_dict_to_scalar({"accuracy": 1.0}, config)
    weighted = ObjectiveConfig(
        scalarize_dict="weighted", weights={"a": 2.0, "b": 1.0}, minimize=frozenset({"b"})
    )
    assert score_dict_to_scalar({"a": 1.0, "b": 0.5}, weighted) == 1.5
    assert score_dict_to_scalar({"a": 1.0, "b": 3.0}, ObjectiveConfig(scalarize_dict="mean")) == 2.0
    assert to_scalar_score(0.25, None) == 0.25
    assert to_scalar_score({"a": 1.0, "b": 0.0}, ObjectiveConfig()) == 0.5
    with pytest.raises(ValueError, match="ObjectiveConfig"):
        to_scalar_score({"a": 1.0}, None)
    assert apply_minimize(score_dict={"t": 2.0}, minimize={"t"}) == {"t": -2.0}
    assert weighted_scalarize(score_dict={"a": 1.0}, weights={}) == 1.0


def test_batches_are_always_full():
    data = {"inputs": [0, 1, 2, 3, 4], "infos": list("abcde")}
    loader = DataLoader(data, batch_size=2, randomize=False)
    assert [xs for xs, _ in loader] == [[0, 1], [2, 3], [4, 0]]
    assert loader.n_epochs == 1
    assert DataLoader(data, batch_size=7, randomize=False).sample()[0] == [0, 1, 2, 3, 4, 0, 1]
    shuffled = DataLoader(data, batch_size=5, seed=3)
    first, second = shuffled.sample()[0], shuffled.sample()[0]
    assert sorted(first) == sorted(second) == [0, 1, 2, 3, 4]
    assert DataLoader(data, batch_size=5, seed=3).sample()[0] == first  # the seed decides


def test_sampling_rollouts_in_sub_batches():
    agent = Greeter("Hello")
    loader = DataLoader(DATA, batch_size=5, randomize=False)
    sampler = Sampler(loader, GreetingGuide(), num_threads=2, subbatch_size=2)
    rollouts, batch = sampler.sample([agent])
    assert [len(b) for b in rollouts] == [2, 2, 1] and batch["inputs"] == DATA["inputs"][:5]
    assert rollouts[0].module is agent and rollouts[1].module is not agent
    assert rollouts[0].get_scores() == [1.0, 1.0]
    assert rollouts[2].get_batch() == {"inputs": ["Eve"], "infos": ["Hello Eve"]}
    assert rollouts[0].to_list()[0]["target"] == "Hello Ada"
    again, same = sampler.sample([agent], use_prev_batch=True)
    assert same is batch
    samples = Samples(rollouts, batch)
    samples.add_samples(Samples(again, same))
    assert len(samples) == 10 and samples.n_batchrollouts == 6 and samples.dataset is batch
    with pytest.raises(ValueError, match="same module"):
        BatchRollout([rollouts[0].rollouts[0], rollouts[1].rollouts[0]])
    assert isinstance(rollouts[0].rollouts[0], Rollout)


def test_summaries_of_a_memory():
    agent = Greeter("Hello")
    rollouts, _ = Sampler(DataLoader(DATA, batch_size=2, randomize=False), GreetingGuide()).sample(
        [agent]
    )
    records = rollouts[0].to_list()
    record = records[0]
    text = get_trajectory_of_one_rollout(record)
    assert "## Module Parameters" in text and "{'prefix0': 'Hello'}" in text
    assert "- **Score:** 1.0" in text

    class Candidate:
        update_dict = {agent.prefix: "Hello"}
        rollouts = records

    summarizer = Summarizer(
        llm=ScriptedLLM(["<reasoning>ok</reasoning><summary>Say Hello.</summary>", "no tags here"])
    )
    first, other = Candidate(), Candidate()
    assert summarizer.summarize([(1.0, first)]) == "Say Hello."
    assert summarizer.summarize([(1.0, first)]) == "No trajectories found for the memory."
    assert summarizer.summarize([(1.0, other)]) == "Say Hello."  # a reply without tags keeps it


def test_the_train_helpers_resolve_names_classes_and_objects():
    agent = Greeter()
    dataset_check(DATA)
    with pytest.raises(ValueError):
        dataset_check({"inputs": [1]})
    optimizer = load_optimizer("OptoPrime", agent, llm=DummyLLM(lambda *a, **k: "{}"))
    assert optimizer.parameters == agent.parameters()
    assert load_optimizer(optimizer, agent) is optimizer
    assert isinstance(load_guide(lambda response, reference: 1.0).metric("q", "a", "b"), float)
    assert type(load_logger("NullLogger")).__name__ == "NullLogger"
    trainer_class = load_trainer_class("PrioritySearch")
    assert trainer_class.__name__ == "PrioritySearch"
    built = trainer_class(agent, optimizer_for(agent))
    assert load_trainer_class(built) is trainer_class


def test_trace_opt_01_trainer_holder():
    holder = OldTrainer(metric=len, optimizer="opt")
    assert holder.metric is len and holder.optimizer == "opt"
