import multiprocessing
import random
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from trainer_toys import Adder, FragileAdder, make_guide, two_metrics

from opto.llm import BudgetExceeded
from opto.trace import model
from opto.trainer import MetricGuide, aggregate_vector_scores, evaluate, evaluate_vector
from opto.trainer.evaluators import RemotePayload, rollouts

INPUTS = list(range(1, 21))
INFOS = [x + 5 for x in INPUTS]


@model
class Sleepy:
    """Answers after a random short pause, so that completions arrive out of order."""

    def __init__(self):
        from opto.trace import node

        self.offset = node(5, trainable=True)

    def forward(self, x):
        time.sleep(random.random() * 0.005)
        return x + self.offset.data


def test_scores_come_back_in_input_order():
    guide = MetricGuide(lambda response, reference: response - reference)
    scores = evaluate(Sleepy(), guide, INPUTS, [x + 4 + x for x in INPUTS], num_threads=8)
    assert list(scores) == [float(1 - x) for x in INPUTS]
    assert scores.feedback == [""] * 20  # evaluate() asks guide.metric, which gives no text
    assert scores.errors == [None] * 20


def test_a_failing_example_gets_min_score_and_its_error_as_feedback():
    inputs = [12, 13, 14]
    scores = evaluate(FragileAdder(5), make_guide(), inputs, [x + 5 for x in inputs], min_score=-1)
    assert list(scores) == [1.0, -1, 1.0]
    assert scores.errors[1] == "(ValueError) 13 is unlucky"
    assert "13 is unlucky" in scores.feedback[1]
    assert scores.mean() == pytest.approx(1 / 3)
    unscored = evaluate(FragileAdder(5), make_guide(), inputs, [x + 5 for x in inputs])
    assert list(unscored) == [1.0, None, 1.0]
    assert unscored.mean() == 1.0


def test_plain_exceptions_are_example_errors_too():
    @model
    class Broken:
        def forward(self, x):
            raise KeyError("missing")

    scores = evaluate(Broken(), make_guide(), [1, 2], [1, 2], min_score=0.0)
    assert list(scores) == [0.0, 0.0]
    assert scores.errors[0] == "(KeyError) 'missing'"


def test_errors_about_the_run_stop_the_evaluation():
    @model
    class Spender:
        def forward(self, x):
            raise BudgetExceeded("budget: max_calls=0 reached")

    with pytest.raises(BudgetExceeded):
        evaluate(Spender(), make_guide(), INPUTS, INFOS, num_threads=2)


def test_several_samples_per_example():
    scores = evaluate(Adder(5), make_guide(), [1, 2], [6, 0], num_samples=3)
    assert scores.tolist() == [[1.0, 1.0, 1.0], [1 / 8, 1 / 8, 1 / 8]]
    assert scores.mean() == pytest.approx((3 + 3 / 8) / 6)
    with pytest.raises(ValueError, match="num_samples"):
        evaluate(Adder(), make_guide(), [1], [1], num_samples=0)


def test_vector_scores_and_their_fallback():
    guide = MetricGuide(two_metrics)
    vectors = evaluate_vector(FragileAdder(5), guide, [1, 13], [6, 18])
    assert vectors[0] == {"closeness": 1.0, "small": -6.0}
    assert vectors[1] == {"score": float("-inf")}
    fallback = evaluate_vector(FragileAdder(5), guide, [13], [18], min_score={"closeness": 0.0})
    assert fallback == [{"closeness": 0.0}]
    assert evaluate_vector(FragileAdder(5), guide, [13], [18], min_score=0) == [{"score": 0.0}]
    assert aggregate_vector_scores([*vectors[:1], {"closeness": 0.0}]) == {
        "closeness": 0.5,
        "small": -6.0,
    }


def test_num_threads_bounds_the_examples_in_flight():
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    barrier = threading.Barrier(4, timeout=10)

    @model
    class Gate:
        def forward(self, x):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            barrier.wait()  # only passes when 4 examples run at the same time
            with lock:
                state["now"] -= 1
            return x

    scores = evaluate(
        Gate(), MetricGuide(lambda r, ref: 1.0), list(range(8)), [0] * 8, num_threads=4
    )
    assert scores.errors == [None] * 8
    assert state["most"] == 4


def test_a_given_thread_pool_is_used_with_the_same_knob():
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="mine") as pool:
        names = []

        @model
        class Where:
            def forward(self, x):
                names.append(threading.current_thread().name)
                return x

        evaluate(Where(), make_guide(), [1, 2, 3, 4], [1, 2, 3, 4], executor=pool, num_threads=2)
    assert all(name.startswith("mine") for name in names)


def test_a_process_pool_gives_the_same_results_as_threads():
    inputs = [1, 2, 13, 4]
    infos = [6, 8, 18, 9]
    threads = evaluate(FragileAdder(5), make_guide(), inputs, infos, min_score=0.0)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        processes = evaluate(
            FragileAdder(5), make_guide(), inputs, infos, min_score=0.0, executor=pool
        )
        per_snapshot = rollouts(
            FragileAdder(5),
            make_guide(),
            inputs,
            infos,
            snapshots=[{"offset": 6}, None],
            executor=pool,
            min_score=0.0,
        )
    assert list(processes) == list(threads)
    assert processes.feedback == threads.feedback
    assert [r.score for r in per_snapshot[0]][:2] == [0.5, 1.0]
    assert [r.score for r in per_snapshot[1]] == list(threads)


def test_snapshots_are_evaluated_on_independent_copies():
    agent = Adder(0)
    results = rollouts(agent, make_guide(), [1], [6], snapshots=[{"offset": 5}, {"offset": 4}])
    assert [rows[0].score for rows in results] == [1.0, 0.5]
    assert agent.offset.data == 0


def test_a_progress_bar_can_be_shown(capsys):
    evaluate(Adder(5), make_guide(), [1, 2], [6, 7], progress=True, description="toy")
    assert capsys.readouterr().out == ""


def test_mismatched_inputs_and_infos_are_refused():
    with pytest.raises(ValueError, match="2 inputs but 1 infos"):
        evaluate(Adder(), make_guide(), [1, 2], [1])
    with pytest.raises(ValueError, match="num_threads"):
        evaluate(Adder(), make_guide(), [1], [1], num_threads=0)


def test_an_unpicklable_model_is_explained():
    @model
    class Local:
        def __init__(self):
            self.fn = lambda x: x

        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="module level"):
        RemotePayload(Local(), make_guide())


def _echo(*args, **kwargs):
    return "4"


@model
class Asker:
    """Asks a priced stand-in LLM for every example, so the calls cost tokens and money."""

    def __init__(self):
        from opto.llm import DummyLLM

        self.llm = DummyLLM(_echo, prices=(1e-3, 2e-3))

    def forward(self, x):
        reply = self.llm(messages=[{"role": "user", "content": f"what is {x} + 3?"}])
        return int(reply.choices[0].message.content)


def test_llm_usage_in_worker_processes_is_counted_in_the_run():
    from opto.llm import budget, get_usage, reset_usage

    reset_usage()
    context = multiprocessing.get_context("fork")
    with budget(max_calls=100) as scope, ProcessPoolExecutor(2, mp_context=context) as pool:
        scores = evaluate(Asker(), make_guide(), [1, 2, 3], [4, 4, 4], executor=pool)
    total = get_usage().total
    assert list(scores) == [1.0, 1.0, 1.0]
    assert total.calls == 3 and total.prompt_tokens > 0
    assert total.cost == pytest.approx(1e-3 * total.prompt_tokens + 2e-3 * total.completion_tokens)
    assert scope.calls == 3 and scope.spent == pytest.approx(total.cost)


def test_usage_in_threads_is_counted_once():
    from opto.llm import get_usage, reset_usage

    reset_usage()
    evaluate(Asker(), make_guide(), [1, 2, 3], [4, 4, 4], num_threads=3)
    assert get_usage().total.calls == 3
