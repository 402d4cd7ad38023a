import asyncio
import threading

from opto.trace import GRAPH, Graph, name_scope, node, stop_tracing
from opto.trace.graph import is_tracing


def test_graph_keeps_counters_only():
    a = node(1)
    node(2)
    assert GRAPH.count("int") == 2 and len(GRAPH) == 2
    GRAPH.clear()
    assert GRAPH.count("int") == 0 and len(GRAPH) == 0
    assert node(3).name == "int:0" and a.name == "int:0"
    assert not hasattr(GRAPH, "_nodes")


def test_graph_get_and_roots_explain_there_is_no_registry():
    import pytest

    with pytest.raises(NotImplementedError, match="keeps no nodes"):
        GRAPH.get("int:0")
    with pytest.raises(NotImplementedError, match="keeps no nodes"):
        GRAPH.roots  # noqa: B018


def test_naming_is_thread_safe():
    names: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        local = [node(0, name="shared").name for _ in range(2000)]
        with lock:
            names.extend(local)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == len(set(names)) == 16000
    assert GRAPH.count("shared") == 16000


def test_stop_tracing_nests_and_restores():
    p = node(1, trainable=True)
    assert is_tracing()
    with stop_tracing():
        with stop_tracing():
            assert not is_tracing()
        assert not is_tracing(), "leaving the inner block must not re-enable tracing"
        assert (p + 1).parents == []
    assert is_tracing() and (p + 1).parents[0] is p


def test_trace_flag_reads_context():
    assert Graph.TRACE is True and GRAPH.TRACE is True
    with stop_tracing():
        assert GRAPH.TRACE is False


def test_stop_tracing_is_thread_local():
    p = node(1, trainable=True)
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def untraced_worker():
        with stop_tracing():
            inside.set()
            release.wait(5)
            seen["worker"] = (p + 1).parents

    worker = threading.Thread(target=untraced_worker)
    worker.start()
    inside.wait(5)
    seen["main"] = (p + 2).parents
    release.set()
    worker.join()
    assert seen["main"] == [p, seen["main"][1]] and seen["main"][0] is p
    assert seen["worker"] == []


def test_stop_tracing_is_task_local():
    p = node(1, trainable=True)

    async def untraced():
        with stop_tracing():
            await asyncio.sleep(0.01)
            return (p + 1).parents

    async def traced():
        await asyncio.sleep(0.005)
        return (p + 1).parents

    async def main():
        return await asyncio.gather(untraced(), traced())

    untraced_parents, traced_parents = asyncio.run(main())
    assert untraced_parents == [] and traced_parents[0] is p


def test_name_scope_prefixes_names():
    with name_scope("agent"):
        inner = node(1)
        with name_scope("tool"):
            deeper = node(1)
    assert inner.name == "agent/int:0" and deeper.name == "agent/tool/int:0"
    assert node(1).name == "int:0"
