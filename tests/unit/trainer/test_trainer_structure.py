"""The loop keeps its progress in one object: its classes create no attribute outside
``__init__`` (a dataclass's fields count as made by its ``__init__``)."""

import ast
from pathlib import Path

import opto.trainer.algorithms as algorithms

LOOP_FILES = (
    "loop.py",
    "run_state.py",
    "run_output.py",
    "candidate_scoring.py",
    "candidates.py",
    "strategies.py",
    "selection.py",
    "acceptance.py",
    "evaluation_policy.py",
    "pool_policy.py",
)


def attributes_made_outside_init(source: str) -> dict[str, list[str]]:
    found = {}
    for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)):
        declared = {
            item.target.id
            for item in cls.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
        }
        made = {}
        for function in cls.body:
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
                for target in targets:
                    items = target.elts if isinstance(target, ast.Tuple) else [target]
                    for item in items:
                        if (
                            isinstance(item, ast.Attribute)
                            and isinstance(item.value, ast.Name)
                            and item.value.id == "self"
                        ):
                            made.setdefault(item.attr, set()).add(function.name)
        outside = sorted(
            name for name, where in made.items() if "__init__" not in where and name not in declared
        )
        if outside:
            found[cls.name] = outside
    return found


def test_the_checker_sees_an_attribute_made_in_a_method():
    source = "class A:\n    def __init__(self):\n        self.a = 1\n    def run(self):\n        self.b, self.a = 2, 3\n"
    assert attributes_made_outside_init(source) == {"A": ["b"]}


def test_the_loop_classes_make_every_attribute_in_init():
    folder = Path(algorithms.__file__).parent
    found = {name: attributes_made_outside_init((folder / name).read_text()) for name in LOOP_FILES}
    assert {name: classes for name, classes in found.items() if classes} == {}
