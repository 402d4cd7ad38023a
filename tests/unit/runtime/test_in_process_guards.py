"""Guards of in-process code: a runaway call becomes an error for the optimizer.

Limits in these tests are generous and the assertions are on outcomes (what was raised, how
far the code got), never on how long anything took: the machine may be busy.
"""

import asyncio
import threading
import traceback

import pytest

from opto import trace
from opto.runtime import (
    InProcessPolicy,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    feedback_text,
    get_default_policy,
    use_policy,
)
from opto.runtime.guards import DEFAULT_MEMORY_GROWTH, DEFAULT_TIMEOUT, resident_bytes

MIB = 1 << 20
# Appends 64 KiB at a time, forever; ``state`` shows how far it got.
RUNAWAY_ALLOCATION = (
    "import time\n"
    "def grow(state):\n"
    "    chunks = []\n"
    "    while True:\n"
    "        chunks.append(bytes(65536))\n"
    "        state['bytes'] = 65536 * len(chunks)\n"
    "        time.sleep(0.0002)\n"
)
SPIN = "def spin(state):\n    while True:\n        state['steps'] = state.get('steps', 0) + 1\n"


def test_the_default_policy_is_guarded_with_limits_for_real_use():
    policy = get_default_policy()
    assert isinstance(policy, InProcessPolicy) and policy.guarded
    assert (policy.timeout, policy.memory_growth) == (DEFAULT_TIMEOUT, DEFAULT_MEMORY_GROWTH)
    assert (DEFAULT_TIMEOUT, DEFAULT_MEMORY_GROWTH) == (60.0, 2 << 30)
    assert InProcessPolicy(memory_growth="512MiB").memory_growth == 512 * MIB


def test_an_infinite_loop_is_stopped_and_says_where():
    state: dict = {}
    spin = InProcessPolicy(timeout=1.0).load(SPIN, "spin")
    with pytest.raises(TimeLimitExceeded) as caught:
        spin(state)
    line = caught.value.line  # the loop's test or its body, wherever the interrupt landed
    assert caught.value.limit == 1.0 and line in (2, 3)
    assert f"stopped at line {line}" in feedback_text(caught.value)
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert (frames[-1].name, frames[-1].lineno) == ("spin", line)  # the code's frames are kept
    before = state["steps"]
    assert sum(range(100_000)) and state["steps"] == before  # it no longer runs


def test_top_level_statements_of_the_code_are_guarded_too():
    code = "import time\nwhile True:\n    time.sleep(0.01)\ndef f():\n    return 1\n"
    with pytest.raises(TimeLimitExceeded) as caught:
        InProcessPolicy(timeout=1.0).load(code, "f")
    assert caught.value.line in (2, 3)


def test_a_loop_that_catches_exception_is_stopped_too():
    code = (
        "def f(state):\n    while True:\n        try:\n            state['n'] = 1 / 0\n"
        "        except Exception:\n            state['caught'] = state.get('caught', 0) + 1\n"
    )
    with pytest.raises(TimeLimitExceeded):
        InProcessPolicy(timeout=1.0).load(code, "f")({})


@pytest.mark.skipif(resident_bytes() is None, reason="no way to measure memory here")
def test_a_runaway_allocation_is_stopped_near_its_limit():
    state: dict = {}
    grow = InProcessPolicy(timeout=None, memory_growth="100MiB").load(RUNAWAY_ALLOCATION, "grow")
    with pytest.raises(MemoryLimitExceeded) as caught:
        grow(state)
    assert caught.value.limit == 100 * MIB and caught.value.line in (5, 6, 7)
    assert "grow during one call" in str(caught.value)
    assert 50 * MIB < state["bytes"] < 600 * MIB  # stopped, and not far past the limit


@pytest.mark.skipif(resident_bytes() is None, reason="no way to measure memory here")
def test_trainable_code_under_the_default_policy_turns_runaways_into_feedback():
    @trace.bundle(trainable=True)
    def strange_sort_list(lst):
        """Sort in strange order."""
        return sorted(lst)

    loops = "def strange_sort_list(lst):\n    result = []\n    while lst:\n        result.append(min(lst))\n    return result\n"
    guarded = InProcessPolicy(timeout=3.0, memory_growth="200MiB")
    with use_policy(guarded):  # the default policy's guards, with limits a test can wait for
        assert strange_sort_list([3, 1]).data == [1, 3]
        strange_sort_list.parameter.set_data(loops)  # what an optimizer does
        with pytest.raises(trace.ExecutionError) as caught:
            strange_sort_list([3, 1, 2])
    node = caught.value.exception_node
    assert isinstance(caught.value.exception, MemoryLimitExceeded | TimeLimitExceeded)
    assert "<---" in node.info["error_comment"]  # the line is marked for the optimizer
    assert "result.append(min(lst))" in node.info["error_comment"]


def test_the_original_function_is_guarded_without_being_recompiled():
    @trace.bundle(trainable=True)
    def spin(state):
        """Loops forever."""
        while True:
            state["steps"] = state.get("steps", 0) + 1

    state: dict = {}
    with use_policy(InProcessPolicy(timeout=1.0)), pytest.raises(trace.ExecutionError) as caught:
        spin(state)
    assert isinstance(caught.value.exception, TimeLimitExceeded)
    assert spin.fun.__wrapped__ is spin.fn
    with use_policy(InProcessPolicy(timeout=None, memory_growth=None)):
        assert spin.fun is spin.fn  # no guard: the function itself, as in Trace


def test_a_tighter_inner_limit_stops_the_inner_call_only():
    inner = InProcessPolicy(timeout=1.0).load(SPIN, "spin")
    outer_code = (
        "def outer(state):\n    try:\n        inner(state)\n    except TimeLimitExceeded:\n"
        "        state['inner stopped'] = True\n    return 'outer finished'\n"
    )
    outer = InProcessPolicy(timeout=60.0).load(
        outer_code, "outer", {"inner": inner, "TimeLimitExceeded": TimeLimitExceeded}
    )
    state: dict = {}
    assert outer(state) == "outer finished" and state["inner stopped"]


def test_an_outer_limit_stops_an_inner_call_with_a_looser_limit():
    inner = InProcessPolicy(timeout=600.0).load(SPIN, "spin")
    outer = InProcessPolicy(timeout=1.0).load(
        "def outer(state):\n    return inner(state)\n", "outer", {"inner": inner}
    )
    with pytest.raises(TimeLimitExceeded) as caught:
        outer({})
    assert caught.value.limit == 1.0


def test_other_threads_are_not_disturbed():
    spin = InProcessPolicy(timeout=1.0).load(SPIN, "spin")
    count = InProcessPolicy(timeout=60.0).load(
        "def count(n):\n    return sum(i % 7 for i in range(n))\n", "count"
    )
    outcomes: dict = {}

    def runaway():
        try:
            spin({})
        except TimeLimitExceeded:
            outcomes["runaway"] = "stopped"

    def honest():
        outcomes["honest"] = [count(200_000) for _ in range(20)][-1]

    threads = [threading.Thread(target=runaway), threading.Thread(target=honest)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"runaway": "stopped", "honest": count(200_000)}


def test_calls_ending_at_their_deadline_never_leak_the_interrupt():
    # Calls that finish right around their limit: each one either returns or raises the
    # limit, and no interrupt escapes into the caller afterwards.
    busy = InProcessPolicy(timeout=0.05).load(
        "def busy(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n",
        "busy",
    )
    outcomes = set()
    for _ in range(60):
        try:
            busy(150_000)
            outcomes.add("returned")
        except TimeLimitExceeded:
            outcomes.add("stopped")
    assert outcomes <= {"returned", "stopped"}
    assert sum(i for i in range(3_000_000)) > 0  # still running normally after them


def test_a_coroutine_spinning_without_await_is_stopped():
    spin = InProcessPolicy(timeout=1.0).load(
        "async def spin(state):\n    while True:\n        state['steps'] = 1\n", "spin"
    )

    async def main():
        other = asyncio.create_task(asyncio.sleep(0.01, result="other task ran"))
        with pytest.raises(TimeLimitExceeded):
            await spin({})
        return await other

    assert asyncio.run(main()) == "other task ran"


def test_a_coroutine_waiting_too_long_is_cancelled():
    wait = InProcessPolicy(timeout=0.5).load(
        "import asyncio\nasync def wait():\n    await asyncio.sleep(60)\n", "wait"
    )
    with pytest.raises(TimeLimitExceeded, match="cancelled at an await"):
        asyncio.run(wait())
