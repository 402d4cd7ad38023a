"""Shared by the examples: a real LLM when one is configured, else scripted replies."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from opto.llm import LLM, LLMError, ScriptedLLM, is_configured


def run(main: Callable[[], None]) -> None:
    """Run an example's `main`; a failure of the model (unreachable server, bad key, budget)
    ends it with the error's one-paragraph explanation instead of a traceback."""
    try:
        main()
    except LLMError as error:
        sys.exit(f"[LLM] {type(error).__name__}: {error}")


def choose_llm(scripted_replies: Sequence[Any], offline: bool = False) -> tuple[Any, bool]:
    """``(llm, scripted)``: the configured LLM, or a ScriptedLLM replaying ``scripted_replies``."""
    if is_configured() and not offline:
        print("[LLM] using the configured model (real calls)")
        return LLM(), False
    print("[LLM] no model configured: using SCRIPTED replies written for this example")
    print("      (set OPTO_LLM_MODEL, e.g. gpt-4o-mini with OPENAI_API_KEY, for a real run)")
    return ScriptedLLM(scripted_replies), True


def reply(reasoning: str, suggestion: dict[str, Any]) -> str:
    """A reply in OptoPrime's JSON format."""
    return json.dumps({"reasoning": reasoning, "answer": "", "suggestion": suggestion})
