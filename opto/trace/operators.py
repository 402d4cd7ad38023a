"""The primitive traced operations.

Each function takes nodes or plain values and returns a MessageNode whose data equals what
plain Python gives. The docstring becomes the operation's description, which optimizers show
to the LLM in the #Documentation section. Operations never mutate their inputs: the
container methods (``list_append``, ``dict_update`` ...) return a new container.
Attribute access, calls and LLM calls (``node_getattr``, ``call``, ``call_llm``, ``get``) live
in call_operators.py and are available here under the same names.
"""

from __future__ import annotations

import builtins
import copy as _copy
import math
from typing import Any

from opto.trace.call_operators import call as call
from opto.trace.call_operators import call_llm as call_llm
from opto.trace.call_operators import get as get
from opto.trace.call_operators import node_getattr as node_getattr
from opto.trace.method_operators import capitalize as capitalize
from opto.trace.method_operators import dict_pop as dict_pop
from opto.trace.method_operators import dict_popitem as dict_popitem

# The str/dict/list/set method operations live in method_operators.py; they are part of this
# module's names, as in Trace.
from opto.trace.method_operators import dict_update as dict_update
from opto.trace.method_operators import format as format
from opto.trace.method_operators import join as join
from opto.trace.method_operators import list_append as list_append
from opto.trace.method_operators import list_clear as list_clear
from opto.trace.method_operators import list_extend as list_extend
from opto.trace.method_operators import list_insert as list_insert
from opto.trace.method_operators import list_pop as list_pop
from opto.trace.method_operators import list_remove as list_remove
from opto.trace.method_operators import list_reverse as list_reverse
from opto.trace.method_operators import list_sort as list_sort
from opto.trace.method_operators import lower as lower
from opto.trace.method_operators import replace as replace
from opto.trace.method_operators import set_add as set_add
from opto.trace.method_operators import set_clear as set_clear
from opto.trace.method_operators import set_discard as set_discard
from opto.trace.method_operators import set_intersection_update as set_intersection_update
from opto.trace.method_operators import set_pop as set_pop
from opto.trace.method_operators import set_remove as set_remove
from opto.trace.method_operators import (
    set_symmetric_difference_update as set_symmetric_difference_update,
)
from opto.trace.method_operators import set_update as set_update
from opto.trace.method_operators import split as split
from opto.trace.method_operators import strip as strip
from opto.trace.method_operators import swapcase as swapcase
from opto.trace.method_operators import title as title
from opto.trace.method_operators import upper as upper
from opto.trace.primitive import operator

# -- unary ----------------------------------------------------------------------------------


@operator
def clone(x: Any) -> Any:
    """A deep copy of x."""
    return _copy.deepcopy(x)


@operator
def identity(x: Any) -> Any:
    """Returns x unchanged."""
    return x


@operator
def pos(x: Any) -> Any:
    """Unary plus: +x."""
    return +x


@operator
def neg(x: Any) -> Any:
    """Negation: -x."""
    return -x


@operator
def abs(x: Any) -> Any:
    """Absolute value of x."""
    return builtins.abs(x)


@operator
def invert(x: Any) -> Any:
    """Bitwise inversion: ~x."""
    return ~x


@operator
def round(x: Any, n: Any = None) -> Any:
    """x rounded to n digits (to an integer when n is None)."""
    return builtins.round(x, n)


@operator
def floor(x: Any) -> Any:
    """The floor of x (math.floor)."""
    return math.floor(x)


@operator
def ceil(x: Any) -> Any:
    """The ceiling of x (math.ceil)."""
    return math.ceil(x)


@operator
def trunc(x: Any) -> Any:
    """x truncated towards zero (math.trunc)."""
    return math.trunc(x)


@operator
def not_(x: Any) -> bool:
    """Logical negation: not x."""
    return not x


# -- binary arithmetic ----------------------------------------------------------------------


@operator
def add(x: Any, y: Any) -> Any:
    """Sum: x + y."""
    return x + y


@operator
def concat(x: Any, y: Any) -> Any:
    """Concatenation of x and y (x + y on strings or sequences)."""
    return x + y


@operator
def subtract(x: Any, y: Any) -> Any:
    """Difference: x - y."""
    return x - y


@operator
def multiply(x: Any, y: Any) -> Any:
    """Product: x * y."""
    return x * y


@operator
def floor_divide(x: Any, y: Any) -> Any:
    """Floor division: x // y."""
    return x // y


@operator
def divide(x: Any, y: Any) -> Any:
    """True division: x / y."""
    return x / y


@operator
def mod(x: Any, y: Any) -> Any:
    """Remainder: x % y."""
    return x % y


@operator
def node_divmod(x: Any, y: Any) -> Any:
    """Quotient and remainder: divmod(x, y)."""
    return divmod(x, y)


@operator
def power(x: Any, y: Any) -> Any:
    """Power: x ** y."""
    return x**y


@operator
def lshift(x: Any, y: Any) -> Any:
    """Left shift: x << y."""
    return x << y


@operator
def rshift(x: Any, y: Any) -> Any:
    """Right shift: x >> y."""
    return x >> y


@operator
def and_(x: Any, y: Any) -> Any:
    """Bitwise and: x & y."""
    return x & y


@operator
def or_(x: Any, y: Any) -> Any:
    """Bitwise or: x | y."""
    return x | y


@operator
def xor(x: Any, y: Any) -> Any:
    """Bitwise exclusive or: x ^ y."""
    return x ^ y


# -- comparisons ----------------------------------------------------------------------------


@operator
def lt(x: Any, y: Any) -> Any:
    """Whether x < y."""
    return x < y


@operator
def le(x: Any, y: Any) -> Any:
    """Whether x <= y."""
    return x <= y


@operator
def gt(x: Any, y: Any) -> Any:
    """Whether x > y."""
    return x > y


@operator
def ge(x: Any, y: Any) -> Any:
    """Whether x >= y."""
    return x >= y


@operator
def eq(x: Any, y: Any) -> Any:
    """Whether x == y."""
    return x == y


@operator
def neq(x: Any, y: Any) -> Any:
    """Whether x != y."""
    return x != y


ne = neq


@operator
def is_(x: Any, y: Any) -> bool:
    """Whether x is y."""
    return x is y


@operator
def is_not(x: Any, y: Any) -> bool:
    """Whether x is not y."""
    return x is not y


@operator
def in_(x: Any, y: Any) -> bool:
    """Whether x is in y."""
    return x in y


@operator
def not_in(x: Any, y: Any) -> bool:
    """Whether x is not in y."""
    return x not in y


@operator
def cond(condition: Any, x: Any, y: Any) -> Any:
    """x if condition is true, else y."""
    return x if condition else y


# -- containers -----------------------------------------------------------------------------


@operator
def getitem(x: Any, index: Any) -> Any:
    """The item of x at index (x[index])."""
    return x[index]


@operator
def len_(x: Any) -> int:
    """The length of x."""
    return len(x)


@operator
def pop(x: Any, index: Any = -1) -> Any:
    """The item x.pop(index) would remove (x itself is not changed)."""
    return _copy.copy(x).pop(index)


@operator
def keys(x: dict) -> list:
    """The keys of the dict x, as a list."""
    return list(x.keys())


@operator
def values(x: dict) -> list:
    """The values of the dict x, as a list."""
    return list(x.values())


@operator
def ord_(x: str) -> int:
    """The code point of the character x."""
    return ord(x)


@operator
def chr_(x: int) -> str:
    """The character with code point x."""
    return chr(x)


@operator
def to_list(x: Any) -> list:
    """list(x)."""
    return list(x)


@operator
def make_list(*args: Any) -> list:
    """A list of the arguments."""
    return list(args)


@operator
def to_dict(x: Any) -> dict:
    """dict(x)."""
    return dict(x)


@operator
def make_dict(**kwargs: Any) -> dict:
    """A dict of the keyword arguments."""
    return dict(kwargs)


@operator
def to_set(x: Any) -> set:
    """set(x)."""
    return set(x)


@operator
def make_set(*args: Any) -> set:
    """A set of the arguments."""
    return set(args)


@operator
def to_tuple(x: Any) -> tuple:
    """tuple(x)."""
    return tuple(x)


@operator
def make_tuple(*args: Any) -> tuple:
    """A tuple of the arguments."""
    return tuple(args)
