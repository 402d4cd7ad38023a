"""Counting prompt tokens, with a tokenizer chosen explicitly.

The count decides how far a prompt is shrunk (``prompt_token_budget``), so the same program
must count the same way every time. tiktoken cannot be the silent default: it loads its
encoding files from the network or from a folder that litellm registers only when litellm is
imported, so "use tiktoken when it works" made counts depend on import order and on the
network. The choices:

- ``"estimate"`` (the default): about four characters per token, rounded up. Deterministic,
  free, no dependency; it undercounts dense code by a little.
- ``"tiktoken"`` or ``"tiktoken:<encoding>"``: tiktoken's encoding (default ``cl100k_base``),
  loaded from tiktoken's own cache or from the files litellm ships, never from import
  order; ``TokenizerUnavailable`` if it cannot be loaded.
- any callable ``text -> int``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path

from opto.utils.errors import OptoError

Tokenizer = Callable[[str], int]
DEFAULT_ENCODING = "cl100k_base"

_LOADING = threading.Lock()


class TokenizerUnavailable(OptoError, RuntimeError):
    """The tokenizer asked for cannot be loaded (not installed, or its files are missing)."""


def estimate_tokens(text: str) -> int:
    """The tokens of ``text`` guessed as four characters each, rounded up (the default
    tokenizer: deterministic, and needs no download)."""
    return math.ceil(len(text) / 4)


def count_tokens(text: str, tokenizer: Tokenizer | None = None) -> int:
    """Tokens in ``text`` by ``tokenizer`` (default ``estimate_tokens``)."""
    return (tokenizer or estimate_tokens)(text)


def _litellm_tokenizer_files() -> str | None:
    """The folder of tiktoken files litellm ships, found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    return str(folder) if folder.is_dir() else None


def tiktoken_tokenizer(encoding: str = DEFAULT_ENCODING) -> Tokenizer:
    """A counter with tiktoken's ``encoding``; raises ``TokenizerUnavailable`` if it cannot load.

    When ``TIKTOKEN_CACHE_DIR`` is not set, litellm's bundled files are offered to tiktoken
    for this load only (the variable is restored), exactly the folder litellm itself would
    register, so the result does not depend on whether litellm was imported first.
    """
    try:
        import tiktoken
    except ImportError as error:
        raise TokenizerUnavailable("tiktoken is not installed (pip install tiktoken)") from error
    with _LOADING:
        offered = None
        if "TIKTOKEN_CACHE_DIR" not in os.environ:
            offered = _litellm_tokenizer_files()
        if offered is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = offered
        try:
            loaded = tiktoken.get_encoding(encoding)
        except Exception as error:
            raise TokenizerUnavailable(
                f"tiktoken could not load the {encoding!r} encoding ({type(error).__name__}); "
                "set TIKTOKEN_CACHE_DIR to a folder holding it, or use tokenizer='estimate'"
            ) from error
        finally:
            if offered is not None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
    return lambda text: len(loaded.encode(text, disallowed_special=()))


def resolve_tokenizer(choice: str | Tokenizer | None) -> Tokenizer:
    """The tokenizer named by ``choice`` (see the module docstring); None is ``"estimate"``.

    Raises ``ValueError`` for an unknown name and ``TokenizerUnavailable`` when tiktoken is
    asked for and cannot be loaded.
    """
    if choice is None or choice == "estimate":
        return estimate_tokens
    if callable(choice):
        return choice
    if isinstance(choice, str) and (choice == "tiktoken" or choice.startswith("tiktoken:")):
        return tiktoken_tokenizer(choice.partition(":")[2] or DEFAULT_ENCODING)
    raise ValueError(
        f"unknown tokenizer {choice!r}: use 'estimate', 'tiktoken', 'tiktoken:<encoding>' "
        "or a function text -> int"
    )
