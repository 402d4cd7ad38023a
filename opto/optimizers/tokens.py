"""Counting prompt tokens: an offline tokenizer when installed, an estimate otherwise."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Callable[[str], int] | None:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base")
    except Exception:
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def count_tokens(text: str) -> int:
    """Tokens in ``text`` (tiktoken's cl100k when available, else about 4 characters each)."""
    tokenizer = _tokenizer()
    if tokenizer is not None:
        return tokenizer(text)
    return math.ceil(len(text) / 4)
