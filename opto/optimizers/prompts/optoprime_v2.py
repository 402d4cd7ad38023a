"""OptoPrimeV2's prompt text: Trace 0.2's XML-tag format, with names from a symbol set.

The templates are filled with a symbol set's section titles (written without spaces in the
system prompt, as in Trace) and tag names; the explanatory sentences are opto's own.
"""

from __future__ import annotations

SEPARATOR = "=" * 32

DEFAULT_OBJECTIVE_TEMPLATE = (
    "You need to change the `{value_tag}` of the variables in {variables_section_title} to "
    "improve the output in accordance to {feedback_section_title}."
)

REPRESENTATION_TEMPLATE = """
You are solving a programming problem. You are shown an instruction, a piece of code, the documentation of the functions the code calls, and feedback on what running the code produced.

The problem is given in these parts:
- {instruction_section_title}: what you are asked to do, or the question to answer.
- {code_section_title}: the code that was run.
- {documentation_section_title}: a description of each function called in {code_section_title}. It may be partial; the values in {others_section_title} show what the functions actually computed.
- {variables_section_title}: the input variables that you can change/tweak (trainable).
- {inputs_section_title}: fixed inputs of the code; they CANNOT be changed.
- {others_section_title}: intermediate values computed while the code ran.
- {outputs_section_title}: what the code produced.
- {feedback_section_title}: feedback on the result of running the code.

For variables we express as this:
{variable_expression_format}

If `data_type` is `code`, it means `{value_tag}` is the source code of a python code, which may include docstring and definitions.
"""

VARIABLE_EXPRESSION_FORMAT = """<{variable_tag} name="variable_name" type="data_type">
<{value_tag}>
value
</{value_tag}>
<{constraint_tag}>
constraint_expression
</{constraint_tag}>
</{variable_tag}>"""

OUTPUT_FORMAT_TEMPLATE = """
Output_format: Your output should be in the following format:

```
{output_format}
```

In the "{reasoning_tag}" part, explain: 1. what {instruction_section_title} asks; 2. what {feedback_section_title} on {outputs_section_title} says about {variables_section_title}, given how they are used in {code_section_title} and the values in {documentation_section_title}, {inputs_section_title} and {others_section_title}; 3. which changes you suggest and what result you expect.

Write the new value of each variable you change in the format above, under the variable's name. Only {variables_section_title} can be changed. For a variable of type code, write the complete new definition as valid python code, and keep the function name and the function signature unchanged.

If no changes are needed, just output TERMINATE.
"""

XML_OUTPUT_FORMAT = """<{reasoning_tag}>
reasoning
</{reasoning_tag}>
<{improved_variable_tag}>
<{name_tag}>variable_name</{name_tag}>
<{value_tag}>
value
</{value_tag}>
</{improved_variable_tag}>"""

JSON_OUTPUT_FORMAT = """{
"reasoning": <Your reasoning>,
"suggestion": {
    <variable_1>: <suggested_value_1>,
    <variable_2>: <suggested_value_2>
}
}"""

PROBLEM_TEMPLATE = """{instruction_section_title}
{instruction}

{code_section_title}
{code}

{documentation_section_title}
{documentation}

{variables_section_title}
{variables}

{inputs_section_title}
{inputs}

{others_section_title}
{others}

{outputs_section_title}
{outputs}

{feedback_section_title}
{feedback}"""

USER_PROMPT_TEMPLATE = (
    f"\nNow you see problem instance:\n\n{SEPARATOR}\n\n{{problem_instance}}\n\n{SEPARATOR}\n\n"
)

EXAMPLE_PROMPT = "\nHere is an example of problem instance and response:\n\n{examples}"

EXAMPLE_PROBLEM_TEMPLATE = (
    f"{SEPARATOR}\n\n{{example_problem}}\n\n{SEPARATOR}\n\nYour response:\n{{example_response}}\n"
)

FINAL_PROMPT = "What are your suggestions on variables {names}?\n\nYour response:\n"

MEMORY_LEAD = "\nBelow are some variables and their feedbacks you received in the past.\n\n"

MEMORY_TEMPLATE = "<round{index}>\n{variables}\n<feedback>{feedback}</feedback>\n</round{index}>"

TRUNCATED = "...(skipped due to length limit)"
