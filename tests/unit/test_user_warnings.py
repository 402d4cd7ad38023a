"""Warnings name the user's line, however deep inside opto the problem was noticed."""

from __future__ import annotations

import os
import warnings

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrime
from opto.trace import model, node
from opto.trainer.algorithms.base import IgnoredOptionWarning
from opto.trainer.train import train
from opto.utils import user_warnings
from opto.utils.user_warnings import OPTO_DIRECTORY, warn_user


def test_a_direct_warning_from_opto_names_this_line():
    existing = node(1)
    with pytest.warns(UserWarning, match="the name 'other' is ignored") as caught:
        node(existing, name="other")
    assert caught[0].filename == __file__


def test_a_warning_raised_deep_inside_training_names_the_train_call():
    @model
    class Agent:
        def __init__(self):
            self.value = node(1, trainable=True)

        def forward(self, x):
            return self.value

    agent = Agent()
    built = OptoPrime(agent.parameters(), llm=ScriptedLLM([]))
    with pytest.warns(IgnoredOptionWarning) as caught:
        train(
            model=agent,
            optimizer=built,
            optimizer_kwargs={"memory_size": 3},
            train_dataset={"inputs": [1], "infos": [1]},
            guide=lambda x, y, info: (1.0, "ok"),
            logger_kwargs={"progress": False},
            num_steps=0,
        )
    ignored = [w for w in caught if issubclass(w.category, IgnoredOptionWarning)]
    assert ignored and all(w.filename == __file__ for w in ignored)


def test_the_category_is_kept_and_a_caller_outside_opto_is_named():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_user("careful", DeprecationWarning)
    assert caught[0].category is DeprecationWarning
    assert caught[0].filename == __file__


def test_the_frame_walk_used_before_python_3_12_skips_opto_frames(monkeypatch):
    monkeypatch.setattr(user_warnings, "sys", _OldPython())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        node(node(2), name="again")
    assert caught[0].filename == __file__
    assert OPTO_DIRECTORY.endswith(f"opto{os.sep}")


class _OldPython:
    """``sys`` as seen on Python 3.11, where ``warnings.warn`` has no ``skip_file_prefixes``."""

    version_info = (3, 11)
