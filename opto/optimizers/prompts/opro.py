"""Prompt text of OPRO (history of solutions and feedback) and OPROv2 (XML, one solution)."""

from __future__ import annotations

OPRO_SYSTEM = """
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

OPRO_HISTORY_LEAD = "\nBelow are some example variables and their feedbacks.\n\n"
OPRO_OBJECTIVE = "Come up with a new variable in accordance to feedback."

OPROV2_OBJECTIVE = "Propose a new solution that will incorporate the feedback."

OPROV2_SYSTEM = """
You are improving a proposed solution according to feedback. The problem is given in these parts:
- # Problem Context: what the solution is for.
- # Solution: the current value of each part of the solution you can change.
- # Feedback: feedback on the current solution.

Each part of the solution is written as:
<{tag} name="solution_name" type="data_type">
<{value}>
value
</{value}>
</{tag}>

Output_format: Your output should be in the following XML/HTML format:

```
<{reasoning}>
reasoning
</{reasoning}>
<{tag}>
<{name}>solution_name</{name}>
<{value}>
value
</{value}>
</{tag}>
```

In <{reasoning}>, explain what the feedback says about the solution and how your revision addresses it. Write each revised part in its own <{tag}> block. If no changes are needed, just output TERMINATE.
"""
