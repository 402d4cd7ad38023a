"""OptoPrimeV2's prompt text: Trace 0.2's XML-tag format, with configurable symbols.

Tag and section names come from a symbol set so that models that prefer other words
(``var``/``data``/``reason``) or JSON can be served; the explanatory sentences are opto's own.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = "=" * 32


@dataclass(frozen=True)
class OptimizerPromptSymbolSet:
    """Names used in OptoPrimeV2's prompts and expected in its replies."""

    instruction_section_title: str = "# Instruction"
    code_section_title: str = "# Code"
    documentation_section_title: str = "# Documentation"
    variables_section_title: str = "# Variables"
    inputs_section_title: str = "# Inputs"
    others_section_title: str = "# Others"
    outputs_section_title: str = "# Outputs"
    feedback_section_title: str = "# Feedback"
    node_tag: str = "node"
    variable_tag: str = "variable"
    value_tag: str = "value"
    constraint_tag: str = "constraint"
    reasoning_tag: str = "reasoning"
    improved_variable_tag: str = "variable"
    name_tag: str = "name"
    expect_json: bool = False


@dataclass(frozen=True)
class OptimizerPromptSymbolSet2(OptimizerPromptSymbolSet):
    """Shorter tag names."""

    variable_tag: str = "var"
    value_tag: str = "data"
    constraint_tag: str = "const"
    reasoning_tag: str = "reason"
    improved_variable_tag: str = "var"


@dataclass(frozen=True)
class OptimizerPromptSymbolSetJSON(OptimizerPromptSymbolSet):
    """The problem in tags, the reply in JSON (``reasoning`` and ``suggestion``)."""

    expect_json: bool = True


DEFAULT_OBJECTIVE = (
    "You need to change the `value` of the variables in # Variables to improve the output in "
    "accordance to # Feedback."
)

INTRODUCTION = """
You are solving a programming problem. You are shown an instruction, a piece of code, the documentation of the functions the code calls, and feedback on what running the code produced.

The problem is given in these parts:
- #Instruction: what you are asked to do, or the question to answer.
- #Code: the code that was run.
- #Documentation: a description of each function called in #Code. It may be partial; the values in #Others show what the functions actually computed.
- #Variables: the input variables that you can change/tweak (trainable).
- #Inputs: fixed inputs of the code; they CANNOT be changed.
- #Others: intermediate values computed while the code ran.
- #Outputs: what the code produced.
- #Feedback: feedback on the result of running the code.

For variables we express as this:
<{variable} name="variable_name" type="data_type">
<{value}>
value
</{value}>
<{constraint}>
constraint_expression
</{constraint}>
</{variable}>

If `data_type` is `code`, it means `{value}` is the source code of a python code, which may include docstring and definitions.
"""

XML_OUTPUT = """
Output_format: Your output should be in the following XML/HTML format:

```
<{reasoning}>
reasoning
</{reasoning}>
<{improved}>
<{name}>variable_name</{name}>
<{value}>
value
</{value}>
</{improved}>
```

In <{reasoning}>, explain: 1. what #Instruction asks; 2. what #Feedback on #Outputs says about #Variables, given how they are used in #Code and the values in #Documentation, #Inputs and #Others; 3. which changes you suggest and what result you expect.

Write each suggested value in its own <{improved}> block, with the variable's name in <{name}>. Only #Variables can be changed. For a variable of type code, write the complete new definition as valid python code, and keep the function name and the function signature unchanged.

If no changes are needed, just output TERMINATE.
"""

JSON_OUTPUT = """
Output_format: Your output should be in the following json format, satisfying the json syntax:

{{
"reasoning": <Your reasoning>,
"suggestion": {{
    <variable_1>: <suggested_value_1>,
    <variable_2>: <suggested_value_2>,
}}
}}

In "reasoning", explain: 1. what #Instruction asks; 2. what #Feedback on #Outputs says about #Variables, given how they are used in #Code and the values in #Documentation, #Inputs and #Others; 3. which changes you suggest and what result you expect.

Write the suggested values in "suggestion". Only #Variables can be changed. For a variable of type code, write the complete new definition as valid python code, and keep the function name and the function signature unchanged.

If no changes are needed, just output TERMINATE.
"""

MEMORY_LEAD = "\nBelow are some variables and their feedbacks you received in the past.\n\n"
TRUNCATED = "...(skipped due to length limit)"
