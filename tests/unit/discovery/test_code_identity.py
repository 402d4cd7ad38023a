"""Normalised code and its hash (deduplication), finding the loss, and the static check."""

import pytest

from opto.discovery import (
    LossContractError,
    code_hash,
    loss_function_name,
    normalize_code,
    reference_loss_source,
)
from opto.discovery.interface import MAX_CODE_CHARS, static_problems

DPO_PLAIN = """\
def dpo(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
        reference_rejected_logps, beta):
    rho = (policy_chosen_logps - reference_chosen_logps) - (
        policy_rejected_logps - reference_rejected_logps
    )
    return np.logaddexp(0.0, -beta * rho)
"""

DPO_DRESSED = '''\
def bradley_terry(policy_chosen_logps, policy_rejected_logps,
                  reference_chosen_logps, reference_rejected_logps, beta: float):
    """The classic logistic loss."""
    # implicit reward margin
    rho = ((policy_chosen_logps - reference_chosen_logps)
           - (policy_rejected_logps - reference_rejected_logps))
    return np.logaddexp(0., -beta * rho)   # -log sigmoid
'''


def test_comments_docstrings_layout_annotations_and_name_do_not_matter():
    assert normalize_code(DPO_PLAIN) == normalize_code(DPO_DRESSED)
    assert code_hash(DPO_PLAIN) == code_hash(DPO_DRESSED)


def test_the_reference_source_with_annotations_and_docstring_is_the_same_loss():
    assert code_hash(reference_loss_source("dpo")) == code_hash(DPO_PLAIN)


def test_a_changed_constant_or_expression_is_a_different_loss():
    assert code_hash(DPO_PLAIN) != code_hash(DPO_PLAIN.replace("0.0, -beta", "1.0, -beta"))
    assert code_hash(DPO_PLAIN) != code_hash(DPO_PLAIN.replace("-beta * rho", "-(beta * rho)"))


def test_the_loss_is_renamed_everywhere_it_is_used():
    recursive = "def f(a, b, c, d, beta):\n    return g(a) + 0 * f\n\ndef g(x):\n    return x\n"
    normalized = normalize_code(recursive)
    assert "def loss(a, b, c, d, beta)" in normalized
    assert "0 * loss" in normalized
    assert "def g(x)" in normalized


def test_no_rename_when_the_code_already_uses_the_name_loss():
    code = "def f(a, b, c, d, beta):\n    loss = a - b\n    return loss\n"
    assert "def f(" in normalize_code(code)


def test_a_function_left_empty_by_its_docstring_keeps_a_body():
    assert "pass" in normalize_code('def f(a, b, c, d, beta):\n    """only a docstring"""\n')


def test_code_that_does_not_parse_is_compared_by_its_stripped_lines():
    broken = "def f(a, b, c, d, beta):\n    return (a\n"
    assert code_hash(broken) == code_hash("\n" + broken.replace("    ", "  ") + "\n\n")
    assert code_hash(broken) != code_hash(broken.replace("(a", "(b"))


def test_the_loss_is_the_function_with_five_parameters():
    code = "def helper(x):\n    return x\n\n" + DPO_PLAIN
    assert loss_function_name(code) == "dpo"


def test_defaults_count_as_parameters():
    assert loss_function_name("def f(a, b, c, d, beta=0.1):\n    return a\n") == "f"


@pytest.mark.parametrize(
    "code, message",
    [
        ("x = 1\n", "defines no function"),
        ("def f(a, b):\n    return a\n", r"found: f \(2 parameters\)"),
        ("async def f(a, b, c, d, e):\n    return a\n", "must be a plain def"),
        (DPO_PLAIN + "\n" + DPO_PLAIN.replace("dpo", "other"), "several functions"),
        ("#" * (MAX_CODE_CHARS + 1), "keep it under"),
    ],
)
def test_code_without_exactly_one_loss_is_refused(code, message):
    with pytest.raises(LossContractError, match=message):
        loss_function_name(code)


def test_the_proposed_name_breaks_a_tie():
    code = DPO_PLAIN + "\n" + DPO_PLAIN.replace("def dpo", "def other")
    assert loss_function_name(code, "other") == "other"


def test_syntax_errors_propagate():
    with pytest.raises(SyntaxError):
        loss_function_name("def f(a, b, c, d, beta):\n    return (\n")


def test_numpy_and_math_pass_the_static_check():
    code = "import math\nimport numpy as np\nfrom numpy import logaddexp\n" + DPO_PLAIN
    assert static_problems(code) is None


def test_the_static_check_names_every_problem_line():
    code = (
        "import os\nimport socket\n\n"
        "def f(a, b, c, d, beta):\n    open('x', 'w').write('y')\n    return a.__class__\n"
    )
    problems = static_problems(code)
    assert "4 problems" in problems
    for fragment in ("line 1", "import of 'os'", "line 2", "line 5", "'open'", "line 6"):
        assert fragment in problems
    assert "Only numpy (as np) and math may be imported." in problems


SIGNATURE = (
    "def f(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
    "reference_rejected_logps, beta):\n"
)
UNPARSABLE = {
    "a null byte": (SIGNATURE + "    return 1\x00\n", "null bytes"),
    "a lone surrogate": (SIGNATURE + "    return '\ud800'\n", "the code cannot be parsed"),
}


@pytest.mark.parametrize("code, message", UNPARSABLE.values(), ids=UNPARSABLE)
def test_code_that_python_cannot_parse_is_a_syntax_error_and_still_has_a_hash(code, message):
    # ast.parse raises ValueError or SyntaxError for these, by version; both become feedback.
    assert len(code) < MAX_CODE_CHARS
    with pytest.raises(SyntaxError, match=message):
        loss_function_name(code)
    assert code_hash(code) == code_hash(code.replace("    return", "  return"))


@pytest.mark.parametrize(
    "body",
    ["+".join(["1"] * 6000), "-" * 5000 + "1", "not " * 4000 + "1", "f" + "()" * 4000],
    ids=["sum", "minus", "not", "calls"],
)
def test_deeply_nested_code_is_refused_with_feedback_on_every_python(body):
    # Python 3.11 cannot parse these; 3.10 and 3.13 can, and then the check must refuse them.
    code = SIGNATURE + "    return " + body + "\n"
    try:
        loss_function_name(code)
    except SyntaxError as error:
        assert "too deeply" in str(error)
    else:
        assert "nested too deeply to be checked" in static_problems(code)
    assert code_hash(code) == code_hash(code.replace("    return", "  return"))
