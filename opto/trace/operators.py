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


# -- dict, list and set methods (on copies) -------------------------------------------------


@operator
def dict_update(x: dict, y: dict) -> dict:
    """A copy of the dict x updated with y."""
    result = dict(x)
    result.update(y)
    return result


@operator
def dict_pop(x: dict, key: Any) -> Any:
    """The value x.pop(key) would remove (x itself is not changed)."""
    return dict(x).pop(key)


@operator
def dict_popitem(x: dict) -> tuple:
    """The (key, value) pair x.popitem() would remove (x itself is not changed)."""
    return dict(x).popitem()


@operator
def list_append(x: list, y: Any) -> list:
    """A copy of the list x with y appended."""
    return [*x, y]


@operator
def list_clear(x: list) -> list:
    """An empty list (what x is after x.clear())."""
    return []


@operator
def list_extend(x: list, y: Any) -> list:
    """A copy of the list x extended with the items of y."""
    return [*x, *y]


@operator
def list_insert(x: list, index: int, y: Any) -> list:
    """A copy of the list x with y inserted at index."""
    result = list(x)
    result.insert(index, y)
    return result


@operator
def list_pop(x: list, index: int = -1) -> Any:
    """The item x.pop(index) would remove (x itself is not changed)."""
    return list(x).pop(index)


@operator
def list_remove(x: list, y: Any) -> list:
    """A copy of the list x without its first item equal to y."""
    result = list(x)
    result.remove(y)
    return result


@operator
def list_reverse(x: list) -> list:
    """A reversed copy of the list x."""
    return list(reversed(x))


@operator
def list_sort(x: list, key: Any = None, reverse: bool = False) -> list:
    """A sorted copy of the list x."""
    return sorted(x, key=key, reverse=reverse)


@operator
def set_add(x: set, y: Any) -> set:
    """A copy of the set x with y added."""
    return {*x, y}


@operator
def set_clear(x: set) -> set:
    """An empty set (what x is after x.clear())."""
    return set()


@operator
def set_discard(x: set, y: Any) -> set:
    """A copy of the set x without y."""
    return set(x) - {y}


@operator
def set_intersection_update(x: set, y: Any) -> set:
    """The intersection of the set x with y."""
    return set(x) & set(y)


@operator
def set_pop(x: set) -> Any:
    """The item x.pop() would remove (x itself is not changed)."""
    return set(x).pop()


@operator
def set_remove(x: set, y: Any) -> set:
    """A copy of the set x without y (KeyError when y is missing)."""
    result = set(x)
    result.remove(y)
    return result


@operator
def set_symmetric_difference_update(x: set, y: Any) -> set:
    """The symmetric difference of the set x and y."""
    return set(x) ^ set(y)


@operator
def set_update(x: set, y: Any) -> set:
    """The union of the set x and y."""
    return set(x) | set(y)


# -- strings --------------------------------------------------------------------------------


@operator
def format(x: str, *args: Any, **kwargs: Any) -> str:
    """The string x with its {} fields filled from the arguments (str.format)."""
    return x.format(*args, **kwargs)


@operator
def capitalize(x: str) -> str:
    """x with its first character upper-cased and the rest lower-cased."""
    return x.capitalize()


@operator
def lower(x: str) -> str:
    """x in lower case."""
    return x.lower()


@operator
def upper(x: str) -> str:
    """x in upper case."""
    return x.upper()


@operator
def swapcase(x: str) -> str:
    """x with upper and lower case swapped."""
    return x.swapcase()


@operator
def title(x: str) -> str:
    """x in title case."""
    return x.title()


@operator
def split(x: str, sep: Any = None, maxsplit: int = -1) -> list:
    """The words of x split at sep (whitespace when sep is None)."""
    return x.split(sep, maxsplit)


@operator
def strip(x: str, chars: Any = None) -> str:
    """x without leading and trailing chars (whitespace when chars is None)."""
    return x.strip(chars)


@operator
def replace(x: str, old: str, new: str, count: int = -1) -> str:
    """x with occurrences of old replaced by new."""
    return x.replace(old, new, count)


@operator
def join(x: str, *args: Any) -> str:
    """The arguments joined into one string with x between them."""
    return x.join(args)
