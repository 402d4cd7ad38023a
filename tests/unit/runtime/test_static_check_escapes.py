"""Ways out of the static check, by class: each must be refused before the code runs.

The first test holds the seven one-line escapes a review ran through ``StaticCheckPolicy``;
the parametrized tests hold variants of each class, so that the rule is tested, not the
spelling. Legitimate code (classes, numpy, templates, typing) must still pass and run.
"""

import json
import os
import random
import textwrap

import pytest

from opto.runtime import StaticChecker, StaticCheckPolicy, UnsafeCodeError

REVIEW_ESCAPES = {
    "private attribute through a parameter named self": (
        "import random\ndef f(self):\n    return self._os.getpid()\n",
        "private attribute '_os'",
    ),
    "the builtins module as enum.bltns": (
        "import enum\ndef f():\n    return enum.bltns.compile('1', 's', 'eval')\n",
        "'bltns'",
    ),
    "an aliased getattr from enum.bltns": (
        "import enum\ndef f(x):\n    g = enum.bltns.getattr\n    return g(x, '__class__')\n",
        "'bltns'",
    ),
    "operator.attrgetter of __globals__ under another name": (
        "from operator import attrgetter as ag\ndef f(x):\n    return ag('__globals__')(x)\n",
        "'__globals__'",
    ),
    "string.Formatter().get_field walking dunders": (
        "import string\ndef f(x):\n    return string.Formatter().get_field("
        "'0.__class__.__base__.__subclasses__', (x,), {})[0]()\n",
        "'get_field'",
    ),
    "typing.get_type_hints evaluating an annotation string": (
        "import typing\ndef g(x: '().__class__.__base__.__subclasses__()'):\n    pass\n"
        "def f():\n    return typing.get_type_hints(g)\n",
        "'__class__'",
    ),
    "monkeypatching a module shared with the host": (
        "import json\ndef f():\n    json.dumps = lambda *a, **k: 'replaced'\n",
        "assigning to json.dumps",
    ),
}


@pytest.mark.parametrize(("code", "fragment"), REVIEW_ESCAPES.values(), ids=REVIEW_ESCAPES)
def test_the_seven_escapes_of_the_review_are_refused(code, fragment):
    with pytest.raises(UnsafeCodeError) as caught:
        StaticCheckPolicy().load(code, "f")
    assert any(fragment in v.message for v in caught.value.violations), caught.value
    assert json.dumps({"a": 1}) == '{"a": 1}'  # nothing ran


def _refused(code: str, namespace: dict | None = None) -> list[str]:
    with pytest.raises(UnsafeCodeError) as caught:
        StaticCheckPolicy().load(code, "f", namespace)
    return [violation.message for violation in caught.value.violations]


PRIVATE_ATTRIBUTES = {
    "self parameter with a default": "import random\ndef f(self=random.Random()):\n    return self._randbelow\n",
    "lambda parameter named self": "g = lambda self: self._os\ndef f(x):\n    return g(x)\n",
    "method called unbound on another object": (
        "class A:\n    def m(self):\n        return self._inst\ndef f(x):\n    return A.m(x)\n"
    ),
    "defined by the code, read on a module": (
        "import random\nclass A:\n    def __init__(self):\n        self._os = 1\n"
        "def f():\n    return random._os\n"
    ),
    "imported by name": "from random import _os\ndef f():\n    return _os\n",
    "on an allowed module from the namespace": ("def f():\n    return rnd._os\n", {"rnd": random}),
    "through getattr": "def f(self):\n    return getattr(self, '_x')\n",
}


@pytest.mark.parametrize("case", PRIVATE_ATTRIBUTES.values(), ids=PRIVATE_ATTRIBUTES)
def test_private_attributes_only_of_names_the_code_defines(case):
    code, namespace = case if isinstance(case, tuple) else (case, None)
    assert any("private attribute" in message for message in _refused(code, namespace))


MODULE_CHAINS = {
    "re.enum.bltns": ("import re\ndef f():\n    return re.enum.bltns\n", "bltns"),
    "from enum import bltns": ("from enum import bltns\ndef f():\n    return 1\n", "bltns"),
    "re.copyreg": ("import re\ndef f():\n    return re.copyreg.dispatch_table\n", "copyreg"),
    "from re import copyreg": ("from re import copyreg\ndef f():\n    return 1\n", "copyreg"),
    "typing.contextlib": (
        "import typing\ndef f():\n    return typing.contextlib.redirect_stdout\n",
        "contextlib",
    ),
    "dataclasses.keyword": (
        "import dataclasses\ndef f():\n    return dataclasses.keyword.kwlist\n",
        "keyword",
    ),
    "an alias of a submodule": (
        "import json.decoder as d\ndef f():\n    return d.re.enum.bltns\n",
        "bltns",
    ),
    "a builtin reached through a module": (
        "import enum\ndef f():\n    return enum.bltns.compile\n",
        "builtin 'compile'",
    ),
    "getattr of a module": ("import enum\ndef f():\n    return getattr(enum, 'bltns')\n", "bltns"),
    "star import": ("from enum import *\ndef f():\n    return 1\n", "import *"),
    "a module of the namespace": ("def f():\n    return os.getcwd()\n", "module os"),
}


@pytest.mark.parametrize(("code", "fragment"), MODULE_CHAINS.values(), ids=MODULE_CHAINS)
def test_modules_and_builtins_reached_through_attribute_chains_are_refused(code, fragment):
    assert any(fragment in message for message in _refused(code, {"os": os}))


MODULES_AS_VALUES = {
    "assigned": "import json\ndef f():\n    m = json\n    return m.dumps\n",
    "passed": "import json\ndef f(g):\n    return g(json)\n",
    "in a list": "import json\ndef f():\n    return [json][0].dumps\n",
    "a submodule returned": "import json\ndef f():\n    return json.decoder\n",
    "a default argument": "import random\ndef f(self=random):\n    return self\n",
    "from the namespace": ("def f():\n    return js\n", {"js": json}),
    "through getattr": "import json\ndef f():\n    return getattr(json, 'decoder')\n",
}


def test_a_module_cannot_be_fished_out_of_an_attribute_error():
    # Python sets AttributeError.obj to the object that lacked the attribute: a module here.
    code = (
        "import random\ndef f():\n    try:\n        random.missing\n"
        "    except AttributeError as error:\n        return error.obj\n"
    )
    assert any("'obj'" in message for message in _refused(code))


HIDDEN_IMPORTS = {
    "a global bound by an import in a function": (
        "def setup():\n    global j\n    import json as j\ndef f():\n    setup()\n    j.dumps = len\n",
        "global or nonlocal name 'j'",
    ),
    "a nonlocal bound by an import": (
        "def f():\n    m = None\n    def load():\n        nonlocal m\n        from json import decoder as m\n"
        "    load()\n    m.scanstring = len\n",
        "global or nonlocal name 'm'",
    ),
    "an import in a class body": (
        "class A:\n    import json\ndef f():\n    A.json.dumps = len\n",
        "class body",
    ),
}


@pytest.mark.parametrize(("code", "fragment"), HIDDEN_IMPORTS.values(), ids=HIDDEN_IMPORTS)
def test_imports_bind_only_names_the_check_can_follow(code, fragment):
    assert any(fragment in message for message in _refused(code))


@pytest.mark.parametrize("case", MODULES_AS_VALUES.values(), ids=MODULES_AS_VALUES)
def test_modules_can_only_be_used_through_their_attributes(case):
    code, namespace = case if isinstance(case, tuple) else (case, None)
    assert any("only be used through its attributes" in m for m in _refused(code, namespace))


GETATTR_ALIASES = {
    "assigned": "def f(x):\n    g = getattr\n    return g(x, '__class__')\n",
    "default argument": "def f(x, g=getattr):\n    return g(x, 'y')\n",
    "in a list": "def f(x):\n    return [getattr][0](x, 'y')\n",
    "mapped": "def f(xs):\n    return list(map(getattr, xs, ['y']))\n",
    "reduced": "import functools\ndef f(x):\n    return functools.reduce(getattr, ['a'], x)\n",
    "partial": "import functools\ndef f(x):\n    return functools.partial(setattr, x)\n",
    "walrus": "def f(x):\n    return (g := hasattr)(x, 'a')\n",
    "decorator": "@getattr\ndef f(x):\n    return x\n",
    "attrgetter imported then renamed": (
        "from operator import attrgetter\ndef f(x):\n    a = attrgetter\n    return a('y')(x)\n"
    ),
    "methodcaller assigned": "import operator\ndef f(x):\n    m = operator.methodcaller\n    return m\n",
}


@pytest.mark.parametrize("code", GETATTR_ALIASES.values(), ids=GETATTR_ALIASES)
def test_getattr_like_callables_cannot_be_aliased(code):
    assert any("may only be called directly" in message for message in _refused(code))


ATTRIBUTE_NAMES_AS_STRINGS = {
    "attrgetter renamed on import": (
        "from operator import attrgetter as ag\ndef f(x):\n    return ag('__globals__')(x)\n",
        "'__globals__'",
    ),
    "attrgetter obtained through getattr": (
        "import operator\ndef f(x):\n    return getattr(operator, 'attrgetter')('y')(x)\n",
        "getattr() of 'attrgetter'",
    ),
    "a dotted attrgetter path": (
        "import operator\ndef f(x):\n    return operator.attrgetter('a.__globals__')(x)\n",
        "'__globals__'",
    ),
    "the second attrgetter name": (
        "import operator\ndef f(x):\n    return operator.attrgetter('a', '__dict__')(x)\n",
        "'__dict__'",
    ),
    "a computed attrgetter name": (
        "import operator\ndef f(x):\n    return operator.attrgetter('__glo' + 'bals__')(x)\n",
        "computed attribute name",
    ),
    "methodcaller renamed on import": (
        "from operator import methodcaller as mc\ndef f(x):\n    return mc('__reduce_ex__', 2)(x)\n",
        "'__reduce_ex__'",
    ),
    "unpacked getattr arguments": (
        "def f(x, a):\n    return getattr(*a)\n",
        "unpacked arguments",
    ),
    "setattr on a module": (
        "import json\ndef f():\n    setattr(json, 'dumps', len)\n",
        "changing json.dumps",
    ),
}


@pytest.mark.parametrize(
    ("code", "fragment"), ATTRIBUTE_NAMES_AS_STRINGS.values(), ids=ATTRIBUTE_NAMES_AS_STRINGS
)
def test_attributes_named_by_strings_are_checked_like_attributes(code, fragment):
    assert any(fragment in message for message in _refused(code))


FORMAT_STRINGS = {
    "Formatter.vformat": "import string\ndef f(x):\n    return string.Formatter().vformat('{0.__class__}', (x,), {})\n",
    "Formatter imported": "from string import Formatter\ndef f(x):\n    return Formatter().format('{0}', x)\n",
    "a concatenated format string": "def f(x):\n    return ('{' + '0.__class__}').format(x)\n",
    "a parameter as format string": "def f(x, t):\n    return t.format(x)\n",
    "a name built at run time": "def f(x):\n    t = '{0.' + '__class__}'\n    return t.format(x)\n",
    "a global rebound in a function": (
        "T = '{0}'\ndef f(x):\n    global T\n    T = '{0.__class__}'\n    return T.format(x)\n"
    ),
    "format_map on a literal": "def f(x):\n    return '{a.__class__}'.format_map({'a': x})\n",
    "str.format unbound": "def f(x):\n    return str.format('{0.__class__}', x)\n",
    "a bound format method": "def f(x):\n    g = '{0.__class__}'.format\n    return g(x)\n",
    "format through getattr": "def f(x):\n    return getattr('{0}', 'format')(x)\n",
    "format through methodcaller": (
        "import operator\ndef f(x):\n    return operator.methodcaller('format', x)('{0}')\n"
    ),
    "a field in the format spec": "def f(x):\n    return '{0:{1.__class__}}'.format(1, x)\n",
    "an index then a dunder": "def f(x):\n    return '{0[0].__class__}'.format([x])\n",
    "a private field": "def f(x):\n    return '{0._secret}'.format(x)\n",
    "a frame field": "def f(g):\n    return '{0.gi_frame}'.format(g)\n",
    "an f-string as format string": "def f(x, y):\n    return f'{y}'.format(x)\n",
    "a malformed field": "def f(x):\n    return '{0.__class__'.format(x)\n",
}


@pytest.mark.parametrize("code", FORMAT_STRINGS.values(), ids=FORMAT_STRINGS)
def test_format_strings_cannot_read_attributes_the_check_refuses(code):
    assert _refused(code)


STRING_EVALUATION = {
    "a parameter annotation": (
        "import typing\ndef g(x: '().__class__'):\n    pass\n"
        "def f():\n    return typing.get_type_hints(g)\n"
    ),
    "get_type_hints renamed on import": "from typing import get_type_hints as h\ndef f():\n    return 1\n",
    "a class annotation": "class C:\n    x: 'open(\"/etc/passwd\").read()'\ndef f():\n    return C\n",
    "a return annotation": "def f() -> 'eval(\"1\")':\n    return 1\n",
    "a string inside a generic annotation": "from typing import List\ndef f(x: List['().__class__']):\n    return x\n",
    "ForwardRef": "import typing\ndef f():\n    return typing.ForwardRef('1')\n",
    "a typing subscript outside annotations": (
        "import typing\nT = typing.List['().__class__.__base__']\ndef f():\n    return T\n"
    ),
    "functools.singledispatch registration": (
        "import functools\n@functools.singledispatch\ndef g(x):\n    return 0\n"
        "@g.register\ndef _(x: '().__class__'):\n    return 1\ndef f(x):\n    return g(x)\n"
    ),
    "a local annotated assignment": "def f():\n    y: '__import__(\"os\")' = 1\n    return y\n",
}


@pytest.mark.parametrize("code", STRING_EVALUATION.values(), ids=STRING_EVALUATION)
def test_strings_that_typing_would_evaluate_are_checked_as_code(code):
    assert _refused(code)


SHARED_CHANGES = {
    "a module function replaced": (
        "import json\ndef f():\n    json.dumps = len\n",
        "assigning to json.dumps",
    ),
    "a module function deleted": (
        "import json\ndef f():\n    del json.dumps\n",
        "deleting json.dumps",
    ),
    "augmented": ("import math\ndef f():\n    math.pi += 1\n", "assigning to math.pi"),
    "a class of a module patched": (
        "import json\ndef f():\n    json.JSONEncoder.default = lambda self, o: 1\n",
        "json.JSONEncoder is shared",
    ),
    "a module renamed on import": (
        "import json as j\ndef f():\n    j.dumps = len\n",
        "j is shared",
    ),
    "an imported class patched": (
        "from json import JSONEncoder\ndef f():\n    JSONEncoder.default = len\n",
        "JSONEncoder is shared",
    ),
    "a submodule patched": (
        "import json\ndef f():\n    json.decoder.scanstring = len\n",
        "json.decoder is shared",
    ),
    "a for-loop target": (
        "import json\ndef f():\n    for json.x in range(3):\n        pass\n",
        "json is shared",
    ),
    "an object of the namespace": ("def f():\n    helper.cache = 1\n", "helper is shared"),
    "an item of a namespace dict": ("def f():\n    CONFIG['k'] = 2\n", "CONFIG is shared"),
    "a module constant": ("import string\ndef f():\n    string.digits = 'x'\n", "string is shared"),
}


@pytest.mark.parametrize(("code", "fragment"), SHARED_CHANGES.values(), ids=SHARED_CHANGES)
def test_changes_to_modules_and_objects_of_the_program_are_refused(code, fragment):
    namespace = {"helper": lambda: 0, "CONFIG": {"k": 1}}
    assert any(fragment in message for message in _refused(code, namespace))
    assert json.dumps(1) == "1"


def test_the_discovery_checker_is_the_same_check_with_numpy():
    from opto.discovery.interface import static_problems

    header = (
        "def loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,"
        " reference_rejected_logps, beta):\n"
    )
    escapes = [
        "    import numpy\n    return numpy.f2py.auxfuncs.re.enum.bltns.compile('1', 's', 'eval')\n",
        "    import numpy as np\n    return np.matrixlib.defmatrix.ast\n",
        "    import numpy as np\n    return np.ctypeslib.as_array\n",
        "    import numpy as np\n    np.pi = 3\n    return beta\n",
    ]
    for body in escapes:
        assert static_problems(header + body) is not None, body
    fine = "    import numpy as np\n    return np.logaddexp(0.0, -beta * np.linalg.norm(policy_chosen_logps))\n"
    assert static_problems(header + fine) is None


def test_the_reference_losses_pass_the_discovery_check():
    from opto.discovery.interface import static_problems
    from opto.discovery.losses import REFERENCE_LOSSES, reference_loss_source

    for name in REFERENCE_LOSSES:
        assert static_problems(reference_loss_source(name)) is None, name


def test_setattr_refuses_modules_at_run_time_too():
    restricted = StaticChecker().restricted_builtins()
    with pytest.raises(AttributeError, match="module json"):
        restricted["setattr"](json, "dumps", len)
    with pytest.raises(AttributeError, match="module json"):
        restricted["delattr"](json, "dumps")
    with pytest.raises(ImportError, match=r"numpy\.f2py"):
        StaticChecker(allowed_imports=frozenset({"numpy"})).restricted_builtins()["__import__"](
            "numpy", fromlist=("f2py",)
        )
    assert json.dumps is not len


LEGITIMATE = textwrap.dedent(
    """
    import collections
    import dataclasses
    import enum
    import functools
    import heapq
    import itertools
    import json
    import math
    import operator
    import random
    import re
    import statistics
    import string
    from collections import Counter, defaultdict, deque
    from dataclasses import dataclass, field
    from typing import Dict, List, Literal, Optional

    GREETING = "Hello, {name}! You scored {score:.1f}."
    WORD = re.compile(r"[a-z']+")


    class Color(enum.Enum):
        RED = 1
        GREEN = 2


    @dataclass(order=True)
    class Item:
        priority: float
        name: str = field(compare=False)
        tags: List[str] = field(default_factory=list, compare=False)


    class Node:
        __slots__ = ("value", "_children")

        def __init__(self, value: int, children: Optional[List["Node"]] = None) -> None:
            self.value = value
            self._children = list(children or [])

        def add(self, child: "Node") -> "Node":
            self._children.append(child)
            return self

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Node) and self._children == other._children

        __hash__ = None

        @property
        def size(self) -> int:
            return 1 + sum(child.size for child in self._children)

        @classmethod
        def leaf(cls, value: int) -> "Node":
            return cls(value)


    class Stack(list):
        def __init__(self, *items):
            super().__init__(items)


    @functools.lru_cache(maxsize=None)
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)


    def counter():
        count = 0

        def step():
            nonlocal count
            count += 1
            return count

        return step


    def describe(value) -> Literal["point", "other"]:
        match value:
            case {"kind": "point", "x": x}:
                return "point"
            case Item(priority=p) if p > 0:
                return "other"
            case _:
                return "other"


    def solve(text: str, scores: Dict[str, float]) -> dict:
        words = WORD.findall(text.lower())
        counts = Counter(words)
        groups = defaultdict(list)
        for word in words:
            groups[len(word)].append(word)
        heap = [Item(-c, w) for w, c in counts.items()]
        heapq.heapify(heap)
        best = heapq.heappop(heap)
        ranked = sorted(scores.items(), key=operator.itemgetter(1), reverse=True)
        by_name = sorted(heap, key=operator.attrgetter("name"))
        template = "{0}-{1}"
        step = counter()
        step()
        return {
            "label": template.format(len(words), len(set(words))),
            "message": GREETING.format(name=best.name, score=statistics.mean(scores.values())),
            "pairs": len(list(itertools.combinations(sorted(counts), 2))),
            "sample": len(random.Random(0).sample(words, k=2)),
            "ranked": ranked[0][0],
            "first": by_name[0].name,
            "json": json.dumps({"n": len(deque(words))}, sort_keys=True),
            "tree": Node(1).add(Node.leaf(2)).size,
            "step": step(),
            "name": getattr(best, "name", None),
            "shape": hasattr(text, "shape"),
            "fields": [f.name for f in dataclasses.fields(Item)],
            "fib": fib(20),
            "color": Color.RED.name,
            "describe": describe({"kind": "point", "x": 1}),
            "root": math.isclose(math.sqrt(2) ** 2, 2.0),
            "letters": sum(ch in string.ascii_letters for ch in text),
            "fmt": "{:.2f}|{!r}".format(math.pi, "x"),
            "ordered": list(collections.OrderedDict(a=1)),
            "stack": len(Stack(1, 2)),
        }
    """
)


def test_ordinary_classes_templates_and_typing_pass_and_run():
    result = StaticCheckPolicy().load(LEGITIMATE, "solve")("the cat and the hat", {"a": 1, "b": 3})
    assert result["label"] == "5-4"
    assert result["message"] == "Hello, the! You scored 2.0."
    assert (result["tree"], result["step"], result["fib"], result["describe"]) == (
        2,
        2,
        6765,
        "point",
    )
    assert result["fmt"] == "3.14|'x'"


def test_numpy_code_passes_when_numpy_is_allowed():
    np = pytest.importorskip("numpy")
    code = (
        "import numpy as np\n"
        "def f(x: np.ndarray) -> np.ndarray:\n"
        "    rng = np.random.default_rng(0)\n"
        "    noise = rng.normal(size=x.shape)\n"
        "    centred = x - x.mean(axis=0)\n"
        "    scale = np.linalg.norm(centred) or 1.0\n"
        "    return np.where(centred > 0, centred / scale, 0.0) + 0 * noise\n"
    )
    policy = StaticCheckPolicy(allowed_imports={"numpy", "math"})
    assert policy.load(code, "f")(np.array([1.0, 2.0, 3.0])).shape == (3,)


def test_a_template_from_the_namespace_is_checked_as_a_literal():
    code = "def f(name):\n    return TEMPLATE.format(name=name)\n"
    assert StaticCheckPolicy().load(code, "f", {"TEMPLATE": "Hi {name}"})("Ann") == "Hi Ann"
    with pytest.raises(UnsafeCodeError, match="format strings"):
        StaticCheckPolicy().load(code, "f", {"TEMPLATE": "Hi {name.__class__}"})


def test_a_type_string_defining_a_function_is_refused_not_a_crash():
    code = (
        "def f(\n    x: '(lambda: ().__class__)()',\n    y: '[c for c in ()]',\n):\n    return x\n"
    )
    messages = _refused(code)
    assert messages.count("a type written as a string may not define a function") == 2


def test_the_check_never_crashes_on_real_code():
    # Every module of this package, under the default rules and with numpy allowed: the check
    # returns its findings (or a SyntaxError), never another exception.
    from pathlib import Path

    import opto

    checkers = [StaticChecker(), StaticChecker(allowed_imports=frozenset({"numpy", "math"}))]
    sources = sorted(Path(opto.__file__).parent.rglob("*.py"))
    assert len(sources) > 50
    for path in sources:
        for checker in checkers:
            assert isinstance(checker.check(path.read_text(), filename=str(path)), list)
