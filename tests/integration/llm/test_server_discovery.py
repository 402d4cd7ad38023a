"""The discovery loop with a real LLM client against the loopback chat-completions server: what
the server receives each generation, the tokens and cost recorded per archive entry, a provider
failure mid-run, and the example command configured for a real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from opto.discovery import Archive, DiscoveryLoop, LossObjective, PreferenceConfig
from opto.llm import LLM, RetryPolicy, ServerError
from opto.runtime import SubprocessPolicy

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "discopop_discovery.py"
TINY = LossObjective(
    preset=PreferenceConfig(n_prompts=20, n_responses=4, n_pairs=120, epochs=1, batch_size=32),
    betas=(0.5, 2.0),
    seeds=(0, 1),
    kl_budget=0.3,
)
POLICIES = {
    "contract_policy": SubprocessPolicy(wall_time=15, cpu_time=2, memory="1GiB", echo_output=False),
    "training_policy": SubprocessPolicy(
        wall_time=60, cpu_time=30, memory="1GiB", echo_output=False
    ),
}
PRICES = (1e-6, 4e-6)  # dollars per prompt token, per completion token
SIGNATURE = (
    "policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
    "reference_rejected_logps, beta"
)


def proposal(name: str, body: str) -> str:
    rho = (
        "    rho = (policy_chosen_logps - reference_chosen_logps) - "
        "(policy_rejected_logps - reference_rejected_logps)\n"
    )
    code = f"def {name}({SIGNATURE}):\n{rho}{body}"
    return json.dumps({"thought": f"try {name}", "name": name, "code": code})


SMOOTHED = proposal(
    "smoothed",
    "    x = beta * rho\n    return 0.9 * np.logaddexp(0.0, -x) + 0.1 * np.logaddexp(0.0, x)\n",
)
SCALAR = proposal("scalar", "    return np.mean(np.logaddexp(0.0, -beta * rho))\n")
HINGE = proposal("hinge", "    return np.maximum(0.0, 0.5 - beta * rho)\n")


def client(server, **options) -> LLM:
    options.setdefault("retry", RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02))
    return LLM(
        "local", backend="openai", base_url=server.url, api_key="test-key", prices=PRICES, **options
    )


def test_each_entry_records_the_tokens_and_cost_of_its_call(chat_server, tmp_path):
    chat_server.push(
        chat_server.reply(SMOOTHED, usage=(1200, 80)),
        chat_server.reply(SCALAR, usage=(1900, 60)),
    )
    path = tmp_path / "run.json"
    loop = DiscoveryLoop(client(chat_server), path, objective=TINY, baselines=("dpo",), **POLICIES)
    loop.run(2)

    archive = Archive.load(path)
    seed, smoothed, scalar = archive.entries
    assert seed.usage == {}  # baselines cost no call
    assert (smoothed.status, scalar.status, scalar.stage) == ("valid", "invalid", "contract")
    for entry, (prompt, completion) in ((smoothed, (1200, 80)), (scalar, (1900, 60))):
        assert entry.usage["model"] == "local"
        assert (entry.usage["prompt_tokens"], entry.usage["completion_tokens"]) == (
            prompt,
            completion,
        )
        assert entry.usage["cost"] == pytest.approx(prompt * PRICES[0] + completion * PRICES[1])
        assert entry.usage["cache_hit"] is False and entry.usage["estimated"] is False
    assert archive.usage() == {
        "calls": 2,
        "prompt_tokens": 3100,
        "completion_tokens": 140,
        "cost": pytest.approx(3100 * PRICES[0] + 140 * PRICES[1]),
        "estimated": False,
    }

    first, second = chat_server.bodies
    assert first["model"] == "local" and first["max_tokens"] == 2048
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {"role": "assistant", "content": SMOOTHED}
    assert second["messages"][3]["content"] == smoothed.feedback
    assert smoothed.feedback.startswith("Fitness: ")


def test_a_provider_failure_stops_the_run_and_a_resumed_run_continues(chat_server, tmp_path):
    path = tmp_path / "run.json"
    chat_server.push(
        chat_server.reply(SMOOTHED, usage=(1000, 50)),
        chat_server.status(503, "overloaded"),
        chat_server.status(503, "overloaded"),
    )
    loop = DiscoveryLoop(client(chat_server), path, objective=TINY, baselines=("dpo",), **POLICIES)
    with pytest.raises(ServerError):
        loop.run(2)
    assert [entry.name for entry in Archive.load(path).proposals] == ["smoothed"]

    chat_server.push(chat_server.reply(HINGE, usage=(1500, 40)))
    resumed = DiscoveryLoop.resume(path, client(chat_server), **POLICIES)
    archive = resumed.run(2)
    assert [(e.name, e.generation, e.status) for e in archive.proposals] == [
        ("smoothed", 1, "valid"),
        ("hinge", 2, "valid"),
    ]
    assert archive.usage()["prompt_tokens"] == 2500
    # The failed attempts and the resumed call sent the same transcript.
    assert chat_server.bodies[1]["messages"] == chat_server.bodies[3]["messages"]


def test_the_example_runs_a_real_discovery_when_a_model_is_configured(chat_server, tmp_path):
    chat_server.push(
        chat_server.reply(HINGE, usage=(2100, 90)),
        chat_server.reply("Let me think about it first.", usage=(2600, 12)),
    )
    archive_path = tmp_path / "archive.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPTO_", "TRACE_")) and key != "OPENAI_API_KEY"
    }
    env.update(
        OPTO_LLM_BASE_URL=chat_server.url,
        OPTO_LLM_MODEL="local",
        OPTO_LLM_API_KEY="test-key",
        OPTO_CACHE_DIR=str(tmp_path / "cache"),
    )
    command = [sys.executable, str(EXAMPLE), "--quick", "--generations", "2"]
    finished = subprocess.run(
        [*command, "--archive", str(archive_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "using the configured model (real calls)" in finished.stdout
    assert "The proposals were SCRIPTED" not in finished.stdout
    assert "LLM usage: 2 calls, 4700 prompt + 102 completion tokens, cost unknown" in (
        finished.stdout
    )
    archive = Archive.load(archive_path)
    assert [(e.name, e.status) for e in archive.proposals] == [
        ("hinge", "valid"),
        ("(unreadable reply)", "invalid"),
    ]
    assert archive.proposals[0].usage["prompt_tokens"] == 2100
    assert archive.proposals[1].usage["cost"] is None  # "local" has no known price
    assert len(chat_server.bodies) == 2
    assert chat_server.bodies[0]["messages"][0]["content"] == archive.system_prompt
