"""The static check's rules on code that names attributes with strings: format strings and
getattr-like calls.

``"{0.__class__}".format(x)``, ``getattr(x, name)`` and ``operator.attrgetter("a.b")`` read
attributes that never appear as ``x.name`` in the tree, so the attribute rules would not see
them. ``CallChecks`` holds the checks that make such reads visible (only literal names, each
judged like a written ``x.name``); ``RuleVisitor`` (opto.runtime.static_visitor) mixes it in.
"""

from __future__ import annotations

import ast
import builtins
import operator
import string

from opto.runtime.static_rules import ATTRIBUTE_FUNCTIONS, FORMAT_METHODS
from opto.runtime.static_values import MISSING

# The getattr-like callables, by id(): the check recognises them under any name.
ATTRIBUTE_FUNCTION_OBJECTS = {
    id(builtins.getattr): "getattr",
    id(builtins.hasattr): "hasattr",
    id(builtins.setattr): "setattr",
    id(builtins.delattr): "delattr",
    id(operator.attrgetter): "attrgetter",
    id(operator.methodcaller): "methodcaller",
}
_TARGETED = ("getattr", "hasattr", "setattr", "delattr")  # first argument: the object


class CallChecks:
    """The format-string and getattr-like call checks of ``RuleVisitor`` (mixed into it).

    They use the visitor's ``rules``, ``resolver``, ``facts`` and ``namespace``, its
    ``report``, ``resolve``, ``binding_scope`` and ``check_value``, and record in its
    ``called`` and ``attribute_bases`` which nodes are called or read through.
    """

    # -- format strings ----------------------------------------------------------------------

    def check_format_receiver(self, node: ast.AST, receiver: ast.expr) -> None:
        """``receiver.format(...)`` at ``node`` is allowed only when ``receiver`` is a known
        string whose fields read no refused attribute."""
        texts = self.constant_strings(receiver)
        if texts is None:
            self.report(
                node,
                "str.format and format_map are allowed only on a string literal (or a name "
                "set only to literals), because a format string can read attributes; "
                "use an f-string",
            )
            return
        for text in texts:
            if problem := self.format_problem(text):
                self.report(node, problem)

    def constant_strings(self, node: ast.expr) -> list[str] | None:
        """The strings ``node`` can be (a literal, or a name only ever set to literals or
        given one by the namespace), or None when the check cannot know."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if not isinstance(node, ast.Name):
            return None
        scope = self.binding_scope(node.id)
        if scope is None:
            value = self.namespace.get(node.id)
            return [value] if isinstance(value, str) else None
        if node.id in self.facts.rebound_elsewhere:
            return None
        constants = scope.constant_strings(node.id)
        return None if constants is None else [constant.value for constant in constants]

    def format_problem(self, text: str, depth: int = 0) -> str | None:
        """Why the format string ``text`` is refused (a field reads a refused attribute);
        ``depth`` counts nested format specs, which are checked two levels deep."""
        try:
            fields = list(string.Formatter().parse(text))
            for _, field, spec, _ in fields:
                for name in _field_attributes(field or ""):
                    if problem := self.rules.attribute_problem(name):
                        return f"format strings may not read refused attributes: field {field!r}: {problem}"
                if spec and depth < 2 and (problem := self.format_problem(spec, depth + 1)):
                    return problem
        except ValueError as error:
            return f"the format string is malformed ({error})"
        return None

    # -- calls that name attributes with strings ---------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        """A call ``node``: calls of getattr-like functions must name attributes literally."""
        self.called.add(id(node.func))
        kind = self.attribute_function(node.func)
        if kind is not None:
            self.check_attribute_call(node, kind)
        self.generic_visit(node)

    def attribute_function(self, function: ast.expr) -> str | None:
        """Which getattr-like callable ``function`` is, if it is one."""
        value = self.resolve(function)
        if value is not MISSING:
            return ATTRIBUTE_FUNCTION_OBJECTS.get(id(value))
        if isinstance(function, ast.Attribute) and function.attr in ATTRIBUTE_FUNCTIONS:
            return function.attr  # on an object the check cannot see: judged by its name
        return None

    def check_attribute_call(self, node: ast.Call, kind: str) -> None:
        """The call ``node`` of the getattr-like function ``kind`` (``getattr``,
        ``attrgetter``, ...): its attribute names must be string literals and allowed."""
        index, action = ATTRIBUTE_FUNCTIONS[kind]
        arguments = node.args
        if any(isinstance(argument, ast.Starred) for argument in arguments):
            self.report(node, f"{kind}() with unpacked arguments cannot be checked")
            return
        names = arguments if index is None else arguments[index : index + 1]
        target = arguments[0] if kind in _TARGETED and arguments else None
        if target is not None:
            self.attribute_bases.add(id(target))
        for argument in names:
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                self.report(node, f"{kind}() with a computed attribute name cannot be checked")
                continue
            parts = argument.value.split(".") if kind == "attrgetter" else [argument.value]
            for part in parts:
                problem = self.rules.attribute_problem(part)
                if not problem and part in FORMAT_METHODS:
                    problem = f"{kind}() of {part!r} cannot be checked; call it directly"
                if not problem and part in ATTRIBUTE_FUNCTIONS:
                    problem = f"{kind}() of {part!r} is not allowed"
                if problem:
                    self.report(node, problem)
            if target is not None:
                self.check_named_attribute(node, target, argument.value, action)

    def check_named_attribute(self, node: ast.Call, target: ast.expr, name: str, action: str):
        """``getattr(target, "name")`` and friends at ``node``, judged like ``target.name``;
        ``action`` is ``"write"`` for setattr/delattr, which may not change shared objects."""
        base = self.resolve(target)
        if base is MISSING:
            return
        shown = f"{dotted(target)}.{name}"
        if action == "write":
            self.report(node, shared_change(f"changing {shown} with a function", target))
        else:
            self.check_value(node, self.resolver.attribute(base, name), shown)


def shared_change(what: str, owner: ast.expr) -> str:
    """The refusal of ``what`` (a write, written out) to ``owner``, an object shared with the
    rest of the program."""
    return (
        f"{what} is not allowed: {dotted(owner)} is shared with the rest of the program "
        "(a module, or an object the code did not create)"
    )


def dotted(node: ast.expr) -> str:
    """How the code writes ``node`` (``a.b.c``), for messages; ``(expression)`` otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "(expression)"


def _field_attributes(field: str) -> list[str]:
    """The attribute names a format field reads: ``"0.a[k].b"`` -> ``["a", "b"]``."""
    cut = min((i for i in (field.find("."), field.find("[")) if i >= 0), default=len(field))
    rest = field[cut:]
    names = []
    while rest:
        if rest[0] == ".":
            ends = [i for i in (rest.find(".", 1), rest.find("[", 1)) if i >= 0]
            end = min(ends, default=len(rest))
            names.append(rest[1:end])
            rest = rest[end:]
        elif rest[0] == "[":
            end = rest.find("]")
            if end < 0:
                raise ValueError("missing ']' in a format field")
            rest = rest[end + 1 :]
        else:
            raise ValueError("unexpected character after a format field index")
    return names


__all__ = ["ATTRIBUTE_FUNCTION_OBJECTS", "CallChecks", "dotted", "shared_change"]
