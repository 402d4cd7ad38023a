"""The loop's bookkeeping with a stand-in evaluator (no sandbox): generations, dedup, parse
failures, what each request contains in both modes, resuming, settings checks, usage."""

import json

import pytest

from opto.discovery import (
    Archive,
    ArchiveError,
    ArchiveView,
    ContractSpec,
    DiscoveryLoop,
    EnvironmentProblemError,
    LossObjective,
    Outcome,
    reference_loss_source,
)
from opto.discovery.context import transcript_messages
from opto.llm import ScriptedLLM, ScriptExhaustedError

OBJECTIVE = LossObjective(preset="base", betas=(1.0,), seeds=(0,), kl_budget=None)


class StandInEvaluator:
    """Scores code by its length; "INVALID" or "FAILED" in the code picks that outcome."""

    def __init__(self):
        self.calls = []

    def evaluate(self, code, name=None):
        self.calls.append(name)
        if "INVALID" in code:
            return Outcome("invalid", "contract", "Contract test failed: bad shape")
        if "FAILED" in code:
            return Outcome("failed", "contract", "Stopped during the contract test: CPU limit")
        value = (len(code) % 7) / 10
        fitness = {"mean": value, "sd": 0.0, "n": 1, "per_seed": [value], "beta_per_seed": [1.0]}
        row = {"reward": value, "kl": 0.1, "win_rate": 0.6, "train_accuracy": 0.7}
        return Outcome("valid", None, None, fitness, {"1": row}, {"notes": []}, 0.01)


def reply(name, body=None):
    """A JSON proposal; by default a different loss for every name."""
    body = body or f"return policy_chosen_logps * 0 + {sum(map(ord, name))}"
    code = (
        f"def {name}(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
        f"reference_rejected_logps, beta):\n    {body}\n"
    )
    return json.dumps({"thought": f"try {name}", "name": name, "code": code})


def make_loop(path, replies, **options):
    llm = ScriptedLLM(replies)
    options.setdefault("objective", OBJECTIVE)
    options.setdefault("baselines", ("dpo", "slic"))
    loop = DiscoveryLoop(llm, path, **options)
    loop.evaluator = StandInEvaluator()
    return loop, llm


def test_a_new_archive_is_written_with_its_settings_before_any_entry(tmp_path):
    path = tmp_path / "run.json"
    loop, _ = make_loop(path, [])
    stored = json.loads(path.read_text())
    assert stored["entries"] == []
    assert stored["settings"]["objective"] == OBJECTIVE.to_dict()
    assert stored["settings"]["baselines"] == ["dpo", "slic"]
    assert stored["settings"]["contract"] == ContractSpec().to_dict()
    assert OBJECTIVE.describe() in stored["system_prompt"]
    assert loop.archive.system_prompt == stored["system_prompt"]


def test_run_evaluates_baselines_then_one_entry_per_generation(tmp_path):
    loop, llm = make_loop(
        tmp_path / "run.json",
        [reply("a"), reply("b", "return INVALID"), reply("c", "return FAILED")],
    )
    archive = loop.run(3)
    assert [(e.id, e.generation, e.origin, e.name) for e in archive.entries] == [
        (1, 0, "seed", "dpo"),
        (2, 0, "seed", "slic"),
        (3, 1, "llm", "a"),
        (4, 2, "llm", "b"),
        (5, 3, "llm", "c"),
    ]
    assert [e.status for e in archive.entries] == ["valid"] * 3 + ["invalid", "failed"]
    assert archive.entries[0].code == reference_loss_source("dpo")
    assert archive.entries[0].thought.startswith("DPO (Rafailov et al., 2023)")
    assert archive.entries[3].feedback == (
        "Code not valid. Error:\nContract test failed: bad shape\nPlease generate the next one."
    )
    assert archive.entries[4].feedback.startswith("Evaluation failed. Error:\nStopped during")
    assert archive.entries[2].feedback.startswith("Fitness: ")
    assert llm.remaining == 0
    assert llm.requests[0]["max_tokens"] == 2048


def test_a_duplicate_is_fed_back_without_evaluation(tmp_path):
    same_as_dpo = json.dumps(
        {
            "thought": "classic",
            "name": "again",
            "code": "def again(pc, pr, rc, rr, beta):\n    return np.logaddexp(0.0, -beta * rho)\n",
        }
    )
    dpo_again = json.dumps(
        {
            "thought": "DPO",
            "name": "renamed",
            "code": reference_loss_source("dpo").replace("dpo", "x"),
        }
    )
    loop, _ = make_loop(tmp_path / "run.json", [same_as_dpo, dpo_again, same_as_dpo])
    archive = loop.run(3)
    statuses = [(e.name, e.status, e.duplicate_of) for e in archive.proposals]
    assert statuses == [
        ("again", "valid", None),
        ("renamed", "duplicate", 1),
        ("again", "duplicate", 3),
    ]
    assert loop.evaluator.calls == ["dpo", "slic", "again"]
    assert archive.proposals[1].feedback.startswith("This is the same loss as entry #1 ('dpo')")
    assert "That entry: fitness" in archive.proposals[1].feedback
    assert archive.proposals[1].fitness is None


def test_an_unreadable_reply_uses_its_generation_and_says_why(tmp_path):
    loop, _ = make_loop(tmp_path / "run.json", ["I am thinking about it.", reply("a")])
    archive = loop.run(2)
    unreadable = archive.proposals[0]
    assert (unreadable.status, unreadable.stage, unreadable.code_hash) == ("invalid", "parse", None)
    assert unreadable.reply == "I am thinking about it."
    assert unreadable.feedback.startswith(
        "Reply not understood. Error:\nThe reply contains no JSON"
    )
    assert archive.proposals[1].generation == 2


def test_transcript_requests_grow_with_every_reply_and_its_feedback(tmp_path):
    replies = [reply("a"), reply("b", "return INVALID"), reply("c")]
    loop, llm = make_loop(tmp_path / "run.json", replies)
    archive = loop.run(3)
    sizes = [len(request["messages"]) for request in llm.requests]
    assert sizes == [2, 4, 6]
    last = llm.requests[-1]["messages"]
    assert last[2] == {"role": "assistant", "content": replies[0]}
    assert last[3] == {"role": "user", "content": archive.proposals[0].feedback}
    assert last[5]["content"].startswith("Code not valid.")
    assert last[1]["content"].startswith("Here are the losses evaluated so far")


def test_archive_mode_sends_a_bounded_view_each_time(tmp_path):
    view = ArchiveView(top_k=2, recent=1, failures=1, max_chars=1500)
    replies = [
        reply(f"loss{i}", "return INVALID" if i % 2 else "return 0 * beta") for i in range(5)
    ]
    loop, llm = make_loop(tmp_path / "run.json", replies, mode="archive", view=view)
    loop.run(5)
    for request in llm.requests:
        assert [m["role"] for m in request["messages"]] == ["system", "user"]
        assert len(request["messages"][1]["content"]) <= 1500
    assert "## Recent failures" in llm.requests[-1]["messages"][1]["content"]
    assert loop.archive.settings["mode"] == "archive"


def test_resuming_continues_numbering_without_reevaluating_and_sends_the_same_transcript(tmp_path):
    path = tmp_path / "run.json"
    first, _ = make_loop(path, [reply("a"), reply("b")])
    first.run(2)
    expected_next_request = transcript_messages(first.archive)

    resumed = DiscoveryLoop.resume(path, ScriptedLLM([reply("c"), reply("d")]))
    resumed.evaluator = StandInEvaluator()
    archive = resumed.run(4)
    assert resumed.evaluator.calls == ["c", "d"]  # baselines and earlier entries kept
    assert [e.generation for e in archive.proposals] == [1, 2, 3, 4]
    assert [e.id for e in archive.entries] == [1, 2, 3, 4, 5, 6]
    assert resumed.llm.requests[0]["messages"] == expected_next_request
    assert resumed.objective == OBJECTIVE


def test_a_finished_run_makes_no_call(tmp_path):
    path = tmp_path / "run.json"
    make_loop(path, [reply("a")])[0].run(1)
    loop, llm = make_loop(path, [])
    loop.run(1)
    assert llm.requests == []


def test_an_llm_error_propagates_and_the_archive_keeps_what_was_done(tmp_path):
    path = tmp_path / "run.json"
    loop, _ = make_loop(path, [reply("a")])
    with pytest.raises(ScriptExhaustedError):
        loop.run(3)
    assert [e.name for e in DiscoveryLoop.resume(path, None).archive.proposals] == ["a"]


def test_usage_of_each_reply_is_recorded(tmp_path):
    body = {
        "choices": [{"message": {"role": "assistant", "content": reply("a")}}],
        "usage": {"prompt_tokens": 1234, "completion_tokens": 56},
    }
    loop, _ = make_loop(tmp_path / "run.json", [body])
    entry = loop.run(1).proposals[0]
    assert entry.usage["prompt_tokens"] == 1234
    assert entry.usage["completion_tokens"] == 56
    assert entry.usage["cost"] == 0.0
    assert entry.usage["model"] == "scripted"
    assert loop.archive.usage()["prompt_tokens"] == 1234


def test_on_entry_sees_every_entry(tmp_path):
    seen = []
    loop, _ = make_loop(tmp_path / "run.json", [reply("a")], on_entry=seen.append)
    loop.run(1)
    assert [entry.name for entry in seen] == ["dpo", "slic", "a"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"objective": LossObjective(preset="noisy")}, "was made with objective"),
        ({"contract": ContractSpec(betas=(1.0,))}, "was made with contract"),
        ({"baselines": ("dpo",)}, "was made with baselines"),
        ({"static_check": False}, "was made with static_check"),
    ],
)
def test_continuing_with_different_settings_is_refused(tmp_path, options, message):
    path = tmp_path / "run.json"
    make_loop(path, [])
    with pytest.raises(ArchiveError, match=message):
        DiscoveryLoop(ScriptedLLM([]), path, **options)


def test_bad_arguments(tmp_path):
    with pytest.raises(ArchiveError, match="no discovery archive"):
        DiscoveryLoop.resume(tmp_path / "missing.json", ScriptedLLM([]))
    with pytest.raises(ValueError, match="unknown baseline"):
        DiscoveryLoop(ScriptedLLM([]), tmp_path / "a.json", baselines=("dpo", "nope"))
    with pytest.raises(ValueError, match="unknown feedback mode"):
        DiscoveryLoop(ScriptedLLM([]), tmp_path / "b.json", mode="chat")
    loop, _ = make_loop(tmp_path / "c.json", [])
    with pytest.raises(ValueError, match="generations must be an int >= 0"):
        loop.run(-1)


def test_pathological_replies_become_entries_not_crashes(tmp_path):
    # Each is refused before anything runs, so the real evaluator needs no sandbox here.
    deep_sum = reply("deep", "return " + "+".join(["1"] * 6000))
    escaped = reply("escaped", "return '\ud800'")  # JSON escape: the code holds a surrogate
    raw = reply("raw", "return " + "-".join(["1"] * 6000)).replace("try raw", "try \ud800")
    nested = '{"a": ' * 8000 + "1" + "}" * 8000
    path = tmp_path / "run.json"
    loop = DiscoveryLoop(
        ScriptedLLM([deep_sum, escaped, raw, nested]), path, objective=OBJECTIVE, baselines=()
    )
    archive = loop.run(4)
    assert [(e.name, e.status, e.stage) for e in archive.proposals] == [
        ("deep", "invalid", "static"),
        ("escaped", "invalid", "static"),
        ("raw", "invalid", "static"),
        ("(unreadable reply)", "invalid", "parse"),
    ]
    deep, escaped_entry, raw_entry, unreadable = Archive.load(path).proposals
    assert "nested too deeply to be" in deep.feedback  # parsed (3.11) or checked (3.13)
    assert "the code cannot be parsed" in escaped_entry.feedback
    assert raw_entry.thought == "try ?" and "\ud800" not in raw_entry.reply
    # 3.11's json gives up on this depth, 3.13's reads it and finds no code: a reason either way.
    assert "nested too deeply" in unreadable.feedback or 'no "code" key' in unreadable.feedback
    for message in transcript_messages(loop.archive):
        message["content"].encode("utf-8")  # the next request can be sent


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda settings: settings.pop("objective"), "KeyError('objective')"),
        (lambda settings: settings["objective"].update(betas=[-1]), "betas must be positive"),
        (lambda settings: settings.update(contract="strict"), "TypeError"),
        (lambda settings: settings.update(baselines=None), "baselines is None"),
        (lambda settings: settings.update(baselines=["nope"]), "unknown baseline(s) ['nope']"),
        (lambda settings: settings.update(static_check="yes"), "static_check is 'yes'"),
    ],
)
def test_an_archive_with_damaged_settings_is_refused_with_a_typed_error(tmp_path, damage, message):
    path = tmp_path / "run.json"
    make_loop(path, [])
    stored = json.loads(path.read_text())
    damage(stored["settings"])
    path.write_text(json.dumps(stored))
    with pytest.raises(ArchiveError, match="has unusable settings") as caught:
        DiscoveryLoop(ScriptedLLM([]), path)
    assert message in str(caught.value)
    assert json.loads(path.read_text()) == stored  # nothing was written over it


class BrokenEnvironmentEvaluator(StandInEvaluator):
    """What a machine whose sandbox cannot import opto produces: every code fails alike."""

    def evaluate(self, code, name=None):
        self.calls.append(name)
        return Outcome("invalid", "contract", "The code raised: ModuleNotFoundError: opto")


def test_a_failing_baseline_stops_the_run_before_any_llm_call(tmp_path):
    path = tmp_path / "run.json"
    loop, llm = make_loop(path, [reply("a")])
    loop.evaluator = BrokenEnvironmentEvaluator()
    with pytest.raises(EnvironmentProblemError, match=r"dpo, slic.*ModuleNotFoundError"):
        loop.run(1)
    assert llm.remaining == 1  # no LLM call was spent on a broken machine
    assert Archive.load(path).generations == 0


def test_an_archive_made_in_a_broken_environment_is_not_resumed_silently(tmp_path):
    path = tmp_path / "run.json"
    loop, _ = make_loop(path, [])
    loop.evaluator = BrokenEnvironmentEvaluator()
    with pytest.raises(EnvironmentProblemError):
        loop.run(1)
    resumed, llm = make_loop(path, [reply("a")])  # now with a working evaluator
    with pytest.raises(EnvironmentProblemError, match="start a fresh archive"):
        resumed.run(1)
    assert llm.remaining == 1 and Archive.load(path).generations == 0
