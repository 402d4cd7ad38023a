"""The helpers of ``opto.trainer.utils`` as Trace 0.2 programs call them."""

import threading

import numpy as np
import pytest
from trainer_compat_toys import Greeter, GreetingGuide

from opto.trace import model, node, stop_tracing
from opto.trace.graph import is_tracing
from opto.trainer.utils import (
    async_run,
    batch_run,
    batchify,
    create_module_from_update_dict,
    deepcopy_module,
    get_original_name,
    is_module_copy,
    is_node_copy,
    remap_update_dict,
    safe_mean,
    set_module_parameters,
)


def test_async_run_keeps_the_order_and_passes_arguments():
    def power(base, exponent=1):
        return base**exponent

    runs = [power] * 4
    args = [(2,), (3,), (4,), (5,)]
    kwargs = [{"exponent": 2}, {}, {"exponent": 3}, {}]
    assert async_run(runs, args, kwargs, max_workers=3) == [4, 3, 64, 5]
    assert async_run([lambda: "x", lambda: "y"]) == ["x", "y"]


def test_async_run_with_one_worker_runs_in_this_thread_in_order():
    seen = []

    def record(i):
        seen.append((i, threading.current_thread() is threading.main_thread()))
        return i

    assert async_run([record] * 3, [(0,), (1,), (2,)], max_workers=1) == [0, 1, 2]
    assert seen == [(0, True), (1, True), (2, True)]
    pooled = async_run([record] * 2, [(5,), (6,)], max_workers=1, allow_sequential_run=False)
    assert pooled == [5, 6] and seen[-1][1] is False


def test_async_run_raises_the_error_of_a_call_and_follows_the_callers_tracing_state():
    def fail(i):
        if i == 2:
            raise KeyError("two")
        return i

    with pytest.raises(KeyError, match="two"):
        async_run([fail] * 3, [(0,), (1,), (2,)], max_workers=2)
    with stop_tracing():
        states = async_run([is_tracing] * 3, max_workers=3)
    assert states == [False, False, False]
    assert async_run([is_tracing], max_workers=2) == [True]


def test_batch_run_broadcasts_what_is_not_a_list():
    @batch_run(max_workers=4, description="adding")
    def add(x, offset, label="n"):
        return f"{label}{x + offset}"

    assert add([1, 2, 3], 10) == ["n11", "n12", "n13"]
    assert add(x=np.array([1, 2]), offset=[5, 6], label="v") == ["v6", "v8"]
    with pytest.raises(ValueError, match="same length"):
        add([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="list"):
        add(1, 2)


def test_batch_run_gives_each_call_its_own_copy_of_the_agent_and_guide():
    @model
    class Remembering:
        def __init__(self):
            self.word = node("hi", trainable=True, name="word")
            self.last = None

        def forward(self, x):
            self.last = x
            return self.word

    agent = Remembering()
    guide = GreetingGuide()

    @batch_run(max_workers=2)
    def run(agent, x, guide):
        guide.calls = getattr(guide, "calls", 0) + 1
        output = agent(x)
        return agent.last, guide.calls, output.data, agent.word is output

    results = run(agent, ["a", "b", "c"], guide)
    assert [r[0] for r in results] == ["a", "b", "c"]
    assert [r[1] for r in results] == [1, 1, 1]  # every call had a fresh guide
    assert all(r[3] for r in results)  # but the parameters are the agent's own
    assert agent.last is None and not hasattr(guide, "calls")


def test_batchify_joins_outputs_into_one_traced_node():
    joined = batchify("first", node(2))
    assert joined.data == "ID [0]: first\nID [1]: 2\n"
    assert joined.name.startswith("batchify")


def test_safe_mean_skips_missing_scores():
    assert safe_mean([1, None, 3]) == 2.0
    assert safe_mean([]) is None and safe_mean([None], missing_value=0) == 0
    assert safe_mean([[1, 2], [3, 4]]) == 2.5
    assert safe_mean(np.array([0.5, 1.0])) == 0.75


def test_copies_of_a_model_and_updates_between_them():
    agent = Greeter("Hi")
    copy = deepcopy_module(agent)
    assert copy is not agent and copy.prefix is not agent.prefix
    assert copy.prefix.name == agent.prefix.name and is_module_copy(agent, copy)
    assert is_node_copy(agent.prefix, agent.prefix.detach())
    assert get_original_name(agent.prefix.detach()) == agent.prefix.py_name
    other = Greeter("Hi")
    assert not is_module_copy(agent, other)  # another model's parameter has another name

    update = {copy.prefix: "Hello"}
    assert remap_update_dict(agent, update) == {agent.prefix: "Hello"}
    assert remap_update_dict(agent, {other.prefix: "x"}) == {}
    fresh = create_module_from_update_dict(agent, update)
    assert fresh.prefix.data == "Hello" and agent.prefix.data == "Hi"
    set_module_parameters(agent, update)
    assert agent.prefix.data == "Hello"
