"""Running LLM-written code safely: execution policies and a subprocess sandbox.

``resolve_policy(explicit)`` picks the policy (explicit > ``use_policy`` block > global
default); ``policy.load(source, name, namespace)`` returns a callable. See docs/runtime.md.
"""

from opto.runtime.choice import (
    PolicyLike,
    get_default_policy,
    make_policy,
    resolve_policy,
    run_function,
    set_default_policy,
    use_policy,
)
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
from opto.runtime.policy import ExecutionPolicy, InProcessPolicy, feedback_text
from opto.runtime.sizes import parse_size
from opto.utils.source_analysis import code_filename, signature_of

# The sandbox and the static checker load on first use: importing opto.runtime (as every
# bundle does) stays cheap for programs that never leave the default policy.
_LAZY = {
    "LAYERS": "opto.runtime.sandbox",
    "SubprocessPolicy": "opto.runtime.sandbox",
    "StaticChecker": "opto.runtime.static_check",
    "StaticCheckPolicy": "opto.runtime.static_check",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'opto.runtime' has no attribute {name!r}")


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
    "parse_size",
    "resolve_policy",
    "run_function",
    "set_default_policy",
    "signature_of",
    "use_policy",
]
