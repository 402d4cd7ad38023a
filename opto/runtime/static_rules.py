"""The default lists of the static check: what generated code may import, call and name.

Kept apart from the checker so the lists can be read (and extended) without the machinery.
Every list is a ``frozenset`` of names; ``StaticChecker`` takes replacements for each.
"""

from __future__ import annotations

import builtins
import typing

DEFAULT_ALLOWED_IMPORTS = frozenset(
    (
        "abc",
        "array",
        "bisect",
        "cmath",
        "collections",
        "copy",
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "json",
        "math",
        "numbers",
        "operator",
        "random",
        "re",
        "statistics",
        "string",
        "textwrap",
        "time",
        "typing",
        "unicodedata",
    )
)

# Submodules refused even when their package is allowed: they compile or load native code,
# or run programs (numpy's Fortran wrapper generator, its ctypes bridge, its test helpers).
DEFAULT_FORBIDDEN_MODULES = frozenset(
    ("numpy.f2py", "numpy.ctypeslib", "numpy.distutils", "numpy.testing")
)

_SAFE_BUILTINS = (
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "hasattr",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "zip",
    "Ellipsis",
    "False",
    "None",
    "NotImplemented",
    "True",
)
_EXCEPTIONS = [
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and name not in ("SystemExit", "KeyboardInterrupt")
]
DEFAULT_ALLOWED_BUILTINS = frozenset((*_SAFE_BUILTINS, *_EXCEPTIONS))

# Functions and classes that turn a string into code: they evaluate annotations written as
# strings (``typing.get_type_hints``), or walk attributes named in a format string.
_STRING_EVALUATORS = (
    "get_type_hints",
    "ForwardRef",
    "get_annotations",
    "evaluate_forward_ref",
    "annotationlib",
    "call_evaluate_function",
    "call_annotate_function",
    "Formatter",
    "vformat",
    "get_field",
)
# From Python 3.14 a ForwardRef (what ``typing.get_args(List["x"])`` returns) has a public
# ``evaluate`` method; there the name is refused too.
_VERSION_EVALUATORS = ("evaluate",) if hasattr(typing.ForwardRef, "evaluate") else ()

# Attribute names that lead to the filesystem, processes, or interpreter internals.
DEFAULT_FORBIDDEN_ATTRIBUTES = frozenset(
    (
        "sys",
        "os",
        "subprocess",
        "socket",
        "shutil",
        "pathlib",
        "io",
        "codecs",
        "ctypes",
        "importlib",
        "builtins",
        "bltns",
        "pickle",
        "marshal",
        "types",
        "inspect",
        "gc",
        "signal",
        "threading",
        "multiprocessing",
        "tempfile",
        "mmap",
        "posix",
        "nt",
        "pty",
        "fcntl",
        "resource",
        "open",
        "system",
        "popen",
        "spawnv",
        "execv",
        "exec",
        "eval",
        "globals",
        "locals",
        "modules",
        "f_globals",
        "f_locals",
        "f_back",
        "f_code",
        "f_builtins",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "func_globals",
        "load_module",
        "import_module",
        "obj",  # AttributeError.obj: the object an attribute was missing from, even a module
        *_STRING_EVALUATORS,
        *_VERSION_EVALUATORS,
    )
)

HARMLESS_DUNDER_ATTRIBUTES = frozenset({"__init__", "__name__", "__qualname__", "__doc__"})
HARMLESS_DUNDER_NAMES = frozenset({"__name__", "__doc__", "__slots__", "__all__"})

WHY_BUILTIN = {
    "open": "file access is not allowed",
    "exec": "running dynamically built code is not allowed",
    "eval": "running dynamically built code is not allowed",
    "compile": "running dynamically built code is not allowed",
    "__import__": "use an import statement of an allowed module",
    "globals": "access to the module namespace is not allowed",
    "locals": "access to the module namespace is not allowed",
    "vars": "access to object namespaces is not allowed",
    "input": "the code cannot read user input",
    "breakpoint": "the code cannot start a debugger",
    "memoryview": "raw memory access is not allowed",
}

# Callables that read or write an attribute named by a string. Value: which positional
# arguments are attribute names (None: all of them), and what the call does with them.
ATTRIBUTE_FUNCTIONS = {
    "getattr": (1, "read"),
    "hasattr": (1, "read"),
    "setattr": (1, "write"),
    "delattr": (1, "write"),
    "attrgetter": (None, "read"),
    "methodcaller": (0, "call"),
}

# Methods that look up attributes named inside a format string ("{0.attribute}").
FORMAT_METHODS = frozenset({"format", "format_map"})

# Modules whose functions and classes are refused wherever the code reaches them (builtins
# are judged by name against the allowed builtins instead).
DANGEROUS_MODULES = frozenset(
    (
        "os",
        "posix",
        "nt",
        "subprocess",
        "shutil",
        "socket",
        "sys",
        "io",
        "importlib",
        "ctypes",
        "pickle",
        "marshal",
        "pathlib",
        "tempfile",
        "signal",
        "multiprocessing",
    )
)
