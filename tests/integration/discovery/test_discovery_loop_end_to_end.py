"""The discovery loop end to end: scripted proposals of every kind, the real sandbox, the
archive file, and what the proposer is told after each one, in both feedback modes."""

import json

import pytest

from opto.discovery import Archive, ArchiveView, DiscoveryLoop
from opto.llm import ScriptedLLM


def proposal(name, code, thought="an idea"):
    return json.dumps({"thought": thought, "name": name, "code": code})


@pytest.fixture
def script(code, tmp_path):
    """(reply, expected name, status, stage) for each generation."""
    leak = tmp_path / "leak.npy"
    return [
        (
            proposal(
                "smoothed",
                code(
                    "smoothed",
                    "    x = beta * rho\n    return 0.9 * np.logaddexp(0.0, -x) + 0.1 * np.logaddexp(0.0, x)\n",
                ),
            ),
            "smoothed",
            "valid",
            None,
        ),
        (
            "Trying the classic again:\n```json\n"
            + proposal(
                "classic", code("classic", "    # DPO\n    return np.logaddexp(0.0, -beta * rho)\n")
            )
            + "\n```",
            "classic",
            "duplicate",
            None,
        ),
        (
            proposal("unclosed", code("unclosed", "    return (rho\n")),
            "unclosed",
            "invalid",
            "static",
        ),
        (
            proposal("log_margin", code("log_margin", "    return np.log(beta * rho)\n")),
            "log_margin",
            "invalid",
            "contract",
        ),
        (
            proposal("spin", code("spin", "    while True:\n        pass\n")),
            "spin",
            "failed",
            "contract",
        ),
        (
            proposal("leak", code("leak", f"    np.save({str(leak)!r}, rho)\n    return rho\n")),
            "leak",
            "failed",
            "contract",
        ),
        ("Let me think about ordinal regression first.", "(unreadable reply)", "invalid", "parse"),
        (
            proposal("hinge", code("hinge", "    return np.maximum(0.0, 0.5 - beta * rho)\n")),
            "hinge",
            "valid",
            None,
        ),
    ]


def run_loop(path, script, objective, policies, mode, **options):
    llm = ScriptedLLM([reply for reply, *_ in script])
    loop = DiscoveryLoop(
        llm, path, objective=objective, baselines=("dpo",), mode=mode, **policies, **options
    )
    return loop.run(len(script)), llm


def test_transcript_mode_end_to_end(tmp_path, script, objective, policies):
    path = tmp_path / "archive.json"
    archive, llm = run_loop(path, script, objective, policies, "transcript")

    on_disk = Archive.load(path)
    assert [e.to_dict() for e in on_disk.entries] == [e.to_dict() for e in archive.entries]
    seed, *proposals = on_disk.entries
    assert (seed.name, seed.origin, seed.status) == ("dpo", "seed", "valid")
    outcomes = [(e.name, e.status, e.stage) for e in proposals]
    assert outcomes == [(name, status, stage) for _, name, status, stage in script]
    assert [e.generation for e in proposals] == list(range(1, len(script) + 1))
    assert not (tmp_path / "leak.npy").exists()

    smoothed, duplicate, *_, hinge = proposals
    for valid in (seed, smoothed, hinge):
        assert valid.fitness["n"] == 2 and valid.error is None
        assert valid.feedback.startswith("Fitness: ") or valid.origin == "seed"
    assert duplicate.duplicate_of == seed.id and duplicate.fitness is None
    for entry in proposals:
        if entry.status in ("invalid", "failed"):
            assert entry.error and entry.fitness is None
            assert entry.error.splitlines()[0] in entry.feedback
        assert entry.reply is not None and entry.usage["model"] == "scripted"

    # What the proposer read: the whole history, each reply followed by its feedback.
    last = llm.requests[-1]["messages"]
    assert len(last) == 2 + 2 * (len(script) - 1)
    for index, entry in enumerate(proposals[:-1]):
        assert last[2 + 2 * index] == {"role": "assistant", "content": entry.reply}
        assert last[3 + 2 * index] == {"role": "user", "content": entry.feedback}
    feedback = [m["content"] for m in last[3::2]]
    assert feedback[1].startswith("This is the same loss as entry #1 ('dpo')")
    assert feedback[3].startswith("Code not valid. Error:\nContract test failed")
    assert feedback[4].startswith("Evaluation failed. Error:\nStopped during the contract test")
    assert "forbidden operation" in feedback[5]
    assert feedback[6].startswith("Reply not understood.")


def test_archive_mode_end_to_end(tmp_path, script, objective, policies):
    view = ArchiveView(top_k=2, recent=2, failures=2, max_chars=2500)
    archive, llm = run_loop(
        tmp_path / "a.json", script[:6], objective, policies, "archive", view=view
    )
    assert [e.status for e in archive.proposals] == [s for _, _, s, _ in script[:6]]
    for request in llm.requests:
        assert len(request["messages"]) == 2
        assert len(request["messages"][1]["content"]) <= 2500
    final_view = llm.requests[-1]["messages"][1]["content"]  # before the 6th proposal
    assert "## Best so far (top 2 by fitness)" in final_view
    assert "#2 smoothed (generation 1)" in final_view
    recent = final_view.index("## Most recent proposals")
    failures = final_view.index("## Recent failures")
    assert recent < final_view.index("#6 spin") < final_view.index("#5 log_margin") < failures
    assert failures < final_view.index("#4 unclosed")  # the latest failure not shown above
    assert "invalid: SyntaxError at line 3" in final_view[failures:]
