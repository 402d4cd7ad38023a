import asyncio
import threading

import pytest

from opto.runtime import (
    ExecutionPolicy,
    InProcessPolicy,
    StaticCheckPolicy,
    SubprocessPolicy,
    get_default_policy,
    make_policy,
    resolve_policy,
    run_function,
    set_default_policy,
    use_policy,
)


@pytest.fixture(autouse=True)
def restore_default():
    previous = get_default_policy()
    yield
    set_default_policy(previous)


def test_the_default_is_in_process_like_trace():
    assert isinstance(get_default_policy(), InProcessPolicy)
    assert resolve_policy() is get_default_policy()


def test_set_default_policy_returns_the_previous_one():
    first = get_default_policy()
    sandbox = SubprocessPolicy()
    assert set_default_policy(sandbox) is first
    assert resolve_policy() is sandbox


def test_explicit_beats_context_beats_default():
    default, context, explicit = InProcessPolicy(), StaticCheckPolicy(), SubprocessPolicy()
    set_default_policy(default)
    with use_policy(context):
        assert resolve_policy() is context
        assert resolve_policy(explicit) is explicit
    assert resolve_policy() is default


def test_use_policy_nests_and_restores():
    outer, inner = InProcessPolicy(), StaticCheckPolicy()
    with use_policy(outer):
        with use_policy(inner):
            assert resolve_policy() is inner
        assert resolve_policy() is outer


def test_use_policy_is_local_to_its_thread():
    seen = []
    with use_policy(StaticCheckPolicy()):
        thread = threading.Thread(target=lambda: seen.append(resolve_policy()))
        thread.start()
        thread.join()
    assert seen == [get_default_policy()]


def test_use_policy_is_inherited_by_tasks_and_local_to_them():
    chosen = StaticCheckPolicy()

    async def inside():
        return resolve_policy()

    async def main():
        with use_policy(chosen):
            inherited = await asyncio.create_task(inside())
        outside = await asyncio.create_task(inside())
        return inherited, outside

    inherited, outside = asyncio.run(main())
    assert inherited is chosen
    assert outside is get_default_policy()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("in_process", InProcessPolicy),
        ("static_check", StaticCheckPolicy),
        ("subprocess", SubprocessPolicy),
    ],
)
def test_policies_can_be_named(name, kind):
    assert isinstance(make_policy(name), kind)
    assert isinstance(resolve_policy(name), kind)
    with use_policy(name) as policy:
        assert isinstance(policy, kind)


def test_an_unknown_policy_is_a_type_error_naming_the_choices():
    with pytest.raises(TypeError, match="'in_process', 'static_check', 'subprocess'"):
        make_policy("docker")
    with pytest.raises(TypeError):
        set_default_policy(42)  # type: ignore[arg-type]


def test_run_function_uses_the_resolved_policy():
    calls = []

    class Recording(InProcessPolicy):
        def load(self, source, function_name, namespace=None, *, filename=None):
            calls.append(function_name)
            return super().load(source, function_name, namespace, filename=filename)

    code = "def double(x):\n    return 2 * x\n"
    with use_policy(Recording()):
        assert run_function(code, "double", (21,)) == 42
    assert run_function(code, "double", kwargs={"x": 2}, policy=Recording()) == 4
    assert calls == ["double", "double"]


def test_a_custom_policy_only_needs_load():
    class Echo(ExecutionPolicy):
        def load(self, source, function_name, namespace=None, *, filename=None):
            return lambda *args: (function_name, args)

    assert Echo().run("ignored", "f", (1, 2)) == ("f", (1, 2))


def test_importing_the_runtime_does_not_load_the_sandbox_or_asyncio():
    import subprocess
    import sys

    code = (
        "import sys, opto.runtime\n"
        "print([m for m in ('opto.runtime.sandbox', 'opto.runtime.static_check', 'asyncio') "
        "if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    lazy = (
        "import opto.runtime as r; print(r.SubprocessPolicy.__name__, r.StaticCheckPolicy.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", lazy], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["SubprocessPolicy", "StaticCheckPolicy"]


def test_the_static_check_wraps_a_policy_object_not_a_name():
    from opto.runtime import StaticCheckPolicy

    with pytest.raises(TypeError, match="SubprocessPolicy"):
        StaticCheckPolicy(inner="subprocess")
