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


def _tracing_is_set_in_this_context() -> bool:
    import contextvars

    from opto.trace.graph import _TRACING

    return _TRACING in contextvars.copy_context()


def test_trace_flag_assignment_pair_restores_the_context():
    def run():
        assert not _tracing_is_set_in_this_context()
        GRAPH.TRACE = False
        assert not is_tracing() and GRAPH.TRACE is False
        GRAPH.TRACE = True
        # The pair reset the variable with the kept token: unset again, not set to True.
        assert is_tracing() and not _tracing_is_set_in_this_context()
        for _ in range(1000):
            GRAPH.TRACE = False
            GRAPH.TRACE = True
        from opto.trace.graph import _TRACE_TOKENS

        assert _TRACE_TOKENS.get() == ()

    import contextvars

    contextvars.Context().run(run)


def test_trace_flag_assignment_is_thread_local():
    p = node(1, trainable=True)
    switched_off = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        GRAPH.TRACE = False
        switched_off.set()
        release.wait(5)
        seen["worker"] = (p + 1).parents
        GRAPH.TRACE = True

    thread = threading.Thread(target=worker)
    thread.start()
    switched_off.wait(5)
    seen["main"] = (p + 2).parents
    release.set()
    thread.join()
    assert seen["worker"] == [] and seen["main"][0] is p


def test_trace_flag_nests_inside_stop_tracing():
    with stop_tracing():
        GRAPH.TRACE = True
        assert is_tracing()
        GRAPH.TRACE = False
        assert not is_tracing()
    assert is_tracing()


def test_trace_flag_assigned_on_the_class_switches_tracing():
    """Regression: ``Graph.TRACE = False`` replaced the flag with a plain class attribute."""
    p = node(1, trainable=True)
    Graph.TRACE = False
    try:
        assert GRAPH.TRACE is False and Graph.TRACE is False
        assert (p + 1).parents == []
    finally:
        Graph.TRACE = True
    assert is_tracing() and (p + 1).parents[0] is p
    assert type(vars(Graph)["TRACE"]).__name__ == "_TraceFlag"


def test_name_scopes_are_per_thread_and_task():
    from opto.trace.graph import NAME_SCOPES

    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        NAME_SCOPES.append("worker")
        inside.set()
        release.wait(5)
        seen["worker"] = node(1).name
        NAME_SCOPES.pop()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    seen["main"] = node(1).name
    assert list(NAME_SCOPES) == [] and len(NAME_SCOPES) == 0
    release.set()
    thread.join()
    assert seen["worker"].startswith("worker/") and "/" not in seen["main"]

    async def scoped(scope):
        with name_scope(scope):
            await asyncio.sleep(0.01)
            return node(1).name

    async def main():
        return await asyncio.gather(scoped("a"), scoped("b"))

    assert [name.split("/")[0] for name in asyncio.run(main())] == ["a", "b"]
