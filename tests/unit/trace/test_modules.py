import json
import pickle
import subprocess
import sys

import pytest

from opto import trace
from opto.trace import (
    Map,
    Module,
    NodeContainer,
    ParameterNode,
    Seq,
    apply_op,
    bundle,
    model,
    node,
    to_data,
)
from opto.trace.export import ExportError
from opto.trace.modules import ModuleSerializationError
from opto.trace.projections import BlackCodeFormatter, DocstringProjection, Projection


def helper_suffix(text):
    return text + "."


@model
class SalesAgent:
    def __init__(self, tone="friendly"):
        self.tone = node(tone, trainable=True, description="the tone of replies")
        self.limit = node(3, trainable=True)
        self.fixed = node("not trained")

    @bundle(trainable=True)
    def greet(self, name):
        """Greets a customer."""
        return helper_suffix(f"Hello {name}")

    @bundle()
    def plain(self, x):
        return x

    def forward(self, name):
        return self.greet(name)


@model
class Team:
    def __init__(self):
        self.lead = SalesAgent("bold")
        self.helpers = Seq(SalesAgent("calm"), node("shared notes", trainable=True))
        self.by_name = Map({"alice": node("A", trainable=True)})


class Pipeline(Module):
    def __init__(self):
        self.prompt = node("Answer:", trainable=True)

    def forward(self, question):
        return self.prompt + " " + question


def test_model_makes_a_picklable_module():
    agent = SalesAgent()
    assert isinstance(agent, Module) and type(agent).__name__ == "SalesAgent"
    assert agent("Ada").data == "Hello Ada."
    agent.tone._set("formal")
    restored = pickle.loads(pickle.dumps(agent))
    assert restored.tone.data == "formal" and restored("Bo").data == "Hello Bo."


def test_parameters_are_stable_and_unique():
    agent = SalesAgent()
    names = [p.py_name for p in agent.parameters()]
    assert agent.parameters() == agent.parameters()
    assert len(names) == 3 and all(isinstance(p, ParameterNode) for p in agent.parameters())
    assert agent.greet.parameter in agent.parameters()
    assert set(agent.parameters_dict()) == {"greet", "limit", "tone"}
    agent.alias = agent.tone
    assert len(agent.parameters()) == 3


def test_nested_modules_and_containers():
    team = Team()
    params = team.parameters()
    assert len(params) == len({id(p) for p in params}) == 3 + 3 + 1 + 1
    assert team.helpers[1] in params and team.by_name["alice"] in params
    named = team.named_parameters()
    assert "lead.tone" in named and "helpers.0.greet" in named and "helpers.1" in named
    assert named["by_name.alice"] is team.by_name["alice"]


def test_map_keys_can_be_parameters():
    key = node("k", trainable=True)
    container = Map({key: 1})
    assert container.parameters() == [key]


def test_plain_module_subclass():
    pipeline = Pipeline()
    assert pipeline("why?").data == "Answer: why?"
    assert pipeline.parameters() == [pipeline.prompt]


def test_save_and_load_as_json(tmp_path):
    agent = SalesAgent()
    agent.tone._set("curt")
    agent.limit._set(7)
    agent.greet.parameter._set(agent.greet.parameter.data.replace("Hello", "Hi"))
    path = agent.save(tmp_path / "agent.json")
    document = json.loads(path.read_text())
    assert document["format"] == "opto.module/1" and document["parameters"]["limit"] == 7
    fresh = SalesAgent()
    fresh.load(path)
    assert (fresh.tone.data, fresh.limit.data) == ("curt", 7)
    assert fresh("Ada").data == "Hi Ada."


def test_save_refuses_values_json_cannot_hold(tmp_path):
    agent = SalesAgent()
    agent.limit._set({1, 2})
    with pytest.raises(ModuleSerializationError, match=r"parameter limit holds a builtins\.set"):
        agent.save(tmp_path / "bad.json")
    agent.limit._set(float("nan"))
    with pytest.raises(ModuleSerializationError, match="nan"):
        agent.save(tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_tuples_survive_a_round_trip(tmp_path):
    pipeline = Pipeline()
    pipeline.prompt._set(("a", [1, (2, 3)]))
    pipeline.save(tmp_path / "p.json")
    other = Pipeline()
    other.prompt._set(())  # a value of the parameter's type is loaded; see the type test
    other.load(tmp_path / "p.json")
    assert other.prompt.data == ("a", [1, (2, 3)])


def test_load_errors_are_clear(tmp_path):
    (tmp_path / "pickled.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ModuleSerializationError, match="never unpickles"):
        Pipeline().load(tmp_path / "pickled.pkl")
    (tmp_path / "partial.json").write_text(
        json.dumps({"format": "opto.module/1", "parameters": {}})
    )
    with pytest.raises(ModuleSerializationError, match="no value for parameter"):
        Pipeline().load(tmp_path / "partial.json")


def test_copy_shares_parameters():
    agent = SalesAgent()
    agent.greet("x")
    duplicate = agent.copy()
    assert duplicate is not agent and duplicate.tone is agent.tone
    assert duplicate.greet.parameter is agent.greet.parameter
    assert duplicate.parameters() == agent.parameters()
    assert duplicate("Cy").inputs["self"].data is duplicate


def test_export_writes_a_standalone_file_that_runs(tmp_path):
    agent = SalesAgent()
    agent.tone._set("warm")
    agent.limit._set(5)
    agent.greet.parameter._set(
        "def greet(self, name):\n"
        '    """Greets a customer."""\n'
        "    return helper_suffix(f'Welcome {name}')\n"
    )
    path = agent.export(tmp_path / "exported_agent.py")
    text = path.read_text()
    assert "Welcome" in text and "'warm'" in text and "def helper_suffix" in text
    script = (
        "import exported_agent\n"
        "agent = exported_agent.SalesAgent()\n"
        "print(agent.limit.data, agent.tone.data)\n"
        "print(agent('Ada').data)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["5 warm", "Welcome Ada."]


def test_export_refuses_values_without_a_literal_form(tmp_path):
    agent = SalesAgent()
    agent.limit._set(object())
    with pytest.raises(ExportError, match="literal"):
        agent.export(tmp_path / "x.py")


def test_to_data_unwraps_nested_containers():
    class Holder(NodeContainer):
        def __init__(self):
            self.value = node(5)

    nested = {"a": [node(1), (node(2), {node(3)})], "b": node("x")}
    assert to_data(nested) == {"a": [1, (2, {3})], "b": "x"}
    assert to_data(Holder()).value == 5


def test_apply_op_broadcasts_over_containers():
    outputs = apply_op(trace.operators.add, [None, None], [node(1), node(2)], node(10))
    assert [o.data for o in outputs] == [11, 12]
    result = apply_op(trace.operators.multiply, {"k": None}, {"k": node(3)}, node(2))
    assert result["k"].data == 6
    with pytest.raises(TypeError):  # a plain value is neither a node nor a container
        apply_op(trace.operators.add, [None], [node(1)], 10)


def test_docstring_projection_keeps_the_docstring():
    keep = DocstringProjection("Sorts the list.")
    code = 'def f(x):\n    """Whatever the LLM wrote."""\n    return sorted(x)'
    assert keep(code) == 'def f(x):\n    """Sorts the list."""\n    return sorted(x)'
    assert keep("def f(x):\n    return x") == 'def f(x):\n    """Sorts the list."""\n    return x'
    assert keep("not code (") == "not code ("
    assert isinstance(keep, Projection)


def test_black_code_formatter_formats_only_code():
    formatter = BlackCodeFormatter()
    assert formatter("def f( x ):\n  return x+1") == "def f(x):\n    return x + 1"
    assert formatter("define the plan first") == "define the plan first"
    assert formatter(3) == 3


def test_bundle_projections_are_attached_to_the_code_parameter():
    keep = DocstringProjection("Doubles.")

    @bundle(trainable=True, projections=[keep])
    def double(x):
        """Doubles."""
        return 2 * x

    assert double.parameter.projections == [keep]
