"""What the child sends back is decoded without trusting it."""

import os
import pickle

import pytest

from opto.runtime._wire import RefusedGlobal, allowed_globals, plain_loads, safe_loads


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_a_forged_pickle_calling_a_function_is_refused_without_running_it():
    with pytest.raises(RefusedGlobal) as caught:
        safe_loads(pickle.dumps(_Exploit()), allowed_globals())
    assert caught.value.qualified_name in ("posix.system", "nt.system")


def test_plain_messages_need_no_globals():
    message = {"kind": "ok", "value": b"\x80", "line": 3, "items": [1.5, None, (True,)]}
    assert plain_loads(pickle.dumps(message, protocol=5)) == message
    with pytest.raises(RefusedGlobal):
        plain_loads(pickle.dumps(complex(1, 2)))


def test_amplifying_builtins_are_not_on_the_allow_list():
    allowed = allowed_globals()
    for name in ("range", "bytearray", "bytes", "getattr", "eval", "exec", "__import__"):
        assert ("builtins", name) not in allowed


def test_extra_result_types_are_written_as_dotted_names():
    assert ("fractions", "Fraction") in allowed_globals(["fractions.Fraction"])
    with pytest.raises(ValueError, match=r"module\.Name"):
        allowed_globals(["Fraction"])
