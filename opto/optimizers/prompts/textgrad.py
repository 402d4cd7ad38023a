"""TextGrad's prompt family on the trace graph (tag names as in the TextGrad paper)."""

from __future__ import annotations

GRADIENT_SYSTEM = (
    "You are part of an optimization system that improves the variables of a computation with "
    "textual feedback. You see one step of the computation: its inputs and code in <LM_INPUT>, "
    "what it produced in <LM_OUTPUT>, and feedback on that output in <FEEDBACK>. Explain how the "
    "variable in <VARIABLE>, whose role is given in <ROLE>, should change so that the output "
    "improves with respect to <OBJECTIVE_FUNCTION>. Reply with that feedback only; do not "
    "propose a new value."
)

GRADIENT_USER = """<ROLE>{role}</ROLE>
<VARIABLE>{value}</VARIABLE>
<LM_INPUT>{operation}</LM_INPUT>
<LM_OUTPUT>{output}</LM_OUTPUT>
<OBJECTIVE_FUNCTION>{objective}</OBJECTIVE_FUNCTION>
<FEEDBACK>{feedback}</FEEDBACK>"""

REDUCE_SYSTEM = (
    "Several pieces of feedback were given on one variable. Combine them into one concise piece "
    "of feedback that keeps every distinct point. Reply with the combined feedback only."
)

UPDATE_SYSTEM = (
    "You improve a variable using feedback. The variable is in <VARIABLE>, its role in <ROLE>, "
    "feedback on it in <FEEDBACK>, and rules it must follow in <CONSTRAINTS>. Reply with the "
    "complete improved value between <IMPROVED_VARIABLE> and </IMPROVED_VARIABLE>, and nothing "
    "else inside those tags."
)

UPDATE_USER = """<ROLE>{role}</ROLE>
<VARIABLE>{value}</VARIABLE>
<FEEDBACK>{feedback}</FEEDBACK>
<CONSTRAINTS>{constraints}</CONSTRAINTS>"""

DEFAULT_OBJECTIVE = "Improve the output according to the feedback."
CODE_CONSTRAINT = (
    "The value is python code: write the complete definition, valid python, keeping the "
    "function name and signature."
)
