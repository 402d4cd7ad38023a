"""The two feedback modes: the growing transcript, and the budgeted archive view."""

import random

import pytest

from opto.discovery import Archive, ArchiveView
from opto.discovery.context import archive_messages, build_messages, transcript_messages
from opto.discovery.prompts import NEXT, seed_message


def add(archive, name, status="valid", fitness=None, origin="llm", **extra):
    data = {
        "generation": 0 if origin == "seed" else archive.generations + 1,
        "origin": origin,
        "name": name,
        "thought": f"the idea behind {name}",
        "code": f"def {name}(a, b, c, d, beta):\n    return a - b  # {name}\n",
        "code_hash": f"hash-{name}",
        "status": status,
        "reply": f'{{"name": "{name}"}}' if origin == "llm" else None,
        "feedback": f"feedback on {name}" if origin == "llm" else "",
    }
    if fitness is not None:
        data["fitness"] = {"mean": fitness, "sd": 0.01, "n": 3}
    data.update(extra)
    return archive.add(**data)


@pytest.fixture
def archive(tmp_path):
    archive = Archive(tmp_path / "a.json", {}, "SYSTEM PROMPT")
    add(archive, "dpo", fitness=0.30, origin="seed")
    add(archive, "slic", fitness=0.35, origin="seed")
    return archive


def test_the_seed_message_lists_each_seed_with_code_and_fitness(archive):
    text = seed_message(archive.seeds)
    assert "### dpo: fitness 0.3000 ± 0.0100 over 3 seeds" in text
    assert "def slic(a, b, c, d, beta)" in text
    assert text.endswith(NEXT)


def test_the_transcript_alternates_replies_and_feedback(archive):
    add(archive, "one", fitness=0.2)
    add(archive, "two", status="invalid", error="Code not valid")
    messages = transcript_messages(archive)
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[0]["content"] == "SYSTEM PROMPT"
    assert messages[1]["content"] == seed_message(archive.seeds)
    assert messages[2]["content"] == '{"name": "one"}'
    assert messages[5]["content"] == "feedback on two"


def test_the_transcript_is_the_same_after_reloading_the_file(archive):
    add(archive, "one", fitness=0.2)
    add(archive, "two", status="duplicate", duplicate_of=3)
    assert transcript_messages(Archive.load(archive.path)) == transcript_messages(archive)


def test_an_unreadable_empty_reply_is_an_empty_assistant_turn(archive):
    add(archive, "(unreadable reply)", status="invalid", reply=None, code="")
    assert transcript_messages(archive)[2] == {"role": "assistant", "content": ""}


def test_the_archive_view_shows_best_recent_and_failures_once_each(archive):
    add(archive, "good", fitness=0.5)
    add(archive, "broken", status="invalid", stage="static", error="SyntaxError at line 2")
    add(archive, "hostile", status="failed", stage="contract", error="CPU time limit")
    add(archive, "ok", fitness=0.1)
    text = ArchiveView(top_k=2, recent=2, failures=3).render(archive)
    best = text.index("## Best so far (top 2 by fitness)")
    recent = text.index("## Most recent proposals")
    failures = text.index("## Recent failures")
    assert best < text.index("#3 good") < text.index("#2 slic") < recent
    assert recent < text.index("#6 ok") < text.index("#5 hostile") < failures
    assert failures < text.index("#4 broken")
    for name in ("good", "slic", "ok", "hostile", "broken"):
        assert text.count(f" {name} (") == 1
    assert "#1 dpo" not in text  # not in the top 2, not recent, not a failure
    assert "Error: SyntaxError at line 2" in text
    assert "```python\ndef good(a, b, c, d, beta):" in text
    assert text.startswith(
        "The archive of losses tried so far has 6 entries (1 failed, 1 invalid, 4 valid)"
    )
    assert text.endswith("Do not repeat a loss that is already in the archive.")


def test_a_duplicate_is_shown_without_its_code(archive):
    add(archive, "again", status="duplicate", duplicate_of=1)
    text = ArchiveView().render(archive)
    assert "#3 again (generation 1): same code as #1" in text
    assert "def again" not in text


def test_entries_that_do_not_fit_are_shortened_then_left_out(archive):
    for index in range(30):
        code = f"def loss{index}(a, b, c, d, beta):\n" + "    x = 1\n" * 60
        add(archive, f"loss{index}", fitness=index / 100, code=code)
    view = ArchiveView(top_k=30, recent=0, failures=0, max_chars=3000)
    text = view.render(archive)
    assert len(text) <= 3000
    assert "### #32 loss29 (generation 30): fitness 0.2900" in text  # the best ones in full
    assert "def loss29(a, b, c, d, beta)" in text
    shown = text.count("\n### #")
    assert 0 < text.count("```python") < shown  # some are shown without their code
    omitted = int(text.split("(")[-1].split()[0])
    assert shown + omitted == 30  # the top 30 of the 32 entries
    assert "more entries are not shown, to keep this message short." in text


@pytest.mark.parametrize("seed", range(25))
def test_the_budget_holds_for_random_archives(tmp_path, seed):
    rng = random.Random(seed)
    archive = Archive(tmp_path / f"{seed}.json", {}, "S")
    for index in range(rng.randint(0, 40)):
        status = rng.choice(["valid", "valid", "invalid", "failed", "duplicate"])
        add(
            archive,
            f"loss_{index}_" + "n" * rng.randint(0, 70),
            status=status,
            fitness=rng.random() if status == "valid" else None,
            error="E" * rng.randint(1, 3000) if status in ("invalid", "failed") else None,
            thought="t" * rng.randint(0, 2000),
            code="c = 1\n" * rng.randint(1, 400),
            duplicate_of=1 if status == "duplicate" else None,
        )
    view = ArchiveView(
        top_k=rng.randint(0, 10),
        recent=rng.randint(0, 10),
        failures=rng.randint(0, 10),
        max_chars=rng.randint(1000, 8000),
    )
    assert len(view.render(archive)) <= view.max_chars


def test_archive_mode_sends_two_fresh_messages(archive):
    add(archive, "one", fitness=0.2)
    view = ArchiveView()
    messages = archive_messages(archive, view)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"] == view.render(archive)
    assert build_messages("archive", archive, view) == messages
    assert build_messages("transcript", archive, view) == transcript_messages(archive)


def test_unknown_mode_and_bad_view_settings_are_refused(archive):
    with pytest.raises(ValueError, match="unknown feedback mode 'chat'"):
        build_messages("chat", archive, ArchiveView())
    with pytest.raises(ValueError, match="max_chars must be at least 1000"):
        ArchiveView(max_chars=999)
    with pytest.raises(ValueError, match="top_k must be an int >= 0"):
        ArchiveView(top_k=-1)
