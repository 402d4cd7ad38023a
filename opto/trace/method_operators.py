"""Traced operations standing for the methods of str, dict, list and set.

Each works on a copy: ``list_append(x, y)`` returns a new list, leaving ``x``'s data as it
was, so a node's value never changes behind the graph. ``Node`` methods (``node.append``,
``node.upper`` ...) call these; they are also available from operators.py.
"""

from __future__ import annotations

from typing import Any

from opto.trace.primitive import operator

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
