"""Nothing global keeps nodes alive: memory per iteration is constant, forever."""

import gc
import tracemalloc
import weakref

from opto.trace import node
from opto.trace.propagators import GraphPropagator


def small_workflow(prompt, weight, question):
    text = prompt + ": " + question
    score = weight * 2.0 + 1.0
    return text.upper(), score * weight


def retained_growth(step, warmup=1000, iterations=10_000):
    for _ in range(warmup):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(iterations):
            step()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def test_forward_backward_zero_feedback_does_not_grow():
    prompt = node("Answer briefly", trainable=True)
    weight = node(0.5, trainable=True)
    propagator = GraphPropagator()

    def step():
        text, score = small_workflow(prompt, weight, "what is 2+2?")
        text.backward("too long", retain_graph=False)
        score.backward("too small")
        total = propagator.aggregate(prompt.feedback) + propagator.aggregate(weight.feedback)
        assert total.user_feedback
        prompt.zero_feedback()
        weight.zero_feedback()

    growth = retained_growth(step)
    assert growth < 20_000, f"retained {growth} bytes over 10,000 iterations"
    assert len(prompt._children or []) <= 64 and len(weight._children or []) <= 64


def test_forward_only_passes_do_not_grow():
    prompt = node("Answer briefly", trainable=True)
    weight = node(0.5, trainable=True)

    def step():
        small_workflow(prompt, weight, "what is 2+2?")

    growth = retained_growth(step)
    assert growth < 20_000, f"retained {growth} bytes over 10,000 iterations"
    assert len(prompt._children or []) <= 64
    assert prompt.children == []


def test_dropping_an_output_frees_its_graph_without_the_cycle_collector():
    gc.disable()
    try:
        p = node(1, trainable=True)
        y = p + 1
        out = y * 2
        out.backward("fb")
        p.zero_feedback()
        watchers = [weakref.ref(y), weakref.ref(out)]
        del y, out
        assert all(w() is None for w in watchers)
        assert p.children == []
    finally:
        gc.enable()


def test_parameters_hold_no_strong_references_to_children():
    p = node(1, trainable=True)
    child = p + 1
    watcher = weakref.ref(child)
    assert p.children == [child]
    del child
    assert watcher() is None and p.children == []
