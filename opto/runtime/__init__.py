"""Running LLM-written code safely: execution policies and a subprocess sandbox.

``resolve_policy(explicit)`` picks the policy (explicit > ``use_policy`` block > global
default); ``policy.load(source, name, namespace)`` returns a callable. See docs/runtime.md.
"""

from opto.runtime.errors import (
    CPUTimeLimitExceeded,
    ForbiddenOperationError,
    FunctionNotFoundError,
    MemoryLimitExceeded,
    RemoteCodeError,
    RemoteTraceback,
    SandboxCrashError,
    SandboxError,
    SandboxUnavailableError,
    TimeLimitExceeded,
    TransferError,
    UnsafeCodeError,
    Violation,
)
from opto.runtime.policy import (
    ExecutionPolicy,
    InProcessPolicy,
    PolicyLike,
    feedback_text,
    get_default_policy,
    make_policy,
    resolve_policy,
    run_function,
    set_default_policy,
    use_policy,
)
from opto.runtime.sandbox import LAYERS, SubprocessPolicy
from opto.runtime.source import code_filename, signature_of
from opto.runtime.static_check import StaticChecker, StaticCheckPolicy

__all__ = [
    "LAYERS",
    "CPUTimeLimitExceeded",
    "ExecutionPolicy",
    "ForbiddenOperationError",
    "FunctionNotFoundError",
    "InProcessPolicy",
    "MemoryLimitExceeded",
    "PolicyLike",
    "RemoteCodeError",
    "RemoteTraceback",
    "SandboxCrashError",
    "SandboxError",
    "SandboxUnavailableError",
    "StaticCheckPolicy",
    "StaticChecker",
    "SubprocessPolicy",
    "TimeLimitExceeded",
    "TransferError",
    "UnsafeCodeError",
    "Violation",
    "code_filename",
    "feedback_text",
    "get_default_policy",
    "make_policy",
    "resolve_policy",
    "run_function",
    "set_default_policy",
    "signature_of",
    "use_policy",
]
