import asyncio
import copy
import pickle
import sys
import threading

import pytest

from opto.trace import (
    ExecutionError,
    MessageNode,
    Node,
    ParameterNode,
    TraceMissingInputsError,
    bundle,
    disable_external_dependencies_check,
    node,
    trace_nodes,
)
from opto.trace.bundle import FunModule
from opto.trace.propagators import GraphPropagator


@bundle()
def combine(a, b=2, *args, c=3, **kw):
    """Adds everything."""
    return a + b + sum(args) + c + sum(kw.values())


@bundle()
def describe(items, mapping):
    """Formats a list and a dict."""
    return f"{items}|{sorted(mapping.items())}"


GLOBAL_PROMPT = node("global prompt", trainable=True, name="global_prompt")


def feedback_graph(parameter):
    return GraphPropagator().aggregate(parameter.feedback)


def test_inputs_are_named_after_parameters():
    out = combine(1, 5, 6, 7, c=1, z=10)
    assert isinstance(out, MessageNode) and out.data == 30
    assert list(out.inputs) == ["a", "b", "args_0", "args_1", "c", "z"]
    assert [p.name for p in out.parents] == ["a:0", "b:0", "int:0", "int:1", "c:0", "z:0"]
    assert out.name == "combine:0" and out.info["fun_name"] == "combine"
    assert out.description == "Adds everything."


def test_defaults_are_materialised_in_signature_order():
    out = combine(1)
    assert out.data == 6 and list(out.inputs) == ["a", "b", "c"]
    assert out.inputs["b"].data == 2 and out.inputs["c"].data == 3


def test_nodes_are_passed_as_data_and_kept_as_parents():
    x = node(4)
    out = combine(x, node(1))
    assert out.data == 8 and out.parents[0] is x


def test_containers_of_nodes_become_traced_inputs():
    first, key_value = node("a"), node(2)
    out = describe([first, "b"], {"k": key_value})
    assert out.data == "['a', 'b']|[('k', 2)]"
    items = out.inputs["items"]
    assert items.op_name == "make_list" and first in items.parents
    assert key_value in out.inputs["mapping"].parents


def test_process_inputs_false_passes_arguments_untouched():
    seen = {}

    @bundle(_process_inputs=False)
    def raw(x, y):
        seen["types"] = (type(x), type(y))
        return 1

    x = node(1)
    raw(x, 2)
    assert seen["types"] == (Node, int)


def test_descriptions():
    @bundle(description="[shout] Upper-cases text.")
    def shout(text):
        return text.upper()

    @bundle(description="Repeats text.")
    def repeat(text):
        return text * 2

    @bundle()
    def no_arguments():
        return 1

    assert shout("a").description == "Upper-cases text." and shout.description.startswith("[shout]")
    assert repeat.description.startswith("[") and "Repeats text." in repeat.description
    out = no_arguments()
    assert out.data == 1 and out.inputs == {} and out.parents == [] and out.name == "no_arguments:0"


def test_bare_decorator_without_parentheses():
    @bundle
    def double(x):
        return 2 * x

    assert isinstance(double, FunModule) and double(3).data == 6


def test_output_name():
    @bundle(output_name="answer")
    def respond(q):
        return q + "!"

    assert respond("hi").name == "answer:0"


def test_external_dependency_is_detected():
    @bundle()
    def uses_global(text):
        return GLOBAL_PROMPT.data + text

    with pytest.raises(TraceMissingInputsError, match="global_prompt:0"):
        uses_global("x")

    @bundle()
    def uses_global_through_an_operator(text):
        return (GLOBAL_PROMPT + text).data

    with pytest.raises(TraceMissingInputsError, match="Pass them as arguments"):
        uses_global_through_an_operator("x")


def test_nodes_created_inside_are_not_external():
    @bundle()
    def builds_its_own(text):
        inner = node(text) + "!"
        return inner.data

    assert builds_its_own("a").data == "a!"


def test_allowed_external_parameters_receive_feedback():
    @bundle(allow_external_dependencies=True)
    def uses_global(text):
        return GLOBAL_PROMPT.data + text

    out = uses_global("?")
    assert out.data == "global prompt?" and out.hidden_dependencies == {GLOBAL_PROMPT}
    out.backward("be shorter")
    assert feedback_graph(GLOBAL_PROMPT).user_feedback == "be shorter"
    GLOBAL_PROMPT.zero_feedback()


def test_global_switch_disables_the_check():
    @bundle()
    def uses_global(text):
        return GLOBAL_PROMPT.data + text

    disable_external_dependencies_check(True)
    try:
        assert uses_global("!").data == "global prompt!"
    finally:
        disable_external_dependencies_check(None)  # back to each bundle's own setting
    with pytest.raises(TraceMissingInputsError):
        uses_global("!")


def test_trace_nodes_collects_reads():
    x = node(1)
    with trace_nodes() as used:
        _ = x.data
    assert used == [x]


def test_traceable_code_builds_an_inner_graph_with_hidden_parameters():
    weight = node(3, trainable=True, name="weight")

    @bundle(traceable_code=True)
    def scaled(x):
        assert isinstance(x, Node)
        return x * weight + 1

    value = node(2)
    out = scaled(value)
    assert out.data == 7 and out.parents == [value]
    inner = out.info["output"]
    assert isinstance(inner, MessageNode) and inner.data == 7
    assert out.hidden_dependencies == {weight}
    out.backward("should be 10")
    assert feedback_graph(weight).user_feedback == "should be 10"


def test_recursion_is_traced_per_call_by_default():
    @bundle()
    def factorial(n):
        return 1 if n <= 1 else n * factorial(n - 1).data

    assert factorial(4).data == 24


def test_overwrite_python_recursion_makes_one_node_without_settrace():
    tracer_seen = []

    @bundle(overwrite_python_recursion=True)
    def fib(n):
        tracer_seen.append(sys.gettrace())
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    before = sys.gettrace()
    out = fib(10)
    assert out.data == 55 and isinstance(out, MessageNode) and out.parents[0].data == 10
    assert set(tracer_seen) == {before}


def test_async_bundles_return_message_nodes():
    @bundle()
    async def fetch(query, delay):
        await asyncio.sleep(delay)
        return query.upper()

    async def main():
        return await asyncio.gather(fetch("a", 0.02), fetch("b", 0.0))

    first, second = asyncio.run(main())
    assert (first.data, second.data) == ("A", "B")
    assert first.inputs["query"].data == "a" and second.inputs["query"].data == "b"


def test_concurrent_calls_record_their_own_inputs_and_outputs():
    @bundle()
    def slow_square(x):
        threading.Event().wait(0.001)
        return x * x

    results = {}
    barrier = threading.Barrier(8)

    def work(worker):
        barrier.wait()
        for index in range(50):
            value = worker * 1000 + index
            out = slow_square(value)
            results[(worker, index)] = (out.inputs["x"].data, out.data, out.info["fun_name"])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 400
    for (worker, index), (given, squared, name) in results.items():
        assert given == worker * 1000 + index and squared == given * given and name == "slow_square"


def test_generator_functions_can_be_bundled():
    @bundle()
    def count_up(n):
        yield from range(n)

    out = count_up(3)
    assert list(out.data) == [0, 1, 2] and out.inputs["n"].data == 3


class Agent:
    def __init__(self, greeting):
        self.greeting = greeting

    @bundle(trainable=True)
    def reply(self, name):
        """Greets someone."""
        return f"{self.greeting}, {name}"

    @bundle()
    def plain(self, x):
        return x + 1


def test_methods_get_self_as_input_and_one_code_parameter_per_instance():
    first, second = Agent("Hi"), Agent("Hello")
    out = first.reply("Ada")
    assert out.data == "Hi, Ada" and list(out.inputs) == ["self", "name", "__code"]
    assert out.inputs["self"].data is first
    assert first.reply.parameter is not second.reply.parameter
    assert first.reply.parameter is first.reply.parameter
    assert first.reply.parameter is not Agent.reply.parameter
    first.reply.parameter._set(first.reply.parameter.data.replace("{self.greeting}", "Yo"))
    assert first.reply("Ada").data == "Yo, Ada" and second.reply("Ada").data == "Hello, Ada"
    assert first.plain(1).data == 2 and first.plain(1).inputs["self"].data is first


def test_copy_and_deepcopy_of_bundles_and_objects():
    @bundle(trainable=True)
    def add_one(x):
        return x + 1

    shallow = copy.copy(add_one)
    deep = copy.deepcopy(add_one)
    assert shallow.parameter is add_one.parameter
    assert deep.parameter is not add_one.parameter and deep.parameter.name == add_one.parameter.name
    deep.parameter._set("def add_one(x):\n    return x + 2")
    assert deep(1).data == 3 and add_one(1).data == 2

    agent = Agent("Hi")
    agent.reply("x")
    clone = copy.deepcopy(agent)
    assert clone.reply.parameter is not agent.reply.parameter
    assert clone.reply("Bo").data == "Hi, Bo"
    assert clone.reply("Bo").inputs["self"].data is clone


def test_bundled_functions_and_objects_pickle():
    restored = pickle.loads(pickle.dumps(combine))
    assert restored(1).data == 6
    agent = Agent("Hey")
    agent.reply.parameter._set(agent.reply.parameter.data.replace("{name}", "{name}!"))
    back = pickle.loads(pickle.dumps(agent))
    assert back.reply("Ada").data == "Hey, Ada!"


def test_trainable_code_parameter():
    @bundle(trainable=True)
    def strange(x):
        """Returns x squared."""
        return x * x

    code = strange.parameter
    assert isinstance(code, ParameterNode) and code.name.startswith("__code:")
    assert code.data.startswith("def strange(x):") and "@bundle" not in code.data
    assert (
        code.description
        == 'The code should start with:\ndef strange(x):\n    """Returns x squared."""'
    )
    out = strange(3)
    assert out.data == 9 and out.name.startswith("eval:") and list(out.inputs) == ["x", "__code"]
    assert out.op_name == "eval" and out.info["fun_name"] == "eval"
    assert strange.parameters() == [code]


def test_trainable_code_is_compiled_once_per_code_string(monkeypatch):
    from opto.runtime import policy as policies

    compiled = []
    original = policies.compile_source

    def counting(text, filename):
        compiled.append(text)
        return original(text, filename)

    monkeypatch.setattr(policies, "compile_source", counting)

    @bundle(trainable=True)
    def triple(x):
        return 3 * x

    for _ in range(5):
        assert triple(2).data == 6
    assert compiled == []
    triple.parameter._set("def triple(x):\n    return 30 * x")
    for _ in range(5):
        assert triple(2).data == 60
    assert len(compiled) == 1
    triple.parameter._set("def triple(x):\n    return 300 * x")
    assert triple(2).data == 600 and len(compiled) == 2


def test_trainable_code_may_import_and_define_helpers():
    @bundle(trainable=True)
    def measure(values):
        return len(values)

    measure.parameter._set(
        "import statistics\n\n"
        "def _spread(values):\n"
        "    return max(values) - min(values)\n\n"
        "def measure(values):\n"
        "    return statistics.mean(values) + _spread(values)\n"
    )
    assert measure([1, 2, 3]).data == 4


def test_trainable_code_sees_closure_and_decoration_site_names():
    offset = 10

    def helper(v):
        return v * 2

    @bundle(trainable=True)
    def shifted(x):
        return x + offset

    shifted.parameter._set("def shifted(x):\n    return helper(x) + offset")
    assert shifted(1).data == 12


def test_source_from_linecache_and_explicit_source():
    namespace = {}
    exec(compile("def made_by_exec(x):\n    return x + 1\n", "<no file>", "exec"), namespace)
    from opto.trace.source import SourceUnavailableError

    with pytest.raises(SourceUnavailableError, match="source="):
        bundle(trainable=True)(namespace["made_by_exec"])
    explicit = bundle(trainable=True, source="def made_by_exec(x):\n    return x + 1\n")(
        namespace["made_by_exec"]
    )
    assert explicit(1).data == 2 and explicit.parameter.data.startswith("def made_by_exec")

    import linecache

    text = "def cell_function(x):\n    return x * 5\n"
    linecache.cache["<notebook-cell-7>"] = (
        len(text),
        None,
        text.splitlines(True),
        "<notebook-cell-7>",
    )
    exec(compile(text, "<notebook-cell-7>", "exec"), namespace)
    from_cell = bundle(trainable=True)(namespace["cell_function"])
    assert from_cell.parameter.data == text.strip() and from_cell(2).data == 10


def test_bundles_defined_with_python_dash_c(tmp_path):
    import subprocess

    code = (
        "from opto.trace import bundle\n"
        "def f(x):\n    return x + 1\n"
        "g = bundle(trainable=True, source='def f(x):\\n    return x + 1')(f)\n"
        "g.parameter._set('def f(x):\\n    return x + 100')\n"
        "print(g(1).data)\n"
        "try:\n    print(bundle(trainable=True)(f)(1).data)\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={}
    )
    # Python 3.13 keeps the source of `python -c` in linecache; older versions keep none.
    found = "2" if sys.version_info >= (3, 13) else "SourceUnavailableError"
    assert result.stdout.split() == ["101", found], result.stderr


def test_errors_become_exception_nodes_with_annotated_source():
    @bundle()
    def divide(a, b):
        ratio = a / b
        return ratio

    a = node(1, name="a")
    with pytest.raises(ExecutionError) as caught:
        divide(a, 0)
    error_node = caught.value.exception_node
    assert error_node.name == "exception_divide:0"
    assert error_node.data == "(ZeroDivisionError) division by zero"
    assert error_node.parents[0] is a and list(error_node.inputs) == ["a", "b"]
    full = error_node.create_feedback("full")
    assert "ratio = a / b  <--- (ZeroDivisionError) division by zero" in full
    assert "return ratio" in full and "<---" not in full.split("return ratio")[1]
    assert "Traceback" in str(caught.value) and "ZeroDivisionError" in str(caught.value)
    assert isinstance(caught.value.exception, ZeroDivisionError)
    assert caught.value.__cause__ is None  # the traceback is in the message, printed once


def test_errors_in_trainable_code_connect_to_the_code_parameter():
    @bundle(trainable=True)
    def parse(text):
        return int(text)

    with pytest.raises(ExecutionError) as original:
        parse("x")
    annotated = original.value.exception_node.create_feedback("full")
    assert annotated.startswith("def parse(text):")
    assert annotated.splitlines()[1].strip().startswith("return int(text)  <--- (ValueError)")

    parse.parameter._set("def parse(text):\n    value = int(text)\n    return value / 0\n")
    with pytest.raises(ExecutionError) as caught:
        parse("4")
    error_node = caught.value.exception_node
    assert parse.parameter in error_node.parents
    assert "return value / 0  <--- (ZeroDivisionError)" in error_node.create_feedback("full")
    error_node.backward(error_node.create_feedback("full"))
    assert "value / 0" in feedback_graph(parse.parameter).user_feedback


def test_syntax_errors_in_trainable_code_are_reported_the_same_way():
    @bundle(trainable=True)
    def clean(text):
        return text.strip()

    clean.parameter._set("def clean(text):\n    return text.strip(\n")
    with pytest.raises(ExecutionError) as caught:
        clean(" a ")
    error_node = caught.value.exception_node
    assert error_node.data.startswith("(SyntaxError)") and clean.parameter in error_node.parents
    assert "<--- (SyntaxError)" in error_node.create_feedback("full")
    clean.parameter._set("def clean(text):\n    return text.strip()\n")
    assert clean(" a ").data == "a"


def test_renamed_function_in_trainable_code_is_an_error():
    @bundle(trainable=True)
    def keep_name(x):
        return x

    keep_name.parameter._set("def other_name(x):\n    return x\n")
    with pytest.raises(ExecutionError) as caught:
        keep_name(1)
    assert (
        "does not define a top-level function named 'keep_name'" in caught.value.exception_node.data
    )


def test_catch_execution_error_false_raises_the_original():
    @bundle(catch_execution_error=False)
    def fails(x):
        raise KeyError(x)

    with pytest.raises(KeyError):
        fails("k")


def test_errors_in_nested_bundles_keep_the_inner_type():
    @bundle()
    def inner(x):
        return {}[x]

    @bundle()
    def outer(x):
        return inner(x).data

    with pytest.raises(ExecutionError) as caught:
        outer("missing")
    assert caught.value.exception_node.data == "(KeyError) 'missing'"
    assert caught.value.exception_node.name == "exception_outer:0"


def test_static_check_policy_refuses_unsafe_learned_code_as_feedback():
    @bundle(trainable=True, policy="static_check")
    def total(values):
        return sum(values)

    assert total([1, 2]).data == 3
    good = total.parameter.data
    total.parameter._set("import os\n\ndef total(values):\n    return os.getcwd()\n")
    with pytest.raises(ExecutionError) as caught:
        total([1, 2])
    feedback = caught.value.exception_node.create_feedback("full")
    assert (
        "os" in caught.value.exception_node.data
        and total.parameter in caught.value.exception_node.parents
    )
    assert "<---" in feedback
    total.parameter._set(good)
    assert total([1, 2]).data == 3


def test_subprocess_policy_contains_a_hanging_suggestion():
    from opto.runtime import SubprocessPolicy

    @bundle(trainable=True, policy=SubprocessPolicy(wall_time=2, cpu_time=1))
    def square(x):
        return x * x

    assert square(3).data == 9
    square.parameter._set("def square(x):\n    while True:\n        pass\n")
    with pytest.raises(ExecutionError) as caught:
        square(3)
    assert "time" in caught.value.exception_node.data.lower()
    assert square.parameter in caught.value.exception_node.parents


def test_use_policy_applies_to_calls_inside_the_block():
    from opto.runtime import use_policy

    @bundle(trainable=True)
    def shout(text):
        return text.upper()

    shout.parameter._set("import subprocess\n\ndef shout(text):\n    return text.upper()\n")
    assert shout("a").data == "A"
    with use_policy("static_check"), pytest.raises(ExecutionError):
        shout("a")
    assert shout("b").data == "B"
