"""The JSON encoding of parameter values is exact and unambiguous."""

import json

import pytest

from opto.trace import model, node
from opto.trace.modules import ModuleSerializationError
from opto.trainer.checkpoint import decode_snapshot, encode_snapshot
from opto.utils.json_values import DamagedValue, decode_value, encode_value

LOOKALIKES = [
    {"__opto_tuple__": [1, 2]},
    {"__opto_dict__": {"a": 1}},
    {"__opto_tuple__": [1], "other": 2},
    {"__opto_set__": []},
    [{"__opto_tuple__": []}, ({"__opto_dict__": ({"__opto_tuple__": ()},)},)],
    ("a", [1, (2, 3)], {"k": (4,)}),
    (),
    {},
]


@pytest.mark.parametrize("value", LOOKALIKES)
def test_values_survive_encoding_and_json(value):
    text = json.dumps(encode_value(value))
    assert decode_value(json.loads(text)) == value
    assert repr(decode_value(json.loads(text))) == repr(value)  # tuples stay tuples, dicts dicts


@model
class Holder:
    def __init__(self, value):
        self.value = node(value, trainable=True, name="value")

    def forward(self, x):
        return self.value


def test_a_dict_that_looks_like_a_tuple_tag_is_still_a_dict_after_save_and_load(tmp_path):
    holder = Holder({"__opto_tuple__": [1, 2]})
    holder.save(tmp_path / "m.json")
    other = Holder({})
    other.load(tmp_path / "m.json")
    assert other.value.data == {"__opto_tuple__": [1, 2]}
    snapshot = {"value": {"__opto_tuple__": [1, 2]}}
    assert decode_snapshot(json.loads(json.dumps(encode_snapshot(snapshot)))) == snapshot


def test_files_written_before_dicts_were_wrapped_read_as_before():
    assert decode_value({"__opto_tuple__": [1, [2]]}) == (1, [2])
    assert decode_value({"a": {"__opto_tuple__": []}}) == {"a": ()}


@pytest.mark.parametrize(
    "data",
    [
        {"__opto_tuple__": 3},
        {"__opto_dict__": [1]},
        float("inf"),
        [float("nan")],
        json.loads("[" * 150 + "]" * 150),
    ],
    ids=["tuple-tag", "dict-tag", "inf", "nan", "deep"],
)
def test_data_no_value_encodes_to_is_refused(data):
    with pytest.raises(DamagedValue):
        decode_value(data)


def test_module_load_refuses_a_value_of_another_type(tmp_path):
    holder = Holder("text")
    holder.save(tmp_path / "m.json")
    counter = Holder(3)
    with pytest.raises(ModuleSerializationError, match="type str, the parameter one of type int"):
        counter.load(tmp_path / "m.json")
    assert counter.value.data == 3
