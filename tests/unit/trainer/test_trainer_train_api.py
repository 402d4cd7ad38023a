import os
import subprocess
import sys

import pytest
from trainer_toys import DATA, Adder, Recorder, closeness, guided_reply, make_guide, optimizer_for

from opto.llm import DummyLLM
from opto.optimizers import OptoPrime
from opto.trace import ParameterNode, node
from opto.trainer import DatasetError, ExactMatchGuide, LLMJudge, MetricGuide, train
from opto.trainer.algorithms import BeamsearchAlgorithm
from opto.trainer.algorithms.base import IgnoredOptionWarning
from opto.trainer.loggers import NullLogger
from opto.trainer.train import SingleNodeModel, default_optimizer_name, load_guide


def test_names_are_resolved_in_the_package():
    agent = Adder(0)
    recorder = Recorder(guided_reply)
    result = train(
        model=agent,
        train_dataset=DATA,
        algorithm="BasicSearchAlgorithm",
        optimizer="OptoPrime",
        optimizer_kwargs={"llm": DummyLLM(recorder)},
        guide="MetricGuide",
        guide_kwargs={"metric": closeness},
        logger="NullLogger",
        batch_size=2,
        num_steps=1,
    )
    assert result.steps == 1 and len(recorder.prompts) == 3


def test_classes_and_a_plain_metric_function_work_too():
    agent = Adder(0)
    recorder = Recorder(guided_reply)
    result = train(
        model=agent,
        train_dataset=DATA,
        algorithm=BeamsearchAlgorithm,
        optimizer=OptoPrime,
        optimizer_kwargs={"llm": DummyLLM(recorder)},
        guide=closeness,
        logger=NullLogger,
        batch_size=1,
        num_steps=1,
        seed=3,
    )
    assert result.steps == 1 and set(result.best_scores) == {"score"}
    assert (
        "Incorrect (score=0.167). Expected 6, got 1." in recorder.prompts[0]
    )  # MetricGuide's feedback


@pytest.mark.parametrize(
    ("argument", "value", "error", "message"),
    [
        ("algorithm", "Gradient", ValueError, "unknown algorithm 'Gradient'.*MinibatchAlgorithm"),
        ("optimizer", "Adam", ValueError, "unknown optimizer 'Adam'.*OptoPrime"),
        ("guide", "Oracle", ValueError, "unknown guide 'Oracle'.*LLMJudge"),
        ("logger", "Printer", ValueError, "unknown logger 'Printer'.*ConsoleLogger"),
        ("algorithm", 3, TypeError, "algorithm must be"),
    ],
)
def test_bad_names_list_what_exists(argument, value, error, message):
    agent = Adder(0)
    kwargs = {"optimizer": optimizer_for(agent), "guide": make_guide(), "logger": NullLogger()}
    kwargs[argument] = value
    with pytest.raises(error, match=message):
        train(model=agent, train_dataset=DATA, **kwargs)


def test_a_single_parameter_is_wrapped_in_a_model():
    target = node("draft", trainable=True, name="text")
    llm = DummyLLM(lambda *a, **k: '{"suggestion": {"text0": "final"}}')
    result = train(
        model=target,
        train_dataset={"inputs": [None], "infos": ["final"]},
        optimizer_kwargs={"llm": llm},
        guide=ExactMatchGuide(),
        logger=NullLogger(),
        num_steps=1,
    )
    assert target.data == "final" and result.best_parameters == {"param": "final"}
    with pytest.raises(ValueError, match="not trainable"):
        frozen = ParameterNode(1, trainable=False)
        train(model=frozen, train_dataset=DATA, guide=make_guide(), logger=NullLogger())
    with pytest.raises(TypeError, match="Module or a ParameterNode"):
        train(model=node(1), train_dataset=DATA, guide=make_guide(), logger=NullLogger())


def test_the_default_optimizer_and_a_list_of_optimizer_settings():
    assert default_optimizer_name(Adder()) in ("OptoPrimeV2", "OptoPrime")
    assert default_optimizer_name(SingleNodeModel(node(1, trainable=True))) in (
        "OPROv2",
        "OptoPrime",
    )
    agent = Adder(0)
    first, second = Recorder(guided_reply), Recorder(guided_reply)
    train(
        model=agent,
        train_dataset=DATA,
        optimizer="OptoPrime",
        optimizer_kwargs=[{"llm": DummyLLM(first)}, {"llm": DummyLLM(second)}],
        guide=make_guide(),
        logger=NullLogger(),
        batch_size=2,
        num_steps=2,
    )
    assert (len(first.prompts), len(second.prompts)) == (1, 1)
    with pytest.warns(IgnoredOptionWarning, match="already built"):  # as Trace: ignored
        train(
            model=agent,
            train_dataset=DATA,
            optimizer=optimizer_for(agent),
            optimizer_kwargs={"llm": None},
            guide=make_guide(),
            logger=NullLogger(),
            num_steps=1,
        )


def test_inputs_are_checked_before_anything_runs():
    with pytest.raises(DatasetError, match="infos"):
        train(model=Adder(), train_dataset={"inputs": [1]}, guide=make_guide())
    with pytest.raises(TypeError, match="Module or a ParameterNode"):
        train(model=lambda x: x, train_dataset=DATA, guide=make_guide())
    with pytest.raises(TypeError, match="unknown option"):
        train(
            model=Adder(),
            train_dataset=DATA,
            optimizer=optimizer_for(Adder()),
            guide=make_guide(),
            logger=NullLogger(),
            batch_szie=2,
        )


def test_guides_from_names():
    assert isinstance(load_guide("LLMJudge", llm=DummyLLM(str)), LLMJudge)
    assert isinstance(load_guide(closeness), MetricGuide)


def test_train_works_from_any_directory(tmp_path):
    script = (
        "from opto.trainer import train\n"
        "from opto.trainer.algorithms import MinibatchAlgorithm\n"
        "from opto.trace import node\n"
        "from opto.llm import DummyLLM\n"
        "p = node(1, trainable=True, name='p')\n"
        'llm = DummyLLM(lambda *a, **k: \'{"suggestion": {"p0": 2}}\')\n'
        "r = train(model=p, train_dataset={'inputs': [0], 'infos': [2]}, guide=lambda r, i: r == i,"
        " optimizer_kwargs={'llm': llm}, logger='NullLogger', num_steps=1)\n"
        "print(p.data, r.stopped)\n"
    )
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 completed"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("opto.trainer.algorithms.algorithm", ["Trainer", "AlgorithmBase", "AbstractAlgorithm"]),
        (
            "opto.trainer.algorithms.basic_algorithms",
            ["MinibatchAlgorithm", "BasicSearchAlgorithm"],
        ),
        ("opto.trainer.algorithms.priority_search", ["PrioritySearch"]),
        (
            "opto.trainer.algorithms.classical_algorithms",
            ["SequentialUpdate", "SequentialSearch", "BeamSearch", "ParetobasedPS"],
        ),
    ],
)
def test_trace_module_paths_give_the_same_classes(module, names):
    import importlib

    import opto.trainer.algorithms as algorithms

    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is getattr(algorithms, name)


def test_the_search_template_has_its_old_path_too():
    import opto.trainer.algorithms.search_template as old
    import opto.trainer.search_template as new

    assert old.SearchTemplate is new.SearchTemplate and old.Samples is new.Samples
