"""The token budget fits a prompt with at most three renders; the tokenizer is explicit."""

import json
import subprocess
import sys
import textwrap

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OptoPrime
from opto.optimizers.prompt_budget import fit_to_budget
from opto.optimizers.tokens import (
    TokenizerUnavailable,
    count_tokens,
    estimate_tokens,
    resolve_tokenizer,
)
from opto.trace import GRAPH, bundle, node

REPLY = json.dumps({"reasoning": "r", "answer": "", "suggestion": {"p0": "seed"}})


class CountingOptoPrime(OptoPrime):
    """Counts how often the problem text is rendered during a step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.renders = 0

    def render_problem(self, instance):
        self.renders += 1
        return super().render_problem(instance)


def chain(length, value="x"):
    GRAPH.clear()
    p = node("seed", trainable=True, name="p")
    out = p
    for _ in range(length):
        out = out + value
    return p, out


def step(optimizer, out):
    optimizer.zero_feedback()
    optimizer.backward(out, "the text is too long")
    optimizer.step()


@pytest.mark.parametrize("budget", [3000, 200_000, 60])
def test_a_10000_node_graph_is_fitted_with_at_most_three_renders(budget):
    p, out = chain(10_000)
    llm = ScriptedLLM([REPLY])
    optimizer = CountingOptoPrime([p], llm=llm, prompt_token_budget=budget)
    step(optimizer, out)
    user = llm.requests[0]["messages"][1]["content"]
    assert optimizer.renders <= 3
    assert "(str) p0=seed" in user and "the text is too long" in user
    if budget == 3000:  # was 19 renders before the shrink was planned
        assert count_tokens(user) <= budget
        assert "intermediate values further from the outputs are omitted" in user


@bundle()
def size(text):
    """The length of text."""
    return len(text)


def test_long_values_are_shortened_before_nodes_are_left_out():
    GRAPH.clear()
    p = node("seed", trainable=True, name="p")
    out = node(0)
    for i in range(30):
        out = out + size(p + ("y" * 3000 + str(i)))
    llm = ScriptedLLM([REPLY])
    optimizer = CountingOptoPrime([p], llm=llm, prompt_token_budget=12_000)
    step(optimizer, out)
    user = llm.requests[0]["messages"][1]["content"]
    assert optimizer.renders <= 3
    assert "characters omitted)" in user
    assert "intermediate values further from the outputs are omitted" not in user
    assert count_tokens(user) <= 12_000


def test_an_underestimate_is_corrected_by_the_third_render():
    p, out = chain(2_000)
    from opto.optimizers.problem import build_problem

    optimizer = OptoPrime([p], llm=ScriptedLLM([]))
    optimizer.zero_feedback()
    optimizer.backward(out, "fb")
    problem = build_problem(optimizer.trace_graph, optimizer.parameters, "obj")
    texts = []

    def render(shown, values, omitted):
        # markup the estimate does not see: 30 tokens per intermediate node shown
        text = "\n".join(f"{name} {'pad ' * 30}" for name in shown.others)
        texts.append(text)
        return text

    result = fit_to_budget(problem, 20_000, render)
    assert len(texts) == 3
    assert count_tokens(result) <= 20_000


def test_the_default_tokenizer_is_the_estimate_and_choices_are_explicit():
    assert resolve_tokenizer(None) is estimate_tokens
    assert resolve_tokenizer("estimate")("abcdefghi") == 3
    assert resolve_tokenizer(len)("abc") == 3
    with pytest.raises(ValueError, match="unknown tokenizer"):
        resolve_tokenizer("sentencepiece")
    p, _ = chain(1)
    with pytest.raises(ValueError, match="unknown tokenizer"):
        OptoPrime([p], llm=ScriptedLLM([]), prompt_tokenizer="words")


def test_a_missing_encoding_is_a_typed_error_not_a_silent_estimate():
    with pytest.raises(TokenizerUnavailable):
        resolve_tokenizer("tiktoken:no_such_encoding")


COUNT_BOTH_ORDERS = textwrap.dedent(
    """
    import json, sys
    from opto.optimizers.tokens import count_tokens, resolve_tokenizer
    TEXT = "def f(x):\\n    return [i ** 2 for i in range(x)]  # squares\\n" * 50
    def counts():
        try:
            tiktoken_count = resolve_tokenizer("tiktoken")(TEXT)
        except Exception as error:
            tiktoken_count = type(error).__name__
        return [count_tokens(TEXT), tiktoken_count]
    if sys.argv[1] == "litellm-first":
        import litellm  # registers its tokenizer folder with tiktoken
    first = counts()
    import litellm
    print(json.dumps([first, counts()]))
    """
)


def test_token_counts_do_not_depend_on_import_order(tmp_path):
    results = []
    for order in ("opto-first", "litellm-first"):
        done = subprocess.run(
            [sys.executable, "-c", COUNT_BOTH_ORDERS, order],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    (a_before, a_after), (b_before, b_after) = results
    assert a_before == a_after == b_before == b_after
    assert isinstance(a_before[1], int)  # tiktoken loads offline from litellm's files
