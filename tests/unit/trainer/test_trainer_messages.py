"""What train() tells the user: the default LLM judge needs a model (and how to pass a metric
instead), the console counts epochs from 1 against their total, and `log_level=` shows opto's
log lines for the run only."""

from __future__ import annotations

import io
import logging
import os

import pytest
from rich.console import Console
from trainer_toys import DATA, Adder, guided_reply, make_guide, optimizer_for

from opto.llm import LLMNotConfiguredError, ScriptedLLM
from opto.optimizers import OptoPrime
from opto.trainer import train
from opto.trainer.guide import LLMJudge
from opto.trainer.loggers import ConsoleLogger
from opto.utils.logging_setup import opto_logger

SMALL = {"inputs": [1, 2, 3], "infos": [6, 7, 8]}


@pytest.fixture
def no_llm_configured(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("OPTO_", "TRACE_")) or name in (
            "DEFAULT_LITELLM_MODEL",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
        ):
            monkeypatch.delenv(name, raising=False)


def console_lines(**options) -> list[str]:
    stream = io.StringIO()
    agent = Adder(0)
    train(
        model=agent,
        optimizer=optimizer_for(agent, guided_reply),
        guide=make_guide(),
        logger=ConsoleLogger(console=Console(file=stream, width=200), progress=False),
        **options,
    )
    return [line for line in stream.getvalue().splitlines() if line.startswith("step")]


def test_without_a_guide_or_a_model_train_says_how_to_pass_a_metric(no_llm_configured):
    agent = Adder(0)
    llm = ScriptedLLM([])
    with pytest.raises(LLMNotConfiguredError) as raised:
        train(model=agent, train_dataset=SMALL, optimizer=OptoPrime(agent.parameters(), llm=llm))
    message = str(raised.value)
    assert message.startswith("LLMJudge (the guide train() uses when no guide= is given)")
    assert "guide=lambda question, answer, info: float(answer == info)" in message
    assert "guide_kwargs={'model': 'gpt-4o-mini'}" in message
    assert "OPTO_LLM_MODEL=" in message  # how to configure a model for every client
    assert llm.requests == []  # said before anything ran


def test_the_metric_the_message_suggests_works(no_llm_configured):
    agent = Adder(0)
    result = train(
        model=agent,
        train_dataset=SMALL,
        optimizer=optimizer_for(agent, guided_reply),
        guide=lambda question, answer, info: float(answer == info),
        logger="NullLogger",
        num_steps=1,
    )
    assert result.steps == 1


def test_a_judge_used_directly_says_the_same(no_llm_configured):
    with pytest.raises(LLMNotConfiguredError, match="Score with a metric instead"):
        LLMJudge()("What is 1 + 1?", "2", "2")


def test_a_judge_with_a_model_or_a_client_is_not_stopped(no_llm_configured, monkeypatch):
    LLMJudge(model="gpt-4o-mini").require_model()
    LLMJudge(llm=ScriptedLLM([])).require_model()
    monkeypatch.setenv("OPTO_LLM_MODEL", "some-model")
    LLMJudge().require_model()


def test_the_console_counts_epochs_from_one_against_their_total():
    # 8 examples in batches of 3: steps 1-2 are in epoch 1, step 3 starts in epoch 1 and
    # completes it, steps 4-6 are in epoch 2.
    lines = console_lines(train_dataset=DATA, batch_size=3, num_epochs=2)
    epochs = [line.split(" | ")[1] for line in lines]
    assert epochs == ["epoch 1/2"] * 3 + ["epoch 2/2"] * 3


def test_with_a_step_budget_the_epoch_has_no_total():
    lines = console_lines(train_dataset=DATA, batch_size=4, num_steps=3)
    assert [line.split(" | ")[1] for line in lines] == ["epoch 1", "epoch 1", "epoch 2"]


def test_log_level_shows_opto_log_lines_during_the_run_only(caplog):
    agent = Adder(0)
    optimizer = OptoPrime(agent.parameters(), llm=ScriptedLLM(['{"suggestion": {"nope": 1}}']))
    level = opto_logger().level
    train(
        model=agent,
        train_dataset=SMALL,
        optimizer=optimizer,
        guide=make_guide(),
        logger="NullLogger",
        num_steps=1,
        log_level="INFO",
    )
    refusals = [r for r in caplog.records if r.name == "opto.optimizers.step_report"]
    assert refusals and "not variables, ignored: nope" in refusals[0].getMessage()
    assert opto_logger().level == level
    caplog.clear()
    logging.getLogger("opto.optimizers.step_report").info("after the run")
    assert not caplog.records
