"""A code parameter says what it is: CodeSpec (function name, signature, execution policy)."""

import inspect
import pickle

from opto.optimizers.optimizer import Optimizer
from opto.optimizers.updates import plan_updates
from opto.runtime import InProcessPolicy, StaticCheckPolicy
from opto.trace import bundle, node
from opto.trace.code_spec import CodeSpec
from opto.trace.nodes import ParameterNode


@bundle(trainable=True)
def scale(x, factor=2):
    """Scale x."""
    return x * factor


@bundle(trainable=True, policy="static_check")
def checked(x):
    return x + 1


def test_a_trainable_bundle_describes_its_code():
    spec = scale.parameter.code_spec
    assert spec.function_name == "scale"
    assert spec.signature == inspect.signature(scale.fn)
    assert spec.policy is None
    assert isinstance(checked.parameter.code_spec.policy, StaticCheckPolicy)


def test_other_values_have_no_code_spec():
    assert node(3, trainable=True).code_spec is None
    assert node("def f(): pass").code_spec is None
    assert (node(1) + 1).code_spec is None


def test_a_hand_made_code_parameter_is_described_from_its_source():
    """Trace's convention: a parameter named ``__code`` made by hand holds code."""
    parameter = node("def helper(a):\n    return a", name="__code", trainable=True)
    assert parameter.code_spec == CodeSpec("helper")
    broken = ParameterNode("def (:", name="__code_x")
    assert broken.code_spec == CodeSpec("")


def test_an_optimizer_policy_applies_only_where_the_bundle_chose_none():
    @bundle(trainable=True)
    def free(x):
        return x

    @bundle(trainable=True, policy=InProcessPolicy())
    def chosen(x):
        return x

    chosen_policy = chosen.parameter.code_spec.policy
    Optimizer([free.parameter, chosen.parameter], policy="static_check")
    assert isinstance(free.parameter.code_spec.policy, StaticCheckPolicy)
    assert chosen.parameter.code_spec.policy is chosen_policy


def test_the_policy_in_the_spec_refuses_code_before_it_is_applied():
    plan = plan_updates(
        {checked.parameter.py_name: "import os\ndef checked(x):\n    return os.getcwd()"},
        [checked.parameter],
    )
    assert plan.accepted == {}, plan
    assert "execution policy" in next(iter(plan.refused.values())), plan


def test_each_instance_of_a_bundled_method_has_its_own_spec():
    class Agent:
        @bundle(trainable=True, policy="static_check")
        def act(self, x):
            return x

    first, second = Agent(), Agent()
    a, b = first.act.parameter.code_spec, second.act.parameter.code_spec
    assert a is not b and a.function_name == b.function_name == "act"
    assert isinstance(a.policy, StaticCheckPolicy)


def test_pickling_keeps_the_spec_and_reads_older_pickles():
    parameter = scale.parameter
    restored = pickle.loads(pickle.dumps(parameter))
    assert restored.code_spec.function_name == "scale"

    # A state written before CodeSpec existed: the policy was an attribute of the node.
    state = parameter.__getstate__()
    del state["_code_spec"]
    state["__dict__"] = {"execution_policy": InProcessPolicy()}
    old = object.__new__(ParameterNode)
    old.__setstate__(state)
    assert old.code_spec.function_name == "scale"
    assert isinstance(old.code_spec.policy, InProcessPolicy)
    assert "execution_policy" not in old.__dict__
