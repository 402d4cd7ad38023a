"""OptoPrime's prompt text (Trace's v1 format: section markers, separators and layout).

Section markers, the line formats, the separators and ``Your response:`` match Trace byte for
byte, so prompts can be diffed against Trace's and ``prompt_symbols`` overrides still apply.
The explanatory sentences are opto's own.
"""

from __future__ import annotations

SEPARATOR = "=" * 32

SECTIONS = {
    "instruction": "#Instruction",
    "code": "#Code",
    "documentation": "#Documentation",
    "variables": "#Variables",
    "constraints": "#Constraints",
    "inputs": "#Inputs",
    "others": "#Others",
    "outputs": "#Outputs",
    "feedback": "#Feedback",
}

DEFAULT_OBJECTIVE = (
    "You need to change the <value> of the variables in #Variables to improve the output in "
    "accordance to #Feedback."
)

REPRESENTATION = """
You are solving a programming problem. You are shown an instruction, a piece of code, the documentation of the functions the code calls, and feedback on what running the code produced.

The problem is given in these parts:
- #Instruction: what you are asked to do, or the question to answer.
- #Code: the code that was run.
- #Documentation: a description of each function called in #Code. It may be partial; the values in #Others show what the functions actually computed.
- #Variables: the input variables that you can change.
- #Constraints: constraints on, or descriptions of, the variables in #Variables.
- #Inputs: other inputs of the code; you cannot change them.
- #Others: intermediate values computed while the code ran.
- #Outputs: what the code produced.
- #Feedback: feedback on the result of running the code.

In #Variables, #Inputs, #Outputs, and #Others, the format is:

<data_type> <variable_name> = <value>

If <type> is (code), it means <value> is the source code of a python code, which may include docstring and definitions.
"""

# The output-format part of the system prompt as ``str.format`` templates over the JSON key
# names (``{reasoning}``, ``{answer}``, ``{suggestion}``; literal braces doubled): one with an
# answer key, one without.
OUTPUT_FORMAT_WITH_ANSWER = """
Output_format: Your output should be in the following json format, satisfying the json syntax:

{{
"{reasoning}": <Your reasoning>,
"{answer}": <Your answer>,
"{suggestion}": {{
    <variable_1>: <suggested_value_1>,
    <variable_2>: <suggested_value_2>,
}}
}}

In "{reasoning}", explain the problem: 1. what #Instruction asks; 2. what #Feedback on #Outputs says about #Variables, given how #Variables are used in #Code and the values in #Documentation, #Inputs and #Others; 3. which changes to #Variables you suggest, if any, and what result you expect from them.

If #Instruction asks for an answer, write it down in "{answer}".

If you need to suggest a change in the values of #Variables, write down the suggested values in "{suggestion}". Only the values in #Variables can be changed. When <type> of a variable is (code), write the complete new definition as valid python code, and keep the function name and the function signature unchanged.

If no changes or answer are needed, just output TERMINATE.
"""

OUTPUT_FORMAT_NO_ANSWER = """
Output_format: Your output should be in the following json format, satisfying the json syntax:

{{
"{reasoning}": <Your reasoning>,
"{suggestion}": {{
    <variable_1>: <suggested_value_1>,
    <variable_2>: <suggested_value_2>,
}}
}}

In "{reasoning}", explain the problem: 1. what #Instruction asks; 2. what #Feedback on #Outputs says about #Variables, given how #Variables are used in #Code and the values in #Documentation, #Inputs and #Others; 3. which changes to #Variables you suggest, if any, and what result you expect from them.

If you need to suggest a change in the values of #Variables, write down the suggested values in "{suggestion}". Only the values in #Variables can be changed. When <type> of a variable is (code), write the complete new definition as valid python code, and keep the function name and the function signature unchanged.

If no changes are needed, just output TERMINATE.
"""

PROBLEM_TEMPLATE = """
#Instruction
{instruction}

#Code
{code}

#Documentation
{documentation}

#Variables
{variables}

#Constraints
{constraints}

#Inputs
{inputs}

#Others
{others}

#Outputs
{outputs}

#Feedback
{feedback}
"""

USER_PROMPT_TEMPLATE = (
    f"\nNow you see problem instance:\n\n{SEPARATOR}\n{{problem_instance}}\n{SEPARATOR}\n\n"
)

EXAMPLE_PROMPT = "\nHere is an example of problem instance and response:\n\n{examples}"

EXAMPLE_PROBLEM_TEMPLATE = (
    f"{SEPARATOR}\n\n{{example_problem}}\n\n{SEPARATOR}\n\nYour response:\n{{example_response}}\n"
)

MEMORY_LEAD = "\nBelow are some variables and their feedbacks you received in the past.\n\n"

FINAL_PROMPT = "\nYour response:\n"

FINAL_PROMPT_WITH_VARIABLES = (
    "\nWhat are your suggestions on variables {names}?\n\nYour response:\n"
)


EXAMPLE_PROBLEM = """#Instruction
You need to change the <value> of the variables in #Variables to improve the output in accordance to #Feedback.

#Code
y = add(x=a,y=b)
z = subtract(x=y, y=c)

#Documentation
[add] Sum: x + y.
[subtract] Difference: x - y.

#Variables
(int) a=5

#Constraints
(int) a: a > 0

#Inputs
(int) b=1
(int) c=5

#Others
(int) y=6

#Outputs
(int) z=1

#Feedback
The result should be 10, but it is 1."""

EXAMPLE_REPLY = {
    "reasoning": (
        "z = (a + b) - c = a + 1 - 5, so z = a - 4. The feedback asks for z = 10, which needs "
        "a = 14; 14 satisfies a > 0."
    ),
    "answer": "",
    "suggestion": {"a": 14},
}
