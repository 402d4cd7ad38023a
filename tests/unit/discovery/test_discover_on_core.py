"""discover(): DiscoPOP's loop on opto's core, with a stand-in for the sandboxed stages (no
sandbox here): the transcript the proposer reads, duplicates, unreadable replies, resuming a
run directory, the OptoPrime proposer, other tasks, reports and old archives."""

import json
from pathlib import Path

import pytest

from opto.discovery import (
    Archive,
    ArchiveError,
    LossEvaluator,
    LossObjective,
    Outcome,
    TranscriptOptimizer,
    best_code_of_archive,
    discover,
    reference_loss_source,
    report,
)
from opto.llm import ScriptedLLM
from opto.trace import node

OBJECTIVE = LossObjective(preset="base", betas=(1.0,), seeds=(0,), kl_budget=None)
OLD_ARCHIVE = Path(__file__).parent / "data" / "archive_written_by_discovery_loop.json"
SIGNATURE = "pc, pr, rc, rr, beta"


class StandInStages:
    """Scores code by its length; "INVALID" in the code makes it invalid."""

    def __init__(self):
        self.codes = []

    def evaluate(self, code, name=None):
        self.codes.append(code)
        if "INVALID" in code:
            return Outcome("invalid", "contract", "Contract test failed: bad shape")
        value = (len(code) % 97) / 100
        fitness = {"mean": value, "sd": 0.01, "n": 1, "per_seed": [value], "beta_per_seed": [1.0]}
        row = {"reward": value, "kl": 0.1, "win_rate": 0.6, "train_accuracy": 0.7}
        return Outcome("valid", None, None, fitness, {"1": row}, {"notes": []}, 0.01)


def loss(name, body="return rho"):
    code = f"def {name}({SIGNATURE}):\n    rho = pc - pr\n    {body}\n"
    return code


def reply(name, body="return rho", thought=None):
    return json.dumps({"thought": thought or f"try {name}", "name": name, "code": loss(name, body)})


def run(replies, run_dir=None, generations=None, **options):
    stages = StandInStages()
    llm = ScriptedLLM(replies)
    result = discover(
        llm,
        run_dir,
        generations=len(replies) if generations is None else generations,
        evaluator=LossEvaluator(OBJECTIVE, evaluator=stages),
        baselines=("dpo", "slic"),
        **options,
    )
    return result, llm, stages


def test_the_transcript_opens_with_the_baselines_and_answers_every_reply():
    result, llm, _ = run([reply("a", "return rho * 2"), reply("b", "return INVALID")])
    first, second = (request["messages"] for request in llm.requests)
    assert first[0]["role"] == "system" and "THE LOSS INTERFACE" in first[0]["content"]
    opening = first[1]["content"]
    assert opening.startswith("Here are the losses evaluated so far")
    assert "### dpo: Fitness:" in opening and "### slic: Fitness:" in opening
    assert len(first) == 2
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": reply("a", "return rho * 2")}
    answer = second[3]["content"]
    assert answer.startswith("Score: ") and "Fitness: " in answer
    assert answer.endswith("Please generate the next one.")
    assert result.candidates[0] == reference_loss_source("dpo")
    assert result.parents == [[None], [0], [1]]  # each proposal follows the newest
    assert llm.requests[0]["max_tokens"] == 2048


def test_an_invalid_proposal_is_answered_with_its_error():
    _, llm, _ = run([reply("b", "return INVALID"), reply("c")])
    answer = llm.requests[1]["messages"][-1]["content"]
    assert "Code not valid. Error:\nContract test failed: bad shape" in answer


def test_a_renamed_copy_is_not_evaluated_and_the_next_turn_says_so():
    copy = reply("a_copy", "return rho * 2").replace("rho", "margin")
    result, llm, stages = run([reply("a", "return rho * 2"), copy, reply("c")])
    assert len(result.candidates) == 3  # the seed, a and c
    answer = llm.requests[2]["messages"][-1]["content"]
    assert answer.startswith("This proposal was not kept: it is the same loss")
    assert not any(code.startswith("def a_copy") for code in stages.codes)


def test_an_unreadable_reply_proposes_nothing_and_the_next_turn_says_why():
    result, llm, _ = run(["I am still thinking.", reply("a")])
    assert len(result.candidates) == 2
    answer = llm.requests[1]["messages"][-1]["content"]
    assert answer.startswith("Reply not understood. Error:\nThe reply contains no JSON")
    assert llm.requests[1]["messages"][-2] == {
        "role": "assistant",
        "content": "I am still thinking.",
    }


def test_a_resumed_run_sends_the_messages_an_uninterrupted_one_sends(tmp_path):
    replies = [reply("a", "return rho * 2"), "nothing", reply("c", "return rho + 1"), reply("d")]
    expected, straight, _ = run(replies)
    run(replies[:2], run_dir=tmp_path)
    resumed, second, stages = run(replies[2:], run_dir=tmp_path, generations=4)
    assert second.requests == straight.requests[2:]
    assert resumed.candidates == expected.candidates
    assert resumed.parents == expected.parents
    assert not any(code == reference_loss_source("slic") for code in stages.codes)  # kept


def test_the_optoprime_proposer_improves_the_best_candidate():
    better = loss("dpo", "return rho * 3  # longer code scores higher here")
    llm = ScriptedLLM([json.dumps({"suggestion": {"candidate0": better}})])
    result = discover(
        llm,
        None,
        generations=1,
        evaluator=LossEvaluator(OBJECTIVE, evaluator=StandInStages()),
        proposer="optoprime",
    )
    assert result.candidates[1] == better
    prompt = llm.requests[0]["messages"][-1]["content"]
    assert "THE LOSS INTERFACE" in prompt  # DiscoPOP's prompt is the background


def test_any_task_with_the_evaluator_shape_runs_with_its_own_prompt_and_seed():
    def task(code):
        return float(code.count("+")), {"feedback": f"{code.count('+')} additions"}

    llm = ScriptedLLM([reply("f", "return rho + 1 + 2")])
    result = discover(
        llm,
        None,
        generations=1,
        evaluator=task,
        baselines=(),
        seed_code=loss("f"),
        prompt="Write a function with many additions.",
    )
    assert result.best_candidate == loss("f", "return rho + 1 + 2")
    assert llm.requests[0]["messages"][1]["content"].startswith("No loss has been evaluated")
    with pytest.raises(ValueError, match="give prompt"):
        discover(llm, None, generations=1, evaluator=task, seed_code="x")


def test_the_report_lists_each_candidate_with_parent_status_and_fitness():
    result, _, _ = run([reply("a", "return rho * 2"), reply("b", "return INVALID")])
    lines = report(result).splitlines()
    assert lines[1].split()[:4] == ["0", "-", "dpo", "valid"]
    assert lines[2].split()[:4] == ["1", "0", "a", "valid"]
    assert lines[3].split()[:5] == ["2", "1", "b", "invalid", "-"]
    assert lines[-1].startswith("best: #")


def test_an_archive_of_the_earlier_loop_still_loads_and_is_not_run_on():
    archive = Archive.load(OLD_ARCHIVE)
    assert [e.name for e in archive.entries][:3] == ["dpo", "slic", "smoothed"]
    assert archive.best() is not None and "valid" in archive.table()
    assert best_code_of_archive(OLD_ARCHIVE) == archive.best().code
    with pytest.raises(ArchiveError, match=r"Archive.load\(path\).*best_code_of_archive"):
        run([reply("a")], run_dir=OLD_ARCHIVE)


def test_a_transcript_state_that_is_damaged_is_refused():
    optimizer = TranscriptOptimizer(
        [node("x", trainable=True)], ScriptedLLM([]), system_prompt="s", opening="o"
    )
    for state in (
        {"turns": [{"role": "system", "content": "x"}]},
        {"turns": "no"},
        {"opening": 3},
        {"pending": 1},
        {"proposals": [1]},
    ):
        with pytest.raises(ValueError):
            optimizer.load_state_dict(state)
    assert optimizer.turns == [] and optimizer.opening == "o"


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="proposer"):
        discover(None, None, generations=1, proposer="chat")
    with pytest.raises(ValueError, match="unknown baseline"):
        discover(None, None, generations=1, baselines=("nope",))


class PerSeedStages(StandInStages):
    """Scores ``len(code) % 97 / 100 + seed``; remembers which seeds each code ran on."""

    def __init__(self, objective):
        super().__init__()
        self.objective = objective
        self.runs = []

    def evaluate(self, code, name=None):
        self.runs.append((code.split("(")[0], self.objective.seeds))
        outcome = super().evaluate(code, name)
        if outcome.status == "valid":
            value = outcome.fitness["mean"] + sum(self.objective.seeds)
            outcome.fitness = {**outcome.fitness, "mean": value}
        return outcome


def test_per_seed_scoring_keeps_a_fitness_per_seed_and_feeds_every_seed_back():
    objective = LossObjective(preset="base", betas=(1.0,), seeds=(0, 1, 2), kl_budget=None)
    stages = PerSeedStages(objective)
    llm = ScriptedLLM([reply("a", "return rho * 2"), reply("b", "return rho * 3")])
    result = discover(
        llm,
        None,
        generations=2,
        evaluator=LossEvaluator(objective, evaluator=stages),
        baselines=("dpo",),
        per_seed=True,
    )
    assert [sorted(s) for s in result.val_subscores] == [[0, 1, 2]] * 3
    first = result.val_subscores[1]
    assert first[1] - first[0] == pytest.approx(1.0) and first[2] - first[0] == pytest.approx(2.0)
    assert result.num_val_instances == 3
    assert report(result).splitlines()[2].endswith("± 1.0000")  # the sd over the seeds
    answer = llm.requests[1]["messages"][-1]["content"]
    assert answer.count("Fitness: ") == 3  # one block per seed
    # each code ran once per seed (the evaluation cache answers the parent's rerun)
    assert sorted(seeds for name, seeds in stages.runs if name == "def a") == [(0,), (1,), (2,)]


def test_a_cascade_over_seeds_stops_a_bad_loss_after_its_first_seed():
    from opto.trainer.algorithms import Cascade, Newest, Novelty, Stage, Strategies

    objective = LossObjective(preset="base", betas=(1.0,), seeds=(0, 1, 2), kl_budget=None)
    stages = PerSeedStages(objective)
    llm = ScriptedLLM([reply("bad", "return INVALID"), reply("good", "return rho * 2")])
    cascade = Cascade([Stage([0], min_score=0.0), Stage()])
    result = discover(
        llm,
        None,
        generations=2,
        evaluator=LossEvaluator(objective, evaluator=stages),
        baselines=("dpo",),
        per_seed=True,
        strategies=Strategies(Newest(), acceptance=Novelty(), evaluation=cascade),
    )
    assert [code.split("(")[0] for code in result.candidates] == ["def dpo", "def good"]
    assert [seeds for name, seeds in stages.runs if name == "def bad"] == [(0,)]
    assert cascade.dropped == 1
    answer = llm.requests[1]["messages"][-1]["content"]
    assert answer.startswith("This proposal was not kept") and "failed a first stage" in answer


def test_per_seed_needs_the_preference_task():
    with pytest.raises(ValueError, match="per_seed"):
        discover(
            None,
            None,
            generations=1,
            evaluator=lambda code: 0.0,
            seed_code="x",
            prompt="p",
            per_seed=True,
        )
