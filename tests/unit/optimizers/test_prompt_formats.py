"""One OptoPrime core, given a prompt format; the presets are the core with their format."""

import json

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import OPRO, OPROv2, OptimizerPromptSymbolSetJSON, OptoPrime, OptoPrimeV2
from opto.optimizers.formats import (
    OproFormat,
    OproTaggedFormat,
    PromptFormat,
    TaggedFormat,
    TraceJsonFormat,
)
from opto.trace import node


@pytest.mark.parametrize(
    "preset, part",
    [
        (OptoPrime, TraceJsonFormat),
        (OptoPrimeV2, TaggedFormat),
        (OPRO, OproFormat),
        (OPROv2, OproTaggedFormat),
    ],
)
def test_each_preset_is_the_core_with_its_format(preset, part):
    optimizer = preset([node(1, trainable=True)], llm=ScriptedLLM([]))
    assert type(optimizer.prompt_format) is part
    assert isinstance(optimizer, OptoPrime)


def test_json_mode_follows_what_the_format_reads():
    x = node(1, trainable=True)
    assert OptoPrime([x], llm=ScriptedLLM([])).use_json_object_format
    assert not OptoPrimeV2([x], llm=ScriptedLLM([])).use_json_object_format
    tagged_json = OptoPrimeV2(
        [x], llm=ScriptedLLM([]), optimizer_prompt_symbol_set=OptimizerPromptSymbolSetJSON()
    )
    assert tagged_json.use_json_object_format
    assert tagged_json.prompt_format.reply_label(tagged_json) == "JSON"
    tagged = OptoPrimeV2([x], llm=ScriptedLLM([]))
    assert tagged.prompt_format.reply_label(tagged) == "tag"


class KeyEqualsValue(PromptFormat):
    """A whole format of its own: a two-line prompt and ``name = value`` replies."""

    def system_prompt(self, optimizer):
        return "Answer with lines 'name = value'."

    def user_prompt(self, optimizer, summary, mask):
        names = ", ".join(summary.variables)
        return f"Variables: {names}\nFeedback: {summary.user_feedback}"

    def problem_instance(self, optimizer, summary, mask):
        return summary

    def expects_json(self, optimizer):
        return False

    def reply_label(self, optimizer):
        return "name = value"

    def parse(self, optimizer, reply):
        from opto.optimizers.parsing import ParsedReply

        pairs = dict(line.split(" = ", 1) for line in reply.splitlines() if " = " in line)
        return ParsedReply(None, None, pairs, False, None, reply, "none")

    def extract(self, optimizer, reply, **options):
        return dict(self.parse(optimizer, reply).suggestion)


def test_the_core_runs_with_a_format_of_its_own():
    x = node(3, trainable=True, name="x")
    llm = ScriptedLLM(["x0 = 8"])
    optimizer = OptoPrime([x], llm=llm, prompt_format=KeyEqualsValue())
    optimizer.zero_feedback()
    optimizer.backward(x + 1, "make it 9")
    optimizer.step()
    assert x.data == 8
    request = llm.requests[0]
    assert [m["content"] for m in request["messages"]] == [
        "Answer with lines 'name = value'.",
        "Variables: x0\nFeedback: make it 9",
    ]
    assert "response_format" not in request  # the format said its replies are not JSON


def test_a_refused_value_is_asked_again_in_the_formats_own_words():
    x = node(3, trainable=True, name="x")
    llm = ScriptedLLM([json.dumps({"suggestion": {"x0": "4.5"}}), "x0 = 4"])
    optimizer = OptoPrime([x], llm=llm, prompt_format=KeyEqualsValue(), repair_attempts=1)
    optimizer.zero_feedback()
    optimizer.backward(x + 1, "fb")
    optimizer.step()
    assert "same name = value format" in llm.requests[1]["messages"][-1]["content"]
    assert x.data == 4
