"""Discovery with a real LLM client against the loopback chat-completions server: what the
server receives each proposal, the tokens and cost recorded per proposal, a provider failure
mid-run, and the example command configured for a real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from opto.discovery import (
    LossEvaluator,
    LossObjective,
    PreferenceConfig,
    ProposalEvaluator,
    discover,
)
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


def checkpoint(run_dir: Path) -> dict:
    return json.loads((run_dir / "checkpoint.json").read_text())


def run(server, run_dir: Path, generations: int):
    task = LossEvaluator(TINY, evaluator=ProposalEvaluator(TINY, **POLICIES))
    return discover(
        client(server), run_dir, generations=generations, evaluator=task, baselines=("dpo",)
    )


def test_each_proposal_records_the_tokens_and_cost_of_its_call(chat_server, tmp_path):
    chat_server.push(
        chat_server.reply(SMOOTHED, usage=(1200, 80)),
        chat_server.reply(SCALAR, usage=(1900, 60)),
    )
    result = run(chat_server, tmp_path / "run", 2)
    assert [s["valid"] for s in result.val_aggregate_subscores] == [1.0, 1.0, 0.0]
    records = checkpoint(tmp_path / "run")["optimizers"][0]["proposals"]
    for record, (prompt, completion) in zip(records, ((1200, 80), (1900, 60)), strict=True):
        assert (record["prompt_tokens"], record["completion_tokens"]) == (prompt, completion)
        assert record["cost"] == pytest.approx(prompt * PRICES[0] + completion * PRICES[1])
    assert result.usage["calls"] == 2
    assert result.usage["prompt_tokens"] == 3100 and result.usage["completion_tokens"] == 140
    assert result.usage["cost"] == pytest.approx(3100 * PRICES[0] + 140 * PRICES[1])

    first, second = chat_server.bodies
    assert first["model"] == "local" and first["max_tokens"] == 2048
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {"role": "assistant", "content": SMOOTHED}
    assert "Fitness: " in second["messages"][3]["content"]


def test_a_provider_failure_stops_the_run_and_a_resumed_run_continues(chat_server, tmp_path):
    run_dir = tmp_path / "run"
    chat_server.push(
        chat_server.reply(SMOOTHED, usage=(1000, 50)),
        chat_server.status(503, "overloaded"),
        chat_server.status(503, "overloaded"),
    )
    with pytest.raises(ServerError):
        run(chat_server, run_dir, 2)
    assert checkpoint(run_dir)["step"] == 1

    chat_server.push(chat_server.reply(HINGE, usage=(1500, 40)))
    result = run(chat_server, run_dir, 2)
    assert [code.split("(")[0] for code in result.candidates] == [
        "def dpo",
        "def smoothed",
        "def hinge",
    ]
    assert result.usage["prompt_tokens"] == 2500
    # The failed attempts and the resumed call sent the same transcript.
    assert chat_server.bodies[1]["messages"] == chat_server.bodies[3]["messages"]


def test_the_example_runs_a_real_discovery_when_a_model_is_configured(chat_server, tmp_path):
    chat_server.push(
        chat_server.reply(HINGE, usage=(2100, 90)),
        chat_server.reply("Let me think about it first.", usage=(2600, 12)),
    )
    run_dir = tmp_path / "run"
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
        [*command, "--run-dir", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "using the configured model (real calls)" in finished.stdout
    assert "The proposals were SCRIPTED" not in finished.stdout
    assert "LLM usage: 2 calls, 4802 tokens" in finished.stdout
    records = checkpoint(run_dir)["optimizers"][0]["proposals"]
    assert [r["name"] for r in records] == ["hinge", None]
    assert records[0]["prompt_tokens"] == 2100
    assert records[1]["cost"] is None  # "local" has no known price
    assert len(chat_server.bodies) == 2
