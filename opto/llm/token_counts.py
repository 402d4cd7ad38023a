"""The token counts a call is charged for: the provider's, unless they cannot be right.

Budgets and ledgers trust what a server reports, so a buggy or hostile server could credit a
budget (negative counts) or blow it (a count of 10**18). A count is accepted when it lies
between 0 and what the request could possibly have used:

- prompt tokens: no tokenizer makes more tokens than the UTF-8 bytes of the text it reads, so
  the bound is the size of the request as JSON plus a few tokens per message for the chat
  template, plus `MEDIA_PART_TOKENS` per image, audio or file part (those are not text);
- completion tokens: `max_tokens` (or `max_completion_tokens`) x n when the request sets it,
  else `UNBOUNDED_REPLY_TOKENS` x n.

A negative count is replaced by the estimate (four characters per token) and marks the usage
as estimated; a count above the bound is cut to the bound. Either way a `TokenCountWarning`
says what the server reported.
"""

from __future__ import annotations

import json
from typing import Any

from opto.llm.pricing import estimate_text_tokens
from opto.llm.response import ChatResponse

TEMPLATE_TOKENS_PER_MESSAGE = 16
TEMPLATE_TOKENS_PER_REQUEST = 1024
MEDIA_PART_TOKENS = 2**21  # more than the largest context window of a single medium today
UNBOUNDED_REPLY_TOKENS = 2**20  # above any model's output limit today


def prompt_token_bound(request: dict[str, Any]) -> int:
    """The most prompt tokens `request` can cost (see the module docstring)."""
    text = json.dumps(request, ensure_ascii=False, default=str)
    messages = request.get("messages")
    messages = messages if isinstance(messages, list) else []
    media_parts = sum(
        1
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
        if not (isinstance(part, dict) and isinstance(part.get("text"), str))
    )
    return (
        len(text.encode("utf-8", "surrogatepass"))
        + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)
        + TEMPLATE_TOKENS_PER_REQUEST
        + MEDIA_PART_TOKENS * media_parts
    )


def completion_token_bound(request: dict[str, Any]) -> int:
    """The most completion tokens `request` can cost: its token limit x n."""
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    choices = request.get("n") or 1
    per_choice = limit if isinstance(limit, int) and limit > 0 else UNBOUNDED_REPLY_TOKENS
    return per_choice * (choices if isinstance(choices, int) and choices > 0 else 1)


def settle_token_counts(
    response: ChatResponse, request: dict[str, Any], estimated_prompt_tokens: int
) -> str | None:
    """Set `response.usage` prompt, completion and total tokens to what the call is charged.

    `request` bounds what the reply can have used (its token limit and `n`);
    `estimated_prompt_tokens` is opto's own measure of the prompt, used when the server's is
    missing or impossible.

    Counts the server did not report (both 0) or reported negative are estimated (an
    estimated reply is never counted above the request's token limit); reported counts over
    the bound of the request are cut to it. Returns a sentence saying what was corrected, for
    a `TokenCountWarning`, or None when the server's counts were used as they are.
    """
    usage = response.usage
    reported = (usage.prompt_tokens, usage.completion_tokens)
    estimated_completion = sum(
        estimate_text_tokens(choice.message.content or "") for choice in response.choices
    )
    if not (usage.prompt_tokens or usage.completion_tokens):
        usage.prompt_tokens = estimated_prompt_tokens
        usage.completion_tokens = min(estimated_completion, completion_token_bound(request))
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        usage.estimated = True
        return None
    corrections = []
    if usage.prompt_tokens < 0 or usage.completion_tokens < 0:
        corrections.append("a negative count was replaced by the estimate")
        usage.estimated = True
        if usage.prompt_tokens < 0:
            usage.prompt_tokens = estimated_prompt_tokens
        if usage.completion_tokens < 0:
            usage.completion_tokens = estimated_completion
    if usage.completion_tokens > completion_token_bound(request):
        usage.completion_tokens = completion_token_bound(request)
        corrections.append(f"completion tokens were cut to the request's {usage.completion_tokens}")
    if usage.prompt_tokens > estimated_prompt_tokens:  # the bound costs a JSON dump: only then
        bound = prompt_token_bound(request)
        if usage.prompt_tokens > bound:
            usage.prompt_tokens = bound
            corrections.append(f"prompt tokens were cut to the request's bound of {bound}")
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    if not corrections:
        return None
    return (
        f"the server reported impossible token counts (prompt {reported[0]}, completion "
        f"{reported[1]}): {'; '.join(corrections)}; the call is charged "
        f"{usage.prompt_tokens} + {usage.completion_tokens} tokens"
    )
