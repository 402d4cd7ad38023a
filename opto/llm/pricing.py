"""Prices per token and cheap token estimates.

Prices come from litellm's model price map. When litellm is installed but not yet imported, its
bundled JSON file is read directly: importing litellm takes seconds, reading the file does not.
A client can always override the price (`prices=(input_per_token, output_per_token)`), which is
how local models are declared free.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

_PRICE_FILE = "model_prices_and_context_window_backup.json"


class Price(NamedTuple):
    """US dollars per token: `input` for each prompt token, `output` for each reply token."""

    input: float
    output: float


def as_price(value: Price | tuple[float, float] | None) -> Price | None:
    """The user's `prices=` `value`, an (input, output) pair of dollars per token, as a
    `Price`; None stays None (use litellm's map). A malformed or negative pair raises
    ValueError at construction instead of a wrong budget later."""
    if value is None:
        return None
    try:
        price = Price(float(value[0]), float(value[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(
            f"prices must be (input_per_token, output_per_token), got {value!r}"
        ) from None
    if price.input < 0 or price.output < 0:
        raise ValueError(f"prices must not be negative, got {value!r}")
    return price


@lru_cache(maxsize=1)
def _bundled_price_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _PRICE_FILE
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return {}


def _price_map() -> dict[str, Any]:
    litellm = sys.modules.get("litellm")
    model_cost = getattr(litellm, "model_cost", None) if litellm else None
    if isinstance(model_cost, dict) and model_cost:
        return model_cost
    return _bundled_price_map()


def price_for(model: str | None) -> Price | None:
    """The price of `model` from litellm's map, trying it without its provider prefix too."""
    if not model:
        return None
    table = _price_map()
    candidates = [model]
    if "/" in model:
        candidates.append(model.split("/", 1)[1])
    for name in candidates:
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return Price(
                float(entry.get("input_cost_per_token") or 0.0),
                float(entry.get("output_cost_per_token") or 0.0),
            )
    return None


def estimate_text_tokens(text: str) -> int:
    """The token count of `text` guessed as one token per four characters, rounded up (the
    usual rule of thumb for English) when no tokenizer is at hand."""
    return math.ceil(len(text) / 4)


def estimate_prompt_tokens(messages: Any) -> int:
    """Estimate the prompt tokens of chat messages (text parts only, plus a small overhead each)."""
    if not isinstance(messages, list):
        return estimate_text_tokens(str(messages)) if messages is not None else 0
    total = 0
    for message in messages:
        total += 4
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, str):
            total += estimate_text_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += estimate_text_tokens(part["text"])
    return total
