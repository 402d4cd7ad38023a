"""Trace programs pass ``train()`` options by Trace's names, often one dict to several
algorithms: every option is used or ignored with a warning that says so; misspellings fail."""

import sys
import types
import warnings

import pytest
from trainer_compat_toys import DATA, Greeter, GreetingGuide, optimizer_for, wrong_teacher

from opto.trainer import train
from opto.trainer.algorithms import UCBSearchAlgorithm
from opto.trainer.algorithms.base import IgnoredOptionWarning
from opto.trainer.loggers import NullLogger, TensorboardLogger

SHARED_OPTIONS = {
    "num_epochs": 1,
    "batch_size": 2,
    "num_threads": 2,
    "eval_frequency": 2,
    "test_dataset": DATA,
    "num_proposals": 2,
    "beam_width": 2,
    "max_depth": 2,
    "validation_dataset_size": 3,
    "num_batches": 1,
    "num_candidates": 2,
    "long_term_memory_size": 4,
    "decouple_optimizers": True,
    "ensure_improvement": False,
}


def run(algorithm, reply=None, **options):
    agent = Greeter("Hi")
    optimizer = optimizer_for(agent) if reply is None else optimizer_for(agent, reply)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(
            model=agent,
            train_dataset=DATA,
            algorithm=algorithm,
            optimizer=optimizer,
            guide=GreetingGuide(),
            logger=NullLogger(),
            **options,
        )
    ignored = " ".join(str(w.message) for w in caught if w.category is IgnoredOptionWarning)
    return agent, result, ignored


@pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")
@pytest.mark.parametrize(
    ("algorithm", "used", "ignored"),
    [
        (
            "MinibatchAlgorithm",
            ["ensure_improvement", "eval_frequency"],
            ["beam_width", "max_depth"],
        ),
        ("BasicSearchAlgorithm", ["num_proposals"], ["num_candidates", "validation_dataset_size"]),
        ("BeamsearchAlgorithm", ["beam_width", "max_depth"], ["validation_dataset_size"]),
        ("UCBSearchAlgorithm", ["num_threads"], ["num_batches", "long_term_memory_size"]),
        ("PrioritySearch", ["num_candidates", "num_batches"], ["beam_width", "max_depth"]),
    ],
)
def test_one_option_dict_serves_every_algorithm(algorithm, used, ignored):
    agent, _, message = run(algorithm, **SHARED_OPTIONS)
    assert agent.prefix.data == "Hello"
    for name in ignored:
        assert name in message
    for name in used:
        assert name not in message


def test_eval_frequency_is_the_old_name_of_test_frequency():
    _, result, _ = run("MinibatchAlgorithm", batch_size=1, eval_frequency=2, test_dataset=DATA)
    tested = [r["step"] for r in result.history if r["test_score"] is not None]
    assert tested == [2, 4, 6]


def test_max_depth_is_the_number_of_beam_search_rounds():
    _, result, _ = run("BeamsearchAlgorithm", max_depth=3, beam_width=2)
    assert result.steps == 3


def test_a_misspelt_option_is_an_error():
    with pytest.raises(TypeError, match="num_epoch"):
        run("MinibatchAlgorithm", num_epoch=2)
    with pytest.raises(TypeError, match="num_proposal"):
        run("PrioritySearch", num_proposal=2)
    with pytest.raises(TypeError, match="run_dir"):
        run("PrioritySearch", run_dir="x")


@pytest.mark.parametrize("algorithm", ["MinibatchAlgorithm", "PrioritySearch"])
def test_a_negative_test_frequency_without_a_test_set_is_fine(algorithm):
    agent, result, _ = run(algorithm, batch_size=2, test_frequency=-1)
    assert agent.prefix.data == "Hello" and result.test_score is None


@pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")
def test_a_negative_test_frequency_skips_the_first_test():
    tests = []

    class CountingGuide(GreetingGuide):
        def get_feedback(self, query, response, reference=None, **kwargs):
            tests.append(query)
            return super().get_feedback(query, response, reference)

    agent = Greeter("Hi")
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer_for(agent),
        guide=GreetingGuide(),
        logger=NullLogger(),
        batch_size=2,
        test_dataset=DATA,
        test_guide=CountingGuide(),
        test_frequency=-3,
    )
    assert len(tests) == len(DATA["inputs"])  # one test, after step 3: none before step 1
    tests.clear()
    agent = Greeter("Hi")
    train(
        model=agent,
        train_dataset=DATA,
        optimizer=optimizer_for(agent),
        guide=GreetingGuide(),
        logger=NullLogger(),
        batch_size=2,
        test_dataset=DATA,
        test_guide=CountingGuide(),
        test_frequency=3,
    )
    assert len(tests) == 2 * len(DATA["inputs"])  # before step 1, and after step 3


@pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")
def test_ucb_search_takes_its_trace_constructor_and_option_names():
    agent = Greeter("Hi")
    search = UCBSearchAlgorithm(
        agent,
        optimizer_for(agent),
        max_buffer_size=3,
        ucb_exploration_factor=0.5,
        logger=NullLogger(),
    )
    result = search.train(
        GreetingGuide(), DATA, num_search_iterations=3, train_batch_size=2, validation_dataset=DATA
    )
    assert result.steps == 3 and agent.prefix.data == "Hello"
    assert search.options["max_buffer_size"] == 3 and search.options["batch_size"] == 2


@pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")
def test_an_algorithm_that_passes_its_options_to_step_is_warned_not_stopped():
    agent = Greeter("Hi")
    optimizer = optimizer_for(agent, wrong_teacher)
    optimizer.zero_feedback()
    optimizer.backward(agent("Ada"), "Use another greeting.")
    with pytest.warns(UserWarning, match="ignores"):
        update = optimizer.step(bypassing=True, verbose=False, num_threads=4, validate_dataset=None)
    assert update == {agent.prefix: "Yo"}


def test_tensorboard_logger_echoes_to_the_console_when_verbose(monkeypatch, tmp_path, capsys):
    written = []
    stand_in = types.ModuleType("tensorboardX")  # a stand-in: the real package is optional

    class SummaryWriter:
        def __init__(self, log_dir, **kwargs):
            written.append(("dir", log_dir))

        def add_scalar(self, name, value, step):
            written.append((name, value, step))

        def add_text(self, name, text, step):
            written.append((name, text, step))

        def close(self):
            written.append("closed")

    stand_in.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "tensorboardX", stand_in)
    logger = TensorboardLogger(str(tmp_path), verbose=True)
    logger.log("Average test score", 0.75, 3, color="green")
    logger.log("Parameter/prefix", "Hello", 3)
    quiet = TensorboardLogger(log_dir=str(tmp_path), verbose=False)
    quiet.log("score", 1.0, 4)
    quiet.close()
    printed = capsys.readouterr().out
    assert "[Step 3] Average test score: 0.75" in printed and "Parameter/prefix: Hello" in printed
    assert "score: 1.0" not in printed
    assert written == [
        ("dir", str(tmp_path)),
        ("Average test score", 0.75, 3),
        ("Parameter/prefix", "Hello", 3),
        ("dir", str(tmp_path)),
        ("score", 1.0, 4),
        "closed",
    ]
