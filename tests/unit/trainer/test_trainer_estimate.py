"""``train(..., dry_run=True)``: the projection of calls, tokens and cost, made without calling
any model, lands within 25% of what the run then spends (scripted runs, several algorithms)."""

from __future__ import annotations

import itertools
import json
import re

import pytest

import opto.llm as llm_pkg
from opto.llm import DummyLLM, ScriptedLLM
from opto.optimizers import OptoPrime
from opto.trace import bundle, model, node
from opto.trainer import SearchLoop, train
from opto.trainer.algorithms.options import resolve_options
from opto.trainer.algorithms.strategies import BestCandidates, Strategies
from opto.trainer.estimate import (
    Estimate,
    EstimateReady,
    estimating_scripts,
    simulate_schedule,
)

OPTIMIZER_PRICES = (2.5e-6, 1e-5)
AGENT_PRICES = (1.5e-7, 6e-7)
VARIABLE = re.compile(r"\((int|str)\) (\w+)=")
REASONING = (
    "The feedback says several answers are off: the offset is too small for most examples, "
    "so raising it should move the outputs towards the references. The instruction can stay "
    "as it is; it already asks for a short answer. I change the offset and keep the rest."
)


@model
class Adder:
    def __init__(self):
        self.offset = node(0, trainable=True, name="offset", description="added to x")

    def forward(self, x):
        return x + self.offset


@bundle()
def ask(llm_reply, x):
    """Reads the model's answer (the number after 'is')."""
    return int(re.search(r"is (-?\d+)", llm_reply).group(1)) if "is " in llm_reply else x


@model
class Asker:
    """A model that calls its own LLM once per example, with a trainable instruction."""

    def __init__(self, llm):
        self.llm = llm
        self.instruction = node("Add a little to the number.", trainable=True, name="instruction")
        self.offset = node(0, trainable=True, name="offset")

    def forward(self, x):
        prompt = f"{self.instruction.data} The number is {x}."
        reply = self.llm(messages=[{"role": "user", "content": prompt}], max_tokens=200)
        return ask(reply.choices[0].message.content, x) + self.offset


AGENT_REPLY_TOKENS = 40  # what a one-sentence answer like agent_reply's holds


def agent_reply(*args, messages, **kwargs):
    number = int(re.search(r"number is (-?\d+)", messages[-1]["content"]).group(1))
    return (
        f"Let me think about the number {number}. Adding a little gives a slightly larger "
        f"value, and the instruction wants it short, so the answer is {number + 1}."
    )


def closeness(response, reference):
    return 1.0 / (1.0 + abs(response - reference))


def optimizer_replies():
    counter = itertools.count(1)

    def reply(request):
        names = dict(
            (name, kind) for kind, name in VARIABLE.findall(request["messages"][-1]["content"])
        )
        k = next(counter)
        suggestion = {
            name: (k if kind == "int" else f"Add {k} to the number.")
            for name, kind in names.items()
        }
        return json.dumps({"reasoning": REASONING, "answer": "", "suggestion": suggestion})

    return [reply] * 500


DATA = {"inputs": list(range(10)), "infos": [x + 3 for x in range(10)]}
VALIDATE = {"inputs": [20, 21, 22, 23], "infos": [23, 24, 25, 26]}
TEST = {"inputs": [30, 31, 32], "infos": [33, 34, 35]}


def spent() -> dict:
    return llm_pkg.get_usage().total.to_dict()


def within(projected: float, actual: float, tolerance: float = 0.25) -> bool:
    return abs(projected - actual) <= tolerance * actual


CASES = {
    "minibatch": dict(algorithm="MinibatchAlgorithm", batch_size=3, num_epochs=2),
    "beam search": dict(
        algorithm="BeamsearchAlgorithm",
        batch_size=2,
        num_steps=3,
        beam_width=2,
        num_proposals=2,
        validate_dataset=VALIDATE,
        test_dataset=TEST,
        test_frequency=2,
    ),
    "best of n": dict(
        algorithm="BasicSearchAlgorithm",
        batch_size=2,
        num_steps=3,
        num_proposals=2,
        validate_dataset=VALIDATE,
    ),
    "ucb": dict(algorithm="UCBSearchAlgorithm", batch_size=2, num_steps=4, max_buffer_size=3),
}


def run_case(make_model, options, dry_run):
    agent = make_model()
    llm = ScriptedLLM(optimizer_replies(), prices=OPTIMIZER_PRICES)
    return train(
        model=agent,
        train_dataset=DATA,
        optimizer=OptoPrime(agent.parameters(), llm=llm),
        guide=closeness,
        logger="NullLogger",
        dry_run=dry_run,
        **options,
    )


def make_asker():
    return Asker(DummyLLM(agent_reply, prices=AGENT_PRICES))


@pytest.mark.parametrize("make_model", [Adder, make_asker], ids=["plain model", "model with LLM"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_projection_lands_within_25_percent_of_the_run(case, make_model):
    options = CASES[case]
    estimate = run_case(make_model, options, dry_run=True)
    assert isinstance(estimate, Estimate)
    if make_model is make_asker:  # the agent answers in a sentence: say so, as a user would
        estimate = estimate.assuming(reply_tokens=AGENT_REPLY_TOKENS)
    assert spent()["calls"] == 0  # the projection called nothing
    result = run_case(make_model, options, dry_run=False)
    actual = spent()
    assert estimate.steps == result.steps
    assert within(estimate.calls, actual["calls"]), (estimate.calls, actual["calls"])
    tokens = actual["prompt_tokens"] + actual["completion_tokens"]
    assert within(estimate.tokens, tokens), (estimate.tokens, tokens)
    assert within(estimate.cost, actual["cost"]), (estimate.cost, actual["cost"])
    if make_model is make_asker:
        assert estimate.parts["model"]["calls"] > 0


def test_a_dry_run_calls_no_model_writes_nothing_and_changes_nothing(tmp_path):
    agent = make_asker()
    optimizer = OptoPrime(agent.parameters(), llm=ScriptedLLM([]))  # any call would fail
    estimate = train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer,
        guide=closeness,
        logger="NullLogger",
        run_dir=tmp_path / "run",
        num_steps=2,
        dry_run=True,
    )
    assert estimate.calls == 2 + 2 and estimate.parts["optimizer"]["calls"] == 2
    assert spent()["calls"] == 0
    assert not (tmp_path / "run").exists()
    assert agent.offset.data == 0 and agent.instruction.data == "Add a little to the number."
    assert optimizer.log is not None and len(optimizer.log) == 0  # the step ran on a copy
    assert estimate.prompt_tokens_per_step > 200


def test_the_schedule_follows_the_loop_epochs_and_tests():
    options = resolve_options(
        SearchLoop(Adder(), OptoPrime(Adder().parameters())),
        {"batch_size": 3, "num_epochs": 2, "test_frequency": -2},
    )
    plan = Strategies(BestCandidates(1), keep="latest", pool_size=1)
    schedule = simulate_schedule(plan, options, DATA, validate_size=10, test_size=4, optimizers=1)
    assert schedule.steps == 7  # batches of 3 over 10 examples: 2 epochs end after 7 batches
    assert schedule.training == 21
    assert schedule.test == 4 * 4  # steps 2, 4, 6, and the final test; none before the start


def test_a_model_failing_on_placeholder_replies_is_a_clear_error():
    @model
    class Strict:
        def __init__(self):
            self.llm = DummyLLM(agent_reply)
            self.offset = node(0, trainable=True, name="offset")

        def forward(self, x):
            reply = self.llm(messages=[{"role": "user", "content": f"number is {x}"}])
            return int(reply.choices[0].message.content) + self.offset  # not traced: raises

    agent = Strict()
    with pytest.raises(RuntimeError, match="could not run the model on any example"):
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=OptoPrime(agent.parameters()),
            guide=closeness,
            logger="NullLogger",
            dry_run=True,
        )


def test_inside_estimating_scripts_train_stops_the_script_with_the_projection():
    agent = Adder()
    with estimating_scripts(), pytest.raises(EstimateReady) as ready:
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=OptoPrime(agent.parameters(), llm=ScriptedLLM([])),
            guide=closeness,
            logger="NullLogger",
            num_steps=4,
        )
    assert ready.value.estimate.steps == 4
    assert not isinstance(ready.value, Exception)  # a script's `except Exception` lets it by


def test_the_estimate_shows_itself():
    agent = Adder()
    estimate = train(
        model=agent,
        train_dataset=DATA,
        optimizer=OptoPrime(agent.parameters(), llm=ScriptedLLM([], prices=OPTIMIZER_PRICES)),
        guide=closeness,
        logger="NullLogger",
        num_steps=3,
        dry_run=True,
    )
    assert repr(estimate).startswith("Estimate(MinibatchAlgorithm: 3 steps, 3 calls, ")
    summary = estimate.summary()
    assert "(no model was called)" in summary and "optimizer prompt" in summary
    assert "part       calls  prompt tokens  completion tokens" in summary
    html = estimate._repr_html_()
    assert "<table" in html and "Estimate for MinibatchAlgorithm" in html


def test_without_a_configured_model_the_dry_run_says_what_is_missing(monkeypatch):
    for name in (
        "OPTO_LLM_MODEL",
        "TRACE_LITELLM_MODEL",
        "DEFAULT_LITELLM_MODEL",
        "OPENAI_API_KEY",
        "OPTO_LLM_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    agent = Adder()
    with pytest.raises(RuntimeError, match=r"OptoPrime could not make its call.*No LLM model"):
        train(
            model=agent,
            train_dataset=DATA,
            optimizer="OptoPrime",
            guide=closeness,
            logger="NullLogger",
            dry_run=True,
        )
