"""Export a trained module as a standalone Python file: its class with what was learned.

The class source is rewritten with ``ast``: each trainable bundled method becomes the learned
code (its decorators kept), and each ``self.x = node(<initial>, ...)`` in ``__init__`` gets
the learned value as its first argument. The file also carries the defining module's imports
and the top-level definitions the class refers to, so it imports and runs on its own.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from pathlib import Path
from typing import Any

from opto.trace.containers import ParameterContainer, trainable_method
from opto.trace.nodes import ParameterNode
from opto.utils.atomic import atomic_write_text
from opto.utils.errors import OptoError


class ExportError(OptoError, ValueError):
    """The module cannot be written as source (e.g. a value has no literal form)."""


def export_module(
    module: ParameterContainer, path: str | os.PathLike, projections: list | None = None
) -> Path:
    """Write ``module``'s class, with learned code and values, to ``path``; the source text
    is passed through each of ``projections`` (a formatter, say) before it is written."""
    base = getattr(type(module), "_opto_model_base", type(module))
    try:
        class_source = textwrap.dedent(inspect.getsource(base))
    except (OSError, TypeError) as error:
        raise ExportError(f"cannot find the source of class {base.__qualname__}") from error
    class_tree = ast.parse(class_source).body[0]
    if not isinstance(class_tree, ast.ClassDef):
        raise ExportError(f"{base.__qualname__} is not defined by a class statement")
    _replace_learned_methods(class_tree, module)
    _replace_learned_values(class_tree, module)
    header = _module_context(base, class_tree)
    text = "\n\n".join(
        [
            f'"""{base.__qualname__} exported by opto with its learned code and values."""',
            *header,
            ast.unparse(ast.fix_missing_locations(class_tree)),
        ]
    )
    text = _apply_projections(text, projections) + "\n"
    compile(text, str(path), "exec")
    return atomic_write_text(path, text)


def _replace_learned_methods(class_tree: ast.ClassDef, module: ParameterContainer) -> None:
    for index, statement in enumerate(class_tree.body):
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        attribute = inspect.getattr_static(type(module), statement.name, None)
        if not trainable_method(attribute):
            continue
        learned = ast.parse(textwrap.dedent(getattr(module, statement.name).parameter._data)).body
        definition = next(
            (s for s in learned if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))), None
        )
        if definition is None or definition.name != statement.name:
            raise ExportError(f"the learned code of {statement.name} does not define it")
        definition.decorator_list = statement.decorator_list
        helpers = [s for s in learned if s is not definition]
        class_tree.body[index : index + 1] = [*helpers, definition]


def _replace_learned_values(class_tree: ast.ClassDef, module: ParameterContainer) -> None:
    init = next(
        (s for s in class_tree.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"),
        None,
    )
    if init is None:
        return
    for statement in ast.walk(init):
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            continue
        target = statement.targets[0]
        if not (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            continue
        current = module.__dict__.get(target.attr)
        if not isinstance(current, ParameterNode):
            continue
        if not isinstance(statement.value, ast.Call) or not statement.value.args:
            raise ExportError(
                f"self.{target.attr} is not created by a call like node(value, ...); "
                "write it that way so its learned value can be exported"
            )
        statement.value.args[0] = _literal(current._data, target.attr)


def _literal(value: Any, name: str) -> ast.expr:
    text = repr(value)
    try:
        if ast.literal_eval(text) != value:
            raise ValueError(text)
    except (ValueError, SyntaxError) as error:
        raise ExportError(
            f"the value of {name} ({type(value).__name__}) has no literal form"
        ) from error
    return ast.parse(text, mode="eval").body


def _module_context(base: type, class_tree: ast.ClassDef) -> list[str]:
    """Imports of the defining module and the top-level definitions the class uses."""
    try:
        module_tree = ast.parse(inspect.getsource(inspect.getmodule(base)))
    except (OSError, TypeError):
        return []
    imports = [s for s in module_tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    definitions = {}
    for statement in module_tree.body:
        for name in _defined_names(statement):
            definitions.setdefault(name, statement)
    needed: list[ast.stmt] = []
    pending = _used_names(class_tree)
    seen = {class_tree.name}
    while pending:
        name = pending.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        statement = definitions[name]
        if statement not in needed:
            needed.append(statement)
            pending |= _used_names(statement)
    ordered = [s for s in module_tree.body if s in needed]
    return [ast.unparse(s) for s in imports] + [ast.unparse(s) for s in ordered]


def _defined_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    return []


def _used_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _apply_projections(text: str, projections: list | None) -> str:
    for projection in projections or ():
        text = projection(text)
    return text
