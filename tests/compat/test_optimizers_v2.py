"""OptoPrimeV2 and OPROv2 as Trace 0.2 programs use them: symbol sets, the problem and memory
classes, the reply extractors and the module paths."""

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers.opro_v2 import OPROPromptSymbolSet, OPROv2
from opto.optimizers.opro_v2 import ProblemInstance as OPROProblem
from opto.optimizers.optoprime_v2 import (
    MemoryInstance,
    OptimizerPromptSymbolSet,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
    OptoPrimeV2,
    ProblemInstance,
    extract_xml_like_data,
    truncate_expression,
)
from opto.trace import bundle, node


@bundle()
def greet(name, template):
    """Fills the template with the name."""
    return template.format(name)


def backward(optimizer, output, feedback):
    optimizer.zero_feedback()
    optimizer.backward(output, feedback)


def tagged(name, value, tag="variable", reasoning="r"):
    return f"<reasoning>{reasoning}</reasoning>\n<{tag}><name>{name}</name><value>{value}</value></{tag}>"


class ParamSymbols(OptimizerPromptSymbolSet):
    """A user's own names, set the Trace way: class attributes of a subclass."""

    variable_tag = "param"
    improved_variable_tag = "param"
    variables_section_title = "# Parameters"


def test_a_symbol_set_subclass_renames_what_is_shown_and_read():
    template = node("Hi {}", trainable=True, name="template")
    llm = ScriptedLLM([tagged("template0", "Hello {}!", tag="param")])
    optimizer = OptoPrimeV2([template], llm=llm, optimizer_prompt_symbol_set=ParamSymbols())
    backward(optimizer, greet("Ada", template), "be warmer")
    optimizer.step()
    system, user = (m["content"] for m in llm.requests[0]["messages"])
    assert '# Parameters\n<param name="template0" type="str">' in user
    assert "<param>\n<name>variable_name</name>" in system and "#Parameters" in system
    assert "`value` of the variables in # Parameters" in user
    assert template.data == "Hello {}!"


def test_changing_the_symbol_set_then_initialize_prompt_updates_the_system_prompt():
    template = node("Hi {}", trainable=True, name="template")
    optimizer = OptoPrimeV2([template], llm=ScriptedLLM([]))
    assert "<variable>" in optimizer.output_format_prompt
    optimizer.optimizer_prompt_symbol_set = OptimizerPromptSymbolSet2()
    optimizer.initialize_prompt()
    assert "<var>\n<name>variable_name</name>\n<data>" in optimizer.output_format_prompt
    assert "<reason>" in optimizer.output_format_prompt
    assert '<var name="variable_name" type="data_type">' in optimizer.representation_prompt


def test_symbol_sets_know_their_reply_format():
    xml = OptimizerPromptSymbolSet()
    example = xml.example_output("because", {"a": 1, "b": "two"})
    assert example.startswith("<reasoning>\nbecause\n</reasoning>")
    assert xml.output_response_extractor(example) == {
        "reasoning": "because",
        "variables": {"a": "1", "b": "two"},
    }
    assert "<reasoning>" not in xml.example_output("", {"a": 1})
    assert set(xml.default_prompt_symbols) == {
        "instruction",
        "code",
        "documentation",
        "variables",
        "inputs",
        "others",
        "outputs",
        "feedback",
    }
    as_json = OptimizerPromptSymbolSetJSON()
    text = as_json.example_output("because", {"a": 1})
    assert as_json.output_response_extractor(text) == {
        "reasoning": "because",
        "variables": {"a": 1},
    }
    assert '"suggestion"' in as_json.output_format


def test_a_custom_output_format_needs_its_own_extractor():
    class Lines(OptimizerPromptSymbolSet):
        custom_output_format_instruction = "  name: value, one per line  "

    assert Lines().output_format == "name: value, one per line"
    with pytest.raises(NotImplementedError):
        Lines().output_response_extractor("a: 1")
    with pytest.raises(NotImplementedError):
        Lines().example_output("", {"a": 1})


def test_extract_llm_suggestion_returns_reasoning_and_variables():
    template = node("Hi {}", trainable=True, name="template")
    optimizer = OptoPrimeV2([template], llm=ScriptedLLM([]))
    reply = tagged("template0", "Hey {}", reasoning="shorter") + (
        "<variable><name>template0</name><value>Yo {}</value></variable>"
    )
    assert optimizer.extract_llm_suggestion(reply) == {
        "reasoning": "shorter",
        "variables": {"template0": "Yo {}"},
    }


def test_memory_instance_and_problem_instance_render_with_the_set():
    symbols = OptimizerPromptSymbolSet()
    code = "def f(x):\n    return x + 1"
    memory = MemoryInstance({"__code0": (code, None)}, "too small", symbols, index=2)
    text = str(memory)
    assert text.startswith("<round 2>\n<variable><name>__code0</name><value>\n")
    assert "    return x + 1" in text, "indentation is kept"
    assert text.endswith("<feedback>too small</feedback>\n</round 2>")
    assert str(MemoryInstance({}, "fb", symbols)).startswith("<round>\n")

    problem = ProblemInstance("Do it.", "", "", "", "", "", "", "ok", symbols)
    assert str(problem).startswith("# Instruction\nDo it.\n\n# Code\n")
    assert str(problem).endswith("# Feedback\nok")


def test_memory_keeps_past_rounds_in_the_next_prompt():
    template = node("Hi {}", trainable=True, name="template")
    llm = ScriptedLLM([tagged("template0", "Hello {}"), tagged("template0", "Hello there {}")])
    optimizer = OptoPrimeV2([template], llm=llm, memory_size=2)
    backward(optimizer, greet("Ada", template), "be warmer")
    optimizer.step()
    backward(optimizer, greet("Ada", template), "warmer still")
    optimizer.step()
    user = llm.requests[1]["messages"][1]["content"]
    assert "<round 1>\n<variable><name>template0</name><value>\nHi {}\n</value></variable>" in user
    assert "<feedback>be warmer</feedback>" in user


def test_masking_the_code_section_blanks_code_and_keeps_inputs():
    template = node("Hi {}", trainable=True, name="template")
    llm = ScriptedLLM([tagged("template0", "Hello {}")])
    optimizer = OptoPrimeV2([template], llm=llm)
    backward(optimizer, greet("Ada", template), "be warmer")
    optimizer.step(mask=["# Code"])
    user = llm.requests[0]["messages"][1]["content"]
    assert "# Code\n\n\n# Documentation" in user
    assert '<node name="name0" type="str">' in user, "Trace blanked the code for an inputs mask"


def test_include_example_shows_a_reply_in_the_symbol_sets_format():
    template = node("Hi {}", trainable=True, name="template")
    llm = ScriptedLLM([tagged("template0", "Hello {}")])
    optimizer = OptoPrimeV2([template], llm=llm, include_example=True)
    backward(optimizer, greet("Ada", template), "be warmer")
    optimizer.step()
    user = llm.requests[0]["messages"][1]["content"]
    example = user.split("Now you see problem instance")[0]
    assert '<variable name="a" type="int">' in example
    assert "<variable>\n<name>a</name>\n<value>\n14\n</value>\n</variable>" in example


def test_helper_functions_of_the_v2_module():
    assert truncate_expression("abcdef", 3) == "abc...(skipped due to length limit)"
    assert truncate_expression([1, 2], 10) == "[1, 2]"
    reply = "<reasoning>r</reasoning><variable><name>a</name><value> 5 </value></variable>"
    assert extract_xml_like_data(reply) == {"reasoning": "r", "variables": {"a": "5"}}


def test_oprov2_module_and_its_symbol_set():
    symbols = OPROPromptSymbolSet()
    assert symbols.default_prompt_symbols == {
        "variables": "# Solution",
        "feedback": "# Feedback",
        "instruction": "# Problem Context",
    }
    problem = OPROProblem("Write a greeting.", "<solution ...>", "too cold", symbols)
    assert str(problem) == (
        "# Problem Context\nWrite a greeting.\n\n# Solution\n<solution ...>\n\n# Feedback\ntoo cold"
    )
    tone = node("formal", trainable=True, name="tone")
    llm = ScriptedLLM([tagged("tone0", "warm")])
    optimizer = OPROv2([tone], llm=llm)
    backward(optimizer, tone + "!", "too cold")
    optimizer.step()
    assert tone.data == "warm", "a reply in <variable> blocks is read too"
    assert llm.requests[0]["messages"][1]["content"].endswith(
        "What are your revised solutions on tone0?\n\nYour response:\n"
    )
