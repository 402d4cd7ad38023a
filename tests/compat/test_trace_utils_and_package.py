"""The package layout and helper modules Trace programs import: ``import opto`` and its
subpackages as attributes, ``opto.version``, ``opto.trace.utils``, the projection modules and
the propagator helpers."""

import json
import subprocess
import sys

import pytest

from opto.trace import bundle, node
from opto.trace.propagators import TraceGraph
from opto.trace.propagators.propagators import AbstractFeedback


def test_import_opto_gives_the_subpackages_as_attributes_without_provider_sdks():
    code = (
        "import sys, json, opto\n"
        "before = [m for m in ('litellm', 'openai', 'opto.optimizers', 'opto.trainer') "
        "if m in sys.modules]\n"
        "names = [opto.optimizers.OptoPrime.__name__, opto.trainer.__name__, opto.utils.__name__]\n"
        "after = [m for m in ('litellm', 'openai') if m in sys.modules]\n"
        "from opto.version import __version__\n"
        "print(json.dumps([before, names, after, opto.version.__version__ == opto.__version__ "
        "== __version__]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    before, names, after, same_version = json.loads(result.stdout)
    assert before == [] and after == []
    assert names == ["OptoPrime", "opto.trainer", "opto.utils"]
    assert same_version


def test_unknown_top_level_names_still_raise_attribute_error():
    import opto

    with pytest.raises(AttributeError):
        opto.no_such_subpackage  # noqa: B018


def test_trace_utils_helpers():
    from opto.trace.utils import (
        builtins_list,
        contain,
        dedent,
        escape_json_nested_quotes,
        for_all_methods,
        global_functions_list,
        parse_eqs_to_dict,
        remove_non_ascii,
        sum_feedback,
    )

    a = node(1)
    assert contain([node(1), a], a) and not contain([node(1)], a)
    assert node(1) in [a]  # `in` compares data; contain compares identity
    assert "len" in builtins_list and "len" in global_functions_list
    assert "__name__" not in global_functions_list
    assert dedent("   first  \n      second\n") == "first\nsecond\n"
    assert parse_eqs_to_dict("a = 1\nb=`x`\nmore\n\nc= 3 = 4") == {
        "a": " 1",
        "b": "x\nmore",
        "c": " 3 = 4",
    }
    repaired = escape_json_nested_quotes('{"reasoning": "he said "no"", "answer": "\\(x\\)"}')
    assert json.loads(repaired) == {"reasoning": 'he said "no"', "answer": "(x)"}
    assert remove_non_ascii('{"a": "caf\u00e9\x00"}') == '{"a": "caf\u00e9"}'

    calls = []

    def logged(method):
        def wrapper(*args, **kwargs):
            calls.append(method.__name__)
            return method(*args, **kwargs)

        return wrapper

    @for_all_methods(logged)
    class Tool:
        def run(self):
            return self._helper()

        def _helper(self):
            return 1

        def __repr__(self):
            return "Tool"

    assert Tool().run() == 1 and calls == ["run", "_helper"] and repr(Tool()) == "Tool"

    weight = node(2, trainable=True)
    (weight + 1).backward("too small", retain_graph=True)
    (weight * 2).backward("too big")
    total = sum_feedback([weight])
    assert isinstance(total, TraceGraph) and len(total.feedbacks) == 2
    assert sum_feedback([node(0)]) == 0


def test_json_quote_escaper_self_check_passes(capsys):
    from opto.trace.utils import test_json_quote_escaper as self_check

    self_check()
    assert capsys.readouterr().out.strip() == "All tests passed!"


def test_projection_modules_at_trace_paths():
    from opto.trace.projections import BlackCodeFormatter, DocstringProjection, Projection
    from opto.trace.projections.code_projections import (
        BlackCodeFormatter as CodeBlack,
    )
    from opto.trace.projections.code_projections import Projection as CodeProjection
    from opto.trace.projections.projections import Projection as BaseProjection

    assert CodeBlack is BlackCodeFormatter and CodeProjection is BaseProjection is Projection
    keep = DocstringProjection("Adds one.")
    assert '"""Adds one."""' in keep("def f(x):\n    return x + 1")
    assert keep('def f(x):\n    """only one quote') == 'def f(x):\n    """only one quote'

    class Clamp(Projection):
        def __init__(self, low, high):
            super().__init__(low, high)
            self.low, self.high = low, high

        def project(self, x):
            return min(max(x, self.low), self.high)

    assert Clamp(0, 10)(42) == 10
    with pytest.raises(NotImplementedError):
        Projection()(1)


def test_feedback_objects_sum_and_trace_graphs_expand():
    class Score(AbstractFeedback):
        def __init__(self, value):
            self.value = value

        def __add__(self, other):
            return Score(self.value + other.value)

    assert sum([Score(1), Score(2)]).value == 3
    assert TraceGraph().empty() and isinstance(TraceGraph(), AbstractFeedback)

    prompt = node("be kind", trainable=True)

    @bundle(traceable_code=True, allow_external_dependencies=True)
    def reply(message):
        return message + prompt

    out = reply("hi, ")
    inner = TraceGraph.expand(out)
    assert prompt in inner.nodes and not inner.empty()
    assert prompt.feedback == {}  # expanding leaves the parameter's feedback as it was
    assert TraceGraph.expand(node(1)).empty()
