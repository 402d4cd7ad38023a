"""The canonical form of code: what counts as the same program for novelty filtering."""

import pytest

from opto.trainer.algorithms.canonical_code import canonical_code, canonical_hash

LRML = '''
import numpy as np

def lrml(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    """Log-ratio modulated loss."""
    rho = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    x = beta * rho  # scaled margin
    weight = 1 / (1 + np.exp(-x / 0.05))
    expo = np.exp(-x)
    return (1 - weight) * np.log1p(expo) + weight * expo
'''

RENAMED = """
import numpy as np
def discopop(a, b, c, d, t):
    margin = (a - c) - (b - d)
    z = t * margin
    w = 1 / (1 + np.exp(-z / 0.05))
    e = np.exp(-z)
    return (1 - w) * np.log1p(e) + w * e
"""

REORDERED = """
import numpy as np
def lrml(pc, pr, rc, rr, beta):
    rho = (pc - rc) - (pr - rr)
    x = beta * rho
    expo = np.exp(-x)
    weight = 1 / (1 + np.exp(-x / 0.05))
    return (1 - weight) * np.log1p(expo) + weight * expo
"""


def test_renamed_variables_comments_and_docstrings_do_not_count():
    assert canonical_code(LRML) == canonical_code(RENAMED)


def test_independent_statements_in_another_order_do_not_count():
    assert canonical_hash(LRML) == canonical_hash(REORDERED)


@pytest.mark.parametrize(
    "different",
    [
        LRML.replace("0.05", "0.1"),  # another constant
        LRML.replace("np.log1p(expo)", "np.log(expo)"),  # another function
        LRML.replace("policy_chosen - ref_chosen", "ref_chosen - policy_chosen"),  # order of use
    ],
)
def test_a_real_change_is_a_different_program(different):
    assert canonical_code(LRML) != canonical_code(different)


def test_dependent_statements_keep_their_order():
    first = "def f(x):\n    y = x + 1\n    y = y * 2\n    return y\n"
    second = "def f(x):\n    y = x * 2\n    y = y + 1\n    return y\n"
    assert canonical_code(first) != canonical_code(second)


def test_calls_made_for_their_effect_do_not_move():
    first = "def f(x):\n    log(x)\n    y = x + 1\n    save(y)\n    return y\n"
    second = "def f(x):\n    save(x)\n    y = x + 1\n    log(y)\n    return y\n"
    assert canonical_code(first) != canonical_code(second)


def test_nested_blocks_are_canonical_too():
    first = "def f(x):\n    if x:\n        a = x + 1\n        b = x * 2\n        return a + b\n    return 0\n"
    second = "def f(y):\n    if y:\n        q = y * 2\n        p = y + 1\n        return p + q\n    return 0\n"
    assert canonical_code(first) == canonical_code(second)


@pytest.mark.parametrize("text", ["def f(:", "plain prose, not code", "", "(" * 5000])
def test_text_that_is_not_code_gets_its_stripped_lines(text):
    assert isinstance(canonical_code(text), str)
    assert canonical_code("  a  \n\n b") == canonical_code("a\nb")
