"""A committed real-model run (benchmarks/quality/recordings/) keeps the harness and the reply
parsers honest on replies nobody here wrote: opto's side replays to identical results, and
trace-opt's recorded exchanges replay through the suite's endpoint."""

import gzip
import json
from pathlib import Path

import openai
import pytest
from qbench.proxy import ReplayServer

from opto.llm import ReplayLLM
from opto.optimizers.parsing import parse_json_reply

QUALITY_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
RECORDINGS = sorted(path.parent for path in (QUALITY_DIR / "recordings").glob("*/manifest.json"))


def _entries(path: Path) -> list[dict]:
    return json.loads(gzip.decompress(path.read_bytes()))["entries"]


def _optimizer_replies(recording: Path, impl: str) -> list[str]:
    """Every optimizer reply of one implementation, in full (from the replay files)."""
    replies = []
    for path in sorted((recording / "replies").glob(f"*.{impl}.json.gz")):
        for entry in _entries(path):
            if "suggestion" in entry["request"]["messages"][0]["content"]:
                replies += [r["choices"][0]["message"]["content"] for r in entry["responses"]]
    return replies


def test_a_recording_is_committed_and_small():
    assert RECORDINGS
    for recording in RECORDINGS:
        size = sum(p.stat().st_size for p in recording.rglob("*") if p.is_file())
        assert size < 200_000, f"{recording.name} is {size} bytes"


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_opto_side_replays_to_the_recorded_results(recording, tmp_path, quality_run, capsys):
    status = quality_run.main(
        ["--replay", str(recording), "--impl", "opto", "--out", str(tmp_path / "replay")]
    )
    output = capsys.readouterr().out
    assert status == 0, output
    assert "the replay reproduces the recording" in output


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_trace_opt_exchanges_replay_through_the_endpoint(recording, tmp_path):
    files = sorted((recording / "replies").glob("*.trace-opt.json.gz"))
    assert files
    for packed in files:
        unpacked = tmp_path / packed.name.removesuffix(".gz")
        unpacked.write_bytes(gzip.decompress(packed.read_bytes()))
        with ReplayServer(ReplayLLM(unpacked)) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
            for entry in _entries(packed):
                for recorded in entry["responses"]:
                    reply = client.chat.completions.create(model="m", **entry["request"])
                    assert (
                        reply.choices[0].message.content
                        == (recorded["choices"][0]["message"]["content"])
                    )
                    assert reply.usage.completion_tokens == recorded["usage"]["completion_tokens"]


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_opto_reads_every_real_reply_that_trace_opt_could(recording):
    results = [json.loads(line) for line in (recording / "results.jsonl").open()]
    parsed_by_trace_opt = [
        r["optimizer"]["reply"]
        for r in results
        if r.get("impl") == "trace-opt"
        and r.get("kind") == "step"
        and "optimizer" in r
        and r["optimizer"]["parsed"]
    ]
    everything = _optimizer_replies(recording, "opto") + _optimizer_replies(recording, "trace-opt")
    assert everything
    for reply in everything:  # hostile input: never an exception
        parse_json_reply(reply)
    for excerpt in parsed_by_trace_opt:
        full = next(reply for reply in everything if reply.startswith(excerpt))
        assert parse_json_reply(full).suggestion, full
