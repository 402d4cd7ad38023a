"""The child's answer format: every value the sandbox accepts goes through, and a forged
answer is refused with a WireError within bounds of depth, size and work."""

import collections
import datetime
import decimal
import fractions
import os
import pickle
import struct
import time

import pytest

from opto.runtime._wire import (
    _EXTENDED,
    MAX_SHARED_HASH,
    DecodeTimeout,
    RefusedGlobal,
    WireError,
    allowed_globals,
    decode,
)
from opto.runtime._wire_format import EXTENDED, MAGIC, MAX_DEPTH, EncodeError, encode

COLLIDING = 2**61 - 1  # hash(k * COLLIDING) == 0 for every int k


def u32(number: int) -> bytes:
    return struct.pack("<I", number)


def ints(values) -> bytes:
    """Integers in the answer format, as the child writes them (``I``: any size)."""
    parts = []
    for value in values:
        raw = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
        parts.append(b"I" + u32(len(raw)) + raw)
    return b"".join(parts)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned",))


class Fragile:
    """An allowed result type whose state cannot be restored from what it is given."""

    def __init__(self) -> None:
        self.value = 1

    def __setstate__(self, state):
        raise RuntimeError("not this state")


VALUES = [
    None,
    True,
    -(2**70),
    1.5,
    float("inf"),
    1 + 2j,
    "h\ud800i",
    b"x",
    bytearray(b"y"),
    list(range(20)),
    [0.5] * 20,
    ["a", "\udc00b", ""] * 4,
    [2**64] * 10,
    (1, (2,)),
    {1, 2},
    frozenset({3}),
    {"a": [1, {2: 3}]},
    collections.OrderedDict(a=1),
    collections.Counter("aab"),
    collections.deque([1, 2], maxlen=5),
    datetime.date(2024, 1, 2),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6, datetime.timezone(datetime.timedelta(hours=2), "X")),
    datetime.time(1, 2, 3, 4, fold=1),
    datetime.timedelta(1, 2, 3),
    decimal.Decimal("1.5"),
    slice(1, None, 2),
    int,
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_every_accepted_type_goes_through_unchanged(value):
    decoded = decode(encode(value), allowed_globals())
    assert decoded == value and type(decoded) is type(value)


def test_every_standard_type_the_child_writes_can_be_rebuilt():
    assert set(EXTENDED) == set(_EXTENDED)
    factory = decode(encode(collections.defaultdict(list, {1: [2]})), allowed_globals())
    assert factory.default_factory is list and factory[1] == [2]


def test_other_classes_need_to_be_allowed():
    allowed = allowed_globals(["fractions.Fraction"])
    assert decode(encode(fractions.Fraction(1, 3)), allowed) == fractions.Fraction(1, 3)
    with pytest.raises(RefusedGlobal, match=r"fractions\.Fraction"):
        decode(encode(fractions.Fraction(1, 3)), allowed_globals())


def test_an_allowed_class_failing_to_rebuild_is_a_wire_error_not_its_own_exception():
    allowed = allowed_globals([f"{__name__}.Fragile"])
    with pytest.raises(WireError, match="RuntimeError: not this state"):
        decode(encode(Fragile()), allowed)


def test_a_forged_answer_calling_a_function_is_refused_without_running_it():
    with pytest.raises(RefusedGlobal) as caught:
        decode(encode(_Exploit()), allowed_globals())
    assert caught.value.qualified_name in ("posix.system", "nt.system")


def test_a_pickle_is_not_an_answer():
    with pytest.raises(WireError, match="format"):
        decode(pickle.dumps({"kind": "ok"}))


def test_amplifying_builtins_are_not_on_the_allow_list():
    allowed = allowed_globals()
    for name in ("range", "bytearray", "bytes", "getattr", "eval", "exec", "__import__"):
        assert ("builtins", name) not in allowed


def test_extra_result_types_are_written_as_dotted_names():
    assert ("fractions", "Fraction") in allowed_globals(["fractions.Fraction"])
    with pytest.raises(ValueError, match=r"module\.Name"):
        allowed_globals(["Fraction"])


def test_nesting_is_bounded_on_both_sides():
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(EncodeError, match="nested"):
        encode(deep)
    with pytest.raises(EncodeError, match="contains itself"):
        loop: list = []
        loop.append(loop)
        encode(loop)
    forged = MAGIC + (b"t" + u32(1)) * 1_000_000 + b"N"  # a tuple nested a million deep
    with pytest.raises(WireError, match=f"more than {MAX_DEPTH} levels"):
        decode(forged)
    fine = MAGIC + (b"t" + u32(1)) * MAX_DEPTH + b"N"
    assert isinstance(decode(fine), tuple)


def test_keys_with_one_hash_value_are_refused_before_they_are_inserted():
    keys = [k * COLLIDING for k in range(1, 50_001)]
    for tag in (b"S", b"Z"):
        with pytest.raises(WireError, match="same hash"):
            decode(MAGIC + tag + u32(len(keys)) + ints(keys))
    pairs = ints(key for key in keys for _ in range(2))
    with pytest.raises(WireError, match="same hash"):
        decode(MAGIC + b"d" + u32(len(keys)) + pairs)
    few = keys[:MAX_SHARED_HASH]
    assert decode(MAGIC + b"S" + u32(len(few)) + ints(few)) == set(few)


def test_colliding_keys_cannot_be_smuggled_through_an_allowed_constructor():
    keys = [k * COLLIDING for k in range(1, 1001)]
    builtins_set = b"R" + u32(8) + b"builtins" + u32(3) + b"set"
    forged = MAGIC + builtins_set + b"t" + u32(1) + b"l" + u32(len(keys)) + ints(keys) + b"NNN"
    with pytest.raises(WireError, match="must not get its items as arguments"):
        decode(forged, allowed_globals())


def _seconds_to_decode(data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        decode(data)
        best = min(best, time.perf_counter() - started)
    return best


def test_decoding_grows_linearly_even_with_the_most_collisions_allowed():
    def answer(groups: int) -> bytes:  # every hash value shared by MAX_SHARED_HASH keys
        keys = [k * COLLIDING + g for g in range(groups) for k in range(MAX_SHARED_HASH)]
        return MAGIC + b"S" + u32(len(keys)) + ints(keys)

    small, large = _seconds_to_decode(answer(5_000)), _seconds_to_decode(answer(20_000))
    assert large / small < 8  # linear: about 4; quadratic: about 16


def test_counts_larger_than_the_answer_are_refused_before_anything_is_allocated():
    with pytest.raises(WireError, match="claims"):
        decode(MAGIC + b"l" + u32(2**32 - 1) + b"N")
    with pytest.raises(WireError, match="truncated"):
        decode(MAGIC + b"s" + u32(2**32 - 1) + b"abc")


@pytest.mark.parametrize(
    "forged",
    [
        MAGIC,
        MAGIC + b"i\x01",
        MAGIC + b"l" + u32(2) + b"N",
        MAGIC + b"NN",
        MAGIC + b"?",
        MAGIC + b"s" + u32(1) + b"\xff",
        MAGIC + b"x" + u32(4) + b"nope" + b"N",
        MAGIC + b"x" + u32(13) + b"datetime.date" + b"t" + u32(1) + b"s" + u32(1) + b"x",
        MAGIC + b"S" + u32(1) + b"l" + u32(0),  # an unhashable key
        MAGIC + b"w" + u32(2) + struct.pack("<qq", 5, -3) + u32(2) + b"ab",
    ],
)
def test_malformed_answers_are_wire_errors(forged):
    with pytest.raises(WireError):
        decode(forged)


def test_decoding_stops_at_the_deadline():
    answer = encode([[i] for i in range(100_000)])
    with pytest.raises(DecodeTimeout):
        decode(answer, deadline=time.monotonic() - 1)
    assert len(decode(answer, deadline=None)) == 100_000
