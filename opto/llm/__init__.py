"""The one place opto talks to language models.

    from opto.llm import LLM
    llm = LLM("gpt-4o-mini")                       # or configure OPTO_LLM_MODEL and call LLM()
    reply = llm(messages=[{"role": "user", "content": "Hi"}], max_tokens=50)
    reply.choices[0].message.content, reply.usage.cost

Importing this package loads no provider SDK; litellm and openai load on the first call.
"""

from opto.llm.base import BaseLLM
from opto.llm.budget import Budget, budget
from opto.llm.cache import LLMCache, cache_scope, configure_cache, get_cache
from opto.llm.config import configured_model, is_configured
from opto.llm.custom import CallableLLM
from opto.llm.embedding import embed_text
from opto.llm.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BudgetError,
    BudgetExceeded,
    CacheEntryError,
    CacheError,
    CacheWarning,
    ContextWindowError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMNotConfiguredError,
    LLMTimeoutError,
    MalformedResponseError,
    NotFoundError,
    PriceUnknownError,
    RateLimitError,
    ReplayError,
    ReplayMissError,
    ScriptExhaustedError,
    ServerError,
    TokenCountWarning,
    TruncatedResponseError,
    TruncationWarning,
    UnknownProfileError,
)
from opto.llm.factory import LLM, LLMFactory
from opto.llm.history import CallHistory, CallRecord, global_history, inspect_history
from opto.llm.litellm_backend import LiteLLMBackend
from opto.llm.openai_backend import OpenAIBackend
from opto.llm.pricing import Price
from opto.llm.response import ChatResponse, Choice, Message, Usage
from opto.llm.retry import RetryPolicy
from opto.llm.testing import DummyLLM, ReplayLLM, ScriptedLLM
from opto.llm.usage import UsageLedger, UsageStats, get_usage, reset_usage, usage_scope

__all__ = [
    "LLM",
    "AuthenticationError",
    "BackendUnavailableError",
    "BaseLLM",
    "Budget",
    "BudgetError",
    "BudgetExceeded",
    "CacheEntryError",
    "CacheError",
    "CacheWarning",
    "CallHistory",
    "CallRecord",
    "CallableLLM",
    "ChatResponse",
    "Choice",
    "ContextWindowError",
    "DummyLLM",
    "InvalidRequestError",
    "LLMCache",
    "LLMConnectionError",
    "LLMError",
    "LLMFactory",
    "LLMNotConfiguredError",
    "LLMTimeoutError",
    "LiteLLMBackend",
    "MalformedResponseError",
    "Message",
    "NotFoundError",
    "OpenAIBackend",
    "Price",
    "PriceUnknownError",
    "RateLimitError",
    "ReplayError",
    "ReplayLLM",
    "ReplayMissError",
    "RetryPolicy",
    "ScriptExhaustedError",
    "ScriptedLLM",
    "ServerError",
    "TokenCountWarning",
    "TruncatedResponseError",
    "TruncationWarning",
    "UnknownProfileError",
    "Usage",
    "UsageLedger",
    "UsageStats",
    "budget",
    "cache_scope",
    "configure_cache",
    "configured_model",
    "embed_text",
    "get_cache",
    "get_usage",
    "global_history",
    "inspect_history",
    "is_configured",
    "reset_usage",
    "usage_scope",
]
