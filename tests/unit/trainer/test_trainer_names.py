"""Names: train() never makes a later node repeat a name, tracing state is per thread, a reply
is applied to the node the prompt showed, and a resume in the same process sends the same
prompts (so the LLM cache answers them)."""

import copy
import json
import threading

from trainer_toys import DATA, Adder, Recorder, guided_reply, make_guide, noisy_reply, optimizer_for

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trace import GRAPH, name_scope, node
from opto.trainer import resume, train
from opto.trainer.loggers import NullLogger

OPTIONS = {"batch_size": 2, "logger": NullLogger()}


def test_a_node_made_after_train_does_not_repeat_a_name_made_before():
    before = node(1, trainable=True, name="w")
    agent = Adder(0)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer_for(agent, guided_reply),
        guide=make_guide(),
        num_steps=2,
        **OPTIONS,
    )
    after = node(2, trainable=True, name="w")
    assert after.name != before.name


def test_two_parameters_with_one_name_are_shown_apart_and_updated_by_identity():
    first = node(1, trainable=True, name="w")
    second = copy.deepcopy(first)  # a copy keeps the name
    second.set_data(2)
    assert first.name == second.name
    prompts = []

    def teacher(*args, messages, **kwargs):
        prompts.append(messages[-1]["content"])
        return json.dumps({"reasoning": "r", "suggestion": {"w0_2": 20}})

    optimizer = OptoPrime([first, second], llm=DummyLLM(teacher))
    optimizer.zero_feedback()
    optimizer.backward(first + second, "make it 21")
    optimizer.step()
    assert "(int) w0=1" in prompts[0] and "(int) w0_2=2" in prompts[0]
    assert (first.data, second.data) == (1, 20)


def test_a_name_two_parameters_answer_to_is_refused_not_guessed():
    first = node(1, trainable=True, name="w")
    second = copy.deepcopy(first)
    optimizer = OptoPrime(
        [first, second],
        llm=DummyLLM(lambda *a, **k: json.dumps({"suggestion": {"w:0": 5}})),
    )
    optimizer.zero_feedback()
    optimizer.backward(first * 2, "bigger")  # only first is in the graph: w0 is first
    result = optimizer.step()
    assert (first.data, second.data) == (1, 1)
    assert "more than one variable has this name" in result.refused["w:0"]


def test_names_stay_unique_while_train_runs_in_another_thread():
    done = threading.Event()

    def training():
        try:
            for _ in range(5):
                agent = Adder(0)
                train(
                    model=agent,
                    train_dataset=DATA,
                    optimizer=optimizer_for(agent, guided_reply),
                    guide=make_guide(),
                    num_steps=2,
                    **OPTIONS,
                )
        finally:
            done.set()

    worker = threading.Thread(target=training)
    worker.start()
    made = []
    while not done.is_set() or len(made) < 200:
        made.append(node(0, name="shared"))
    worker.join()
    names = [item.name for item in made]
    assert len(names) == len(set(names))


def test_a_name_scope_is_local_to_its_thread():
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def scoped():
        with name_scope("agent"):
            seen["inside"] = node(0, name="x").name
            inside.set()
            outside.wait(5)

    worker = threading.Thread(target=scoped)
    worker.start()
    inside.wait(5)
    seen["outside"] = node(0, name="x").name
    outside.set()
    worker.join()
    assert seen["inside"].startswith("agent/x:")
    assert seen["outside"].startswith("x:")


def test_a_resume_in_the_same_process_sends_the_prompts_of_an_uninterrupted_run(tmp_path):
    GRAPH.clear()
    agent = Adder(0)
    whole = Recorder(noisy_reply)
    train(
        model=agent, train_dataset=DATA, optimizer=optimizer_for(agent, whole, memory_size=2),
        guide=make_guide(), num_steps=4, **OPTIONS,
    )
    first_agent = Adder(0)  # no GRAPH.clear() from here on: later models get offset:1, :2...
    first = Recorder(noisy_reply)
    train(
        model=first_agent, train_dataset=DATA,
        optimizer=optimizer_for(first_agent, first, memory_size=2), guide=make_guide(),
        num_steps=2, run_dir=tmp_path, **OPTIONS,
    )
    second_agent = Adder(0)
    assert second_agent.offset.name != "offset:0"
    second = Recorder(noisy_reply)
    resume(
        tmp_path, model=second_agent, guide=make_guide(),
        optimizer=optimizer_for(second_agent, second, memory_size=2), logger=NullLogger(),
        num_steps=4,
    )
    assert first.prompts + second.prompts == whole.prompts


def test_name_scopes_appended_directly_stay_in_their_thread():
    from opto.trace.nodes import NAME_SCOPES

    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def scoped():
        NAME_SCOPES.append("tool")  # as Trace code does
        try:
            seen["inside"] = node(0, name="y").name
            inside.set()
            outside.wait(5)
        finally:
            NAME_SCOPES.pop()

    worker = threading.Thread(target=scoped)
    worker.start()
    inside.wait(5)
    seen["outside"] = node(0, name="y").name
    outside.set()
    worker.join()
    assert seen["inside"].startswith("tool/y:") and seen["outside"].startswith("y:")
    assert NAME_SCOPES == []
