"""Names of the caller's module travel into the sandbox only when they cannot carry
credentials: modules, classes and functions by name, plain data by value; never an object
such as an LLM client holding an API key, nor a value holding a credential of the
environment."""

import functools
import json
import re
import textwrap

import pytest

from opto.llm.openai_backend import OpenAIBackend
from opto.runtime import SubprocessPolicy

KEY = "sk-test-0123456789abcdef"
LEAK = "def f():\n    return repr(vars(NAME)) if hasattr(NAME, '__dict__') else repr(NAME)\n"


@pytest.fixture
def client():
    return OpenAIBackend("some-model", api_key=KEY)


@pytest.mark.parametrize(
    "make",
    [
        lambda client: client,
        lambda client: client.create,
        lambda client: functools.partial(client.create, model="other"),
        lambda client: [client],
    ],
    ids=["client", "bound method", "partial", "list holding it"],
)
def test_an_llm_client_named_by_the_code_does_not_carry_its_key_into_the_sandbox(
    sandbox, client, make
):
    function = sandbox.load(LEAK, "f", {"NAME": make(client)})
    with pytest.raises(NameError) as caught:
        function()
    message = str(caught.value)
    assert KEY not in message
    assert "objects are not sent into the sandbox because they may carry credentials" in message
    assert re.search(r"it is an instance of [\w.]+(OpenAIBackend|method|partial)", message)


def test_a_value_holding_a_credential_of_the_environment_stays_out(sandbox, monkeypatch):
    monkeypatch.setenv("SERVICE_TOKEN", "tok-9f8e7d6c5b4a")
    settings = {"endpoint": "https://example.invalid", "headers": {"auth": "tok-9f8e7d6c5b4a"}}
    function = sandbox.load(LEAK, "f", {"NAME": settings})
    with pytest.raises(NameError, match="SERVICE_TOKEN, which looks like a credential"):
        function()


def test_modules_classes_functions_and_plain_data_still_travel(sandbox):
    code = textwrap.dedent(
        """
        def f():
            return (json.dumps(DATA), Pattern.sub("-", "a b"), helper("x"), Kind.__name__)
        """
    )
    names = {
        "json": json,
        "DATA": {"scale": 2.5, "labels": ("a", "b")},
        "Pattern": re.compile(r"\s"),
        "helper": textwrap.dedent,
        "Kind": SubprocessPolicy,
    }
    assert sandbox.load(code, "f", names)() == (
        '{"scale": 2.5, "labels": ["a", "b"]}',
        "a-b",
        "x",
        "SubprocessPolicy",
    )
