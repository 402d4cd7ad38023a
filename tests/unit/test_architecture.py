"""The package's import structure: no cycles, and no module imports a layer above its own.

The graph is built from the source with ``ast``, so imports inside functions count as much as
imports at module level (a function-level import hides a cycle from Python, not from a
reader). Relative imports are resolved against the importing module.

Layers, from the bottom (a module may import its own layer and the layers below):

====  ==========================================
  0   ``opto.utils``, ``opto.version``
  1   ``opto.llm``, ``opto.runtime``
  2   ``opto.trace``
  3   ``opto.optimizers``
  4   ``opto.trainer``
  5   ``opto.optimize_anything``
  6   ``opto.discovery``
  7   ``opto.cli``, ``opto.report``, ``opto.features``, ``opto.__main__``
====  ==========================================

``llm`` and ``runtime`` sit below ``trace``: neither needs a node, while the trace runs a
bundle's learned code under a runtime execution policy and its ``call_llm`` operator calls
the default model. ``opto`` itself (the package ``__init__``) sits above everything: it only
re-exports.

A module at one of Trace's import paths that re-exports a higher package is placed in that
package's layer (``MOVED``), so nothing below may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
ROOT = REPOSITORY / "opto"

LAYERS = {
    "utils": 0,
    "version": 0,
    "llm": 1,
    "runtime": 1,
    "trace": 2,
    "optimizers": 3,
    "trainer": 4,
    "optimize_anything": 5,
    "discovery": 6,
    "cli": 7,
    "report": 7,
    "features": 7,
    "__main__": 7,
}

MOVED = {
    # Trace's path for the LLM classes (``from opto.utils.llm import LLM``): shims over opto.llm.
    "opto.utils.llm": LAYERS["llm"],
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_names(module: str, is_package: bool, tree: ast.AST) -> list[str]:
    """Every module name an import statement anywhere in ``tree`` may refer to."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of opto it imports}``, package-to-own-submodule edges left out.

    A package importing its submodules (re-exports) and a submodule importing its package's
    ``__init__`` are how Python packages work, not layering, so they are not edges.
    """
    files = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imported_names(module, path.name == "__init__.py", tree):
            while target and target not in files:
                target = target.rpartition(".")[0]
            if (
                target
                and target != module
                and not target.startswith(module + ".")
                and not module.startswith(target + ".")
            ):
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer(module: str) -> int | None:
    if module in MOVED:
        return MOVED[module]
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        own = layer(module)
        for target in sorted(targets):
            other = layer(target)
            if own is not None and other is not None and other > own:
                found.append(f"{module} (layer {own}) imports {target} (layer {other})")
    return found


def unresolved_opto_imports() -> list[str]:
    """Imports of an ``opto`` module that does not exist (``from opto.x import y`` where
    ``opto.x`` is no module or package): an import inside a function fails only when the
    function runs, so a module moved or deleted can leave one behind unnoticed."""
    files = {_module_name(path) for path in ROOT.rglob("*.py")}
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for name in modules:
                if (name == "opto" or name.startswith("opto.")) and name not in files:
                    found.append(f"{_module_name(path)} line {node.lineno} imports {name}")
    return found


def test_every_import_of_an_opto_module_resolves():
    assert unresolved_opto_imports() == []


def test_every_subpackage_has_a_layer():
    subpackages = {name.split(".")[1] for name in import_graph() if "." in name}
    assert subpackages <= set(LAYERS), sorted(subpackages - set(LAYERS))


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_upward_imports():
    assert upward_imports(import_graph()) == []


def test_the_checks_see_function_level_and_relative_imports(tmp_path):
    """The graph builder itself: a cycle closed inside a function, through a relative import,
    is found, and an upward import is reported."""
    tree = ast.parse("def f():\n    from .b import g\n")
    assert "opto.trace.b" in _imported_names("opto.trace.a", False, tree)
    assert "opto.trace" in _imported_names("opto.trace", True, ast.parse("from . import x"))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert upward_imports({"opto.trace.x": {"opto.optimizers.y"}, "opto.optimizers.y": set()}) == [
        "opto.trace.x (layer 2) imports opto.optimizers.y (layer 3)"
    ]
    assert upward_imports({"opto.utils.x": {"opto.utils.llm"}, "opto.utils.llm": set()}) == [
        "opto.utils.x (layer 0) imports opto.utils.llm (layer 1)"
    ]


def _module_state_names() -> dict[str, str]:
    """Names of module-level context variables and of names rebound by ``global``: the
    state that outlives any object a program creates. ``{name: module}``."""
    found: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for statement in tree.body:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(
                statement.value, ast.Call
            ):
                callee = ast.unparse(statement.value.func)
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                if callee.endswith("ContextVar"):
                    for target in targets:
                        if isinstance(target, ast.Name):
                            found[target.id] = _module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                for name in node.names:
                    found[name] = _module_name(path)
    return found


def test_module_level_state_is_listed_in_docs_architecture():
    text = (REPOSITORY / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = _module_state_names()
    assert "_TRACING" in names and "ALLOW_EXTERNAL_DEPENDENCIES" in names
    missing = sorted(
        f"{module}.{name}" for name, module in names.items() if f"`{name}`" not in text
    )
    assert missing == [], "list these in docs/architecture.md (Module-level state), with the reason"


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def private_reach() -> list[str]:
    """Reads and writes of ``obj._field`` where ``_field`` belongs to another package.

    A package owns a private field when its code sets it on ``self``/``cls``, lists it in
    ``__slots__`` or defines it in a class body. ruff's SLF001 flags every ``obj._field``; this
    check knows owners, so the trace package can read its nodes' fields while the optimizers
    cannot.
    """
    owners: dict[str, set[str]] = {}
    uses: list[tuple[str, str, int]] = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        package = _package(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    names: list[str] = []
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        names = [item.name]
                    elif isinstance(item, ast.Assign | ast.AnnAssign):
                        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                        names = [t.id for t in targets if isinstance(t, ast.Name)]
                        if names == ["__slots__"] and item.value is not None:
                            try:
                                names = list(ast.literal_eval(item.value))
                            except ValueError:
                                names = []
                    for name in names:
                        owners.setdefault(name, set()).add(package)
            if not (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                if isinstance(node.ctx, ast.Store):
                    owners.setdefault(node.attr, set()).add(package)
                continue
            uses.append((module, node.attr, node.lineno))
    return [
        f"{module}:{line} uses {attr}, a private field of {sorted(owners[attr])}"
        for module, attr, line in uses
        if attr in owners and _package(module) not in owners[attr]
    ]


def test_no_private_fields_are_used_across_packages():
    assert private_reach() == []


MAX_LINES = 500


def long_files(limit: int = MAX_LINES) -> list[str]:
    """``path: lines`` of every Python file in opto/ longer than ``limit`` lines."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{path.relative_to(REPOSITORY).as_posix()}: {count}")
    return found


def test_no_file_in_opto_is_over_500_lines():
    """Small files with one concept each: a file that grows past the limit is split along a
    concept boundary (a mixin, a helper module), not squeezed."""
    assert long_files() == [], "split these files (one concept per file)"


def test_the_length_check_counts_lines():
    """The guard itself: with a limit below the longest file, that file is listed with its
    line count."""
    counts = {
        path: len(path.read_text(encoding="utf-8").splitlines()) for path in ROOT.rglob("*.py")
    }
    longest = max(counts, key=counts.get)
    listed = long_files(counts[longest] - 1)
    assert f"{longest.relative_to(REPOSITORY).as_posix()}: {counts[longest]}" in listed
