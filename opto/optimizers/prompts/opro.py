"""Prompt text of OPRO (history of solutions and feedback) and OPROv2 (XML, one solution)."""

from __future__ import annotations

from opto.optimizers.prompts.optoprime import SEPARATOR

OPRO_OUTPUT_FORMAT = """
You are improving the values of some variables from feedback. You will see earlier values of the variables, each with the feedback it received.

Output_format: Your output should be in the following json format, satisfying the json syntax:

{
"suggestion": {
    <variable_1>: <suggested_value_1>,
    <variable_2>: <suggested_value_2>,
}
}

Suggest new values that address the feedback. If no changes are needed, just output TERMINATE.
"""

OPRO_USER_TEMPLATE = (
    "\nBelow are some example variables and their feedbacks.\n\n{examples}\n\n"
    + SEPARATOR
    + "\n\n{instruction}\n"
)
OPRO_OBJECTIVE = "Come up with a new variable in accordance to feedback."

OPROV2_OBJECTIVE = "Propose a new solution that will incorporate the feedback."

OPROV2_REPRESENTATION = """
You are improving a proposed solution according to feedback. The problem is given in these parts:
- {problem_context_section_title}: what the solution is for.
- {variable_section_title}: the current value of each part of the solution you can change.
- {feedback_section_title}: feedback on the current solution.

Each part of the solution is written as:
<{variable_tag} name="solution_name" type="data_type">
<{value_tag}>
value
</{value_tag}>
<{constraint_tag}>
what the part must satisfy, when it is given
</{constraint_tag}>
</{variable_tag}>
"""

OPROV2_OUTPUT_FORMAT = """
Output_format: Your output should be in the following XML/HTML format:

```
{output_format}
```

In <{reasoning_tag}>, explain what the feedback says about the solution and how your revision addresses it. Write each revised part in its own <{improved_variable_tag}> block, named as in {variable_section_title}. If no changes are needed, just output TERMINATE.
"""

OPROV2_PROBLEM_TEMPLATE = """{problem_context_section_title}
{instruction}

{variable_section_title}
{variables}

{feedback_section_title}
{feedback}"""

OPROV2_FINAL_PROMPT = "What are your revised solutions on {names}?\n\nYour response:\n"
