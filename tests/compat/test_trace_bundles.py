"""Bundles as Trace programs use them: FunModule's attributes and helpers, per-instance state
of bundled methods, the external-dependency switch, and subclasses that customise a call."""

import sys

import pytest

from opto import trace
from opto.trace import ExecutionError, TraceMissingInputsError, bundle, node
from opto.trace.bundle import (
    FunModule,
    detach_inputs,
    disable_external_dependencies_check,
    update_local,
    wrap_node,
)
from opto.trace.nodes import MessageNode, Node, ParameterNode


@bundle()
def shout(text):
    """Upper-cases the text."""
    return text.upper()


@bundle(trainable=True)
def pick(options):
    """Picks an option."""
    return options[0]


def test_info_has_the_source_and_the_module_its_names():
    assert shout.info["source"].startswith("def shout(text):")
    assert "return text.upper()" in shout.info["source"]
    assert pick.info["source"] == pick.parameter.data  # trainable: the current code
    assert shout.name == "shout" and not shout.trainable
    assert pick.trainable and isinstance(pick.parameter, ParameterNode)

    @bundle(description="[loud] Upper-cases the text.")
    def speak(text):
        return text.upper()

    assert speak.name == "loud" and speak("a").name == "loud:0"


def test_get_source_and_generate_comment():
    source, line = shout.get_source(shout.fn)
    assert source.startswith("def shout(text):")
    assert line == shout.fn.__code__.co_firstlineno + 1  # the def line, after @bundle()
    code = "def f(x):\n    return x / 0"
    annotated = shout.generate_comment(code, "(ZeroDivisionError) division by zero", 11, 10)
    assert annotated.splitlines()[1].endswith("<--- (ZeroDivisionError) division by zero")
    assert shout.generate_comment(code, "boom", 99) == code
    assert shout.filter_fun_name("outer.<locals>.inner") == "outer.inner"
    assert FunModule.is_valid_output((node(1), node(2))) and not FunModule.is_valid_output(3)


@trace.model
class Assistant:
    def __init__(self):
        self.style = node("polite", trainable=True)

    @bundle(trainable=True)
    def answer(self, question):
        """Answers a question."""
        return f"{question}? Yes."

    @bundle()
    def tidy(self, text):
        return text.strip()

    def forward(self, question):
        return self.answer(self.tidy(question))


def test_bundled_methods_keep_their_state_in_reserved_attributes():
    first, second = Assistant(), Assistant()
    first("  ready ")
    reserved = sorted(k for k in vars(first) if k.startswith("__TRACE_RESERVED_"))
    assert reserved == [
        "__TRACE_RESERVED_bundle_Assistant.answer",
        "__TRACE_RESERVED_bundle_Assistant.tidy",
        "__TRACE_RESERVED_self_node",
    ]
    self_node = first.__TRACE_RESERVED_self_node
    assert isinstance(self_node, Node) and self_node.data is first
    out = first("x")
    assert self_node in out.parents  # every method call uses the same self node
    second("y")
    assert first.__TRACE_RESERVED_self_node is not second.__TRACE_RESERVED_self_node
    first_code = vars(first)["__TRACE_RESERVED_bundle_Assistant.answer"].parameter
    second_code = vars(second)["__TRACE_RESERVED_bundle_Assistant.answer"].parameter
    assert first_code is not second_code
    assert set(first.parameters()) == {first.style, first_code}
    assert sorted(first.parameters_dict()) == ["answer", "style"]  # reserved ones left out


def test_save_and_load_take_trace_argument_names(tmp_path):
    agent = Assistant()
    agent.style._set("curt")
    path = tmp_path / "agent.json"
    agent.save(file_name=str(path))
    fresh = Assistant()
    fresh.load(file_name=str(path))
    assert fresh.style.data == "curt"
    exported = tmp_path / "exported.py"
    agent.export(filename=str(exported))
    assert "class Assistant" in exported.read_text()


GLOBAL_HINT = node("be brief", trainable=True)


@bundle()
def uses_hint(text):
    return GLOBAL_HINT.data + ": " + text


@bundle(allow_external_dependencies=True)
def allowed_to_use_hint(text):
    return GLOBAL_HINT.data + ": " + text


def test_external_dependency_switch_as_opentrace_has_it():
    bundle_module = sys.modules["opto.trace.bundle"]
    assert bundle_module.ALLOW_EXTERNAL_DEPENDENCIES is None
    with pytest.raises(TraceMissingInputsError):
        uses_hint("x")
    try:
        disable_external_dependencies_check(allow_external_dependencies=True)
        assert bundle_module.ALLOW_EXTERNAL_DEPENDENCIES is True
        assert uses_hint("x").data == "be brief: x"
        disable_external_dependencies_check(False)  # now enforced even where allowed
        with pytest.raises(TraceMissingInputsError):
            allowed_to_use_hint("x")
    finally:
        disable_external_dependencies_check(None)
    assert allowed_to_use_hint("x").data == "be brief: x"


def test_wrap_node_and_detach_inputs():
    x = node([1, 2], name="x")
    wrapped = wrap_node({"a": 1, "b": x, "c": (2, [3])})
    assert wrapped["b"] is x and isinstance(wrapped["a"], Node) and wrapped["a"].data == 1
    assert isinstance(wrapped["c"], tuple) and wrapped["c"][1][0].data == 3
    detached = detach_inputs([x, 5])
    assert detached[1] == 5 and detached[0] is not x and detached[0].data == [1, 2]
    assert detached[0].parents == [] and detached[0].data is not x.data


def test_update_local_writes_a_local_of_a_running_frame():
    def probe():
        value = "before"
        update_local(sys._getframe(), "value", "after")
        return value

    assert probe() == "after"


def test_trainable_code_sees_the_names_given_in_ldict():
    def scale(x):
        return x

    scaled = FunModule(scale, trainable=True, _ldict={"helper": lambda x: x * 10})
    scaled.parameter._set("def scale(x):\n    return helper(x)")
    assert scaled(4).data == 40


class LoggingBundle(FunModule):
    """A user's subclass that records each call's function inputs and outputs."""

    def __init__(self, fun, log, **kwargs):
        super().__init__(fun, **kwargs)
        self.log = log

    def preprocess_inputs(self, args, kwargs, _args, _kwargs):
        call_args, call_kwargs = super().preprocess_inputs(args, kwargs, _args, _kwargs)
        self.log.append(("in", call_args))
        return call_args, call_kwargs

    def postprocess_output(self, output, fun, _args, _kwargs, used_nodes, inputs):
        self.log.append(("out", output))
        return super().postprocess_output(output, fun, _args, _kwargs, used_nodes, inputs)


def test_a_subclass_that_overrides_a_step_is_used_on_every_call():
    log = []

    def add(a, b):
        return a + b

    logged = LoggingBundle(add, log)
    result = logged(1, node(2))
    assert isinstance(result, MessageNode) and result.data == 3
    assert log == [("in", [1, 2]), ("out", 3)]

    def fail(a):
        raise ValueError("bad input")

    failing = LoggingBundle(fail, log)
    with pytest.raises(ExecutionError) as caught:
        failing(1)
    assert isinstance(log[-1][1], ValueError)  # the step sees the exception as the output
    assert "bad input" in caught.value.exception_node.data


def test_a_function_returning_an_exception_fails_as_in_trace():
    @bundle()
    def returns_error(x):
        return KeyError(x)

    with pytest.raises(ExecutionError):
        returns_error("k")
