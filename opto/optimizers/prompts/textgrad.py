"""TextGrad's prompt family on the trace graph, in opto's own words.

The names and the placeholders are TextGrad's (as Trace exposes them in
``opto.optimizers.textgrad``), so code that formats them keeps working; the tag glossary is
the TextGrad paper's (``<LM_INPUT>``, ``<LM_OUTPUT>``, ``<FEEDBACK>``, ``<ROLE>``,
``<VARIABLE>``, ``<OBJECTIVE_FUNCTION>``, ``<CONSTRAINTS>``).
"""

from __future__ import annotations

GLOSSARY_TEXT = """
### Glossary of tags
<LM_INPUT>: what a step of the computation received (its code and inputs).
<LM_OUTPUT>: what that step produced.
<FEEDBACK>: feedback on a variable or on an output.
<VARIABLE>: the value of the variable to improve.
<ROLE>: what the variable is and what it is for.
<CONSTRAINTS>: rules the new value must follow."""

GLOSSARY_TEXT_BACKWARD = """
### Glossary of tags
<LM_INPUT>: what a step of the computation received (its code and inputs).
<LM_OUTPUT>: what that step produced.
<OBJECTIVE_FUNCTION>: what the whole computation should achieve.
<FEEDBACK>: feedback on an output of the step.
<ROLE>: what the variable you give feedback on is and what it is for.
<VARIABLE>: the value of that variable."""

BACKWARD_SYSTEM_PROMPT = (
    "You are part of an optimization system that improves the variables of a computation with "
    "textual feedback. You see one step of the computation and feedback on what it produced. "
    "Explain how one of the variables of that step should change so that the output improves "
    "with respect to the objective. Be specific and concise; reply with that feedback only and "
    "do not propose a new value." + GLOSSARY_TEXT_BACKWARD
)

REDUCE_MEAN_SYSTEM_PROMPT = (
    "Several pieces of feedback were given on one variable, each between <FEEDBACK> tags. "
    "Combine them into one concise piece of feedback that keeps every distinct point. Reply "
    "with the combined feedback only."
)

OPTIMIZER_SYSTEM_PROMPT = (
    "You improve a variable of a computation using feedback. You are given the variable's "
    "role, its current value and feedback on it. Reply with the complete improved value "
    "between {new_variable_start_tag} and {new_variable_end_tag}, and nothing else inside those "
    "tags; follow every constraint." + GLOSSARY_TEXT
)

CONVERSATION_TEMPLATE = "<LM_INPUT>{prompt}</LM_INPUT>\n<LM_OUTPUT>{response_value}</LM_OUTPUT>"

CONVERSATION_START_INSTRUCTION_BASE = (
    "You will give feedback to a variable with this role: <ROLE>{variable_desc}</ROLE>.\n"
    "Here is the last step of the computation, which produced the final output:\n\n"
    "{conversation}\n\n"
)

CONVERSATION_START_INSTRUCTION_CHAIN = (
    "You will give feedback to a variable with this role: <ROLE>{variable_desc}</ROLE>.\n"
    "Here is one step of the computation; later steps use what it produced:\n\n"
    "{conversation}\n\n"
)

OBJECTIVE_INSTRUCTION_BASE = (
    "The output of this step is the final output of the computation; the feedback below "
    "evaluates it directly.\n"
)

OBJECTIVE_INSTRUCTION_CHAIN = (
    "Here is the feedback on {response_desc}:\n<FEEDBACK>{response_gradient}</FEEDBACK>\n\n"
)

OBJECTIVE_LINE = "<OBJECTIVE_FUNCTION>{objective}</OBJECTIVE_FUNCTION>\n\n"

EVALUATE_VARIABLE_INSTRUCTION = (
    "Explain how the variable <VARIABLE>{variable_short}</VARIABLE> ({variable_desc}) should "
    "change so that the output improves."
)

GRADIENT_TEMPLATE = (
    "Here is a step of the computation that used the variable ({variable_desc}):\n"
    "{context}\n"
    "Feedback on {response_desc}, as it concerns the variable:\n<FEEDBACK>{feedback}</FEEDBACK>\n"
)

TGD_PROMPT_PREFIX = (
    "Here is the role of the variable you improve: <ROLE>{variable_desc}</ROLE>.\n\n"
    "The variable is:\n<VARIABLE>{variable_short}</VARIABLE>\n\n"
    "Here is the feedback on it:\n\n<FEEDBACK>{variable_grad}</FEEDBACK>\n\n"
    "Improve the variable ({variable_desc}) using the feedback.\n"
)

TGD_MULTIPART_PROMPT_INIT = (
    "Here is the role of the variable you improve: <ROLE>{variable_desc}</ROLE>.\n\n"
    "The variable is:\n<VARIABLE>{variable_short}</VARIABLE>\n\n"
    "Here are the steps of the computation that used it, with the feedback on each:\n\n"
)

TGD_MULTIPART_PROMPT_PREFIX = "Improve the variable ({variable_desc}) using the feedback above.\n"

MOMENTUM_PROMPT_ADDITION = (
    "Here are earlier values of the variable:\n\n<PAST_ITERATIONS>{past_values}"
    "</PAST_ITERATIONS>\n\nMake the new value different from them where the feedback asks "
    "for a change.\n"
)

CONSTRAINT_PROMPT_ADDITION = (
    "The new value must follow these constraints:\n\n<CONSTRAINTS>{constraint_text}</CONSTRAINTS>\n"
)

IN_CONTEXT_EXAMPLE_PROMPT_ADDITION = (
    "Here are examples of what the variable ({variable_desc}) should do or look like:\n\n"
    "<EXAMPLES>{in_context_examples}</EXAMPLES>\n"
)

TGD_PROMPT_SUFFIX = (
    "Send the complete improved variable between {new_variable_start_tag} and "
    "{new_variable_end_tag}."
)

NEW_VARIABLE_START_TAG = "<IMPROVED_VARIABLE>"
NEW_VARIABLE_END_TAG = "</IMPROVED_VARIABLE>"

CODE_CONSTRAINT = (
    "The value is python code: write the complete definition, valid python, keeping the "
    "function name and signature."
)

DEFAULT_OBJECTIVE = "Improve the output according to the feedback."
