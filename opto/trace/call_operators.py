"""Traced operators that reach into objects: attribute access, calls and LLM calls.

They differ from the arithmetic operators in two ways that Trace users rely on:

* ``call`` hands the called function the argument *nodes*, not their data (a function that
  computes with nodes builds a nested graph, as in Trace);
* when the attribute or the call result is itself a node, the output holds that node's
  data, and the parameters behind it receive feedback as hidden dependencies of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opto.trace.node_fields import new_node
from opto.trace.nodes import MessageNode, Node, ParameterNode
from opto.trace.primitive import Operator, operator


class NodeResultOperator(Operator):
    """An operator whose function may return a node; the output keeps that node's data.

    Args:
        fn: the function; its docstring is the operator's documentation.
        pass_nodes: call ``fn`` with the input nodes instead of their data.
    """

    def __init__(self, fn: Callable, pass_nodes: bool = False) -> None:
        super().__init__(fn)
        self.pass_nodes = pass_nodes

    def __call__(self, *args: Any, **kwargs: Any) -> MessageNode:
        result, inputs = self.run(args, kwargs, self.pass_nodes)
        if not isinstance(result, Node):
            return new_node(MessageNode, result, self.name, self.description, inputs, self)
        output = new_node(MessageNode, result._data, self.name, self.description, inputs, self)
        hidden = _parameters_behind(result) - _parameters_behind(*inputs.values())
        if hidden:
            output._set_hidden_dependencies(hidden)
        return output


def _parameters_behind(*nodes: Node) -> set[ParameterNode]:
    found: set[ParameterNode] = set()
    for item in nodes:
        found |= item.parameter_dependencies
        if isinstance(item, ParameterNode):
            found.add(item)
    return found


def node_result_operator(pass_nodes: bool = False) -> Callable[[Callable], NodeResultOperator]:
    """Decorator making a NodeResultOperator; ``pass_nodes`` calls the function with the
    input nodes instead of their data."""
    return lambda fn: NodeResultOperator(fn, pass_nodes=pass_nodes)


@node_result_operator()
def node_getattr(obj: Any, attr: str) -> Any:
    """The attribute attr of obj."""
    return getattr(obj, attr)


@node_result_operator(pass_nodes=True)
def call(fun: Any, *args: Any, **kwargs: Any) -> Any:
    """The result of calling fun with the arguments."""
    function = fun._data if isinstance(fun, Node) else fun
    if not callable(function):
        raise TypeError(f"{type(function).__name__} object is not callable")
    return function(*args, **kwargs)


@operator
def get(x: Any, key: Any, default: Any = None) -> Any:
    """The value of x for key, or default when x has no such key (x.get(key, default))."""
    if not hasattr(x, "get"):
        raise AttributeError(f"{type(x).__name__} object has no attribute 'get'.")
    return x.get(key, default)


def _messages(system_prompt: Any, user_prompts: tuple) -> list[dict[str, Any]]:
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages.extend({"role": "user", "content": prompt} for prompt in user_prompts)
    return messages


@operator(name="call_llm")
def call_given_llm(llm: Any, system_prompt: str, *user_prompts: Any, **kwargs: Any) -> str:
    """The reply of the language model llm to the system prompt and the user prompts."""
    response = llm(messages=_messages(system_prompt, user_prompts), **kwargs)
    return response.choices[0].message.content


@operator(name="call_llm")
def call_default_llm(system_prompt: str, *user_prompts: Any, **kwargs: Any) -> str:
    """The reply of the default language model to the system prompt and the user prompts."""
    from opto.llm.factory import LLM

    response = LLM()(messages=_messages(system_prompt, user_prompts), **kwargs)
    return response.choices[0].message.content


def call_llm(*args: Any, **kwargs: Any) -> MessageNode:
    """Traced LLM call in either of Trace's two forms.

    ``call_llm(llm, system_prompt, *user_prompts, **kwargs)`` (Trace 0.2) asks the model
    ``llm``; ``call_llm(system_prompt, *user_prompts, **kwargs)`` (Trace 0.1) asks the default
    model, ``opto.llm.LLM()``, configured by the environment (OPTO_LLM_MODEL,
    OPTO_LLM_BASE_URL, ...). The first form is recognised by its first argument: a model (or a
    node holding one) rather than a string. Each user prompt is one user message; a None system
    prompt is left out. Returns a MessageNode of the reply's text; errors are raised as
    ``ExecutionError`` with the inputs connected, like every operator.
    """
    if "llm" in kwargs or (args and _is_model(args[0])):
        return call_given_llm(*args, **kwargs)
    return call_default_llm(*args, **kwargs)


def _is_model(value: Any) -> bool:
    data = value._data if isinstance(value, Node) else value
    return data is not None and not isinstance(data, str) and callable(data)
