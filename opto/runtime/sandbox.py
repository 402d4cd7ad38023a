"""The subprocess sandbox: every call of generated code runs in a fresh, confined process.

Per call, a child process runs ``python -I -u`` with ``_child`` in a new session with a fresh
temporary working directory, a minimal environment (no API keys) and pipes (``_process``);
it is started for the call, or forked ahead of it from a fork server and already confined (a
warm worker: ``_pool``, ``_forkserver``, ``_zygote``), and never serves a second call. The parent sends the code,
the names it uses (``_names``: no objects that may carry credentials) and the arguments by
pickle, and waits at most ``wall_time`` before killing the whole process group. The child
confines itself before it unpickles or runs anything (see ``_confine``, ``_seccomp`` and
``_guard``) and refuses to run when a required layer is not on. Its answer is in a bounded
format (``_wire_format``) that the parent decodes within limits (``_wire``, ``_outcome``),
because a hostile child can forge it. Docs: docs/runtime.md.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opto.runtime import _wire
from opto.runtime._names import pack_names
from opto.runtime._outcome import LAYERS, outcome
from opto.runtime._pool import CallRunner
from opto.runtime.errors import FunctionNotFoundError, SandboxError, TransferError
from opto.runtime.policy import ExecutionPolicy
from opto.runtime.sizes import parse_size
from opto.utils.source_analysis import (
    code_filename,
    find_function,
    parse,
    referenced_names,
    signature_of,
    top_level_names,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity, like other policies
class SubprocessPolicy(ExecutionPolicy):
    """Run each call in a fresh child process with resource limits and no network.

    ``wall_time`` (seconds, enforced by this process, includes interpreter start-up),
    ``cpu_time`` (seconds of CPU, enforced by the kernel), ``memory`` (address space),
    ``file_size`` (largest file the code may write), ``work_dir_size`` (total size of the
    working directory, where Linux namespaces allow a tmpfs) accept None for "no limit"; sizes are
    bytes or strings like ``"256MB"``. ``max_processes`` bounds the tasks (threads) of the
    child, also when this process runs as root; ``open_files`` bounds its open file
    descriptors. ``max_result_size`` (bytes or a size string) bounds the encoded return value
    the child sends back, and ``max_output_chars`` how much of the tail of what the code
    printed is kept for the error message. ``require`` names layers (see ``LAYERS``) that
    must be fully on, else the call raises ``SandboxUnavailableError`` naming what is missing
    before any code runs; by default (None) every layer not in ``disable_layers`` is required,
    so the sandbox fails closed: pass fewer layers to accept less protection knowingly.
    ``disable_layers`` switches layers off (diagnosis only: it weakens containment).
    ``result_types`` adds ``"module.Class"`` names the child may return besides plain data;
    ``"numpy.ndarray"`` admits numpy arrays. ``echo_output`` replays what the code printed
    on this process's stdout, as in-process code would print. ``env`` adds environment
    variables (none of this process's are passed). ``python`` is the interpreter to run
    (default: this one); it receives this process's ``sys.path``, so use the same version.

    ``warm_workers`` children are kept ready ahead of calls (0, the default: each call starts
    its own interpreter): forked from a fork server that has imported the trusted modules named
    in ``preload`` once, each has confined itself and serves one call, so results and
    confinement are those of a cold child while the call skips the start-up (``close()`` or a
    ``with`` block ends them). ``max_parallel`` bounds the calls of this policy that run at once (None, the
    default: no bound); the others wait for a turn, and the wait does not count as wall time.
    """

    wall_time: float = 10.0
    cpu_time: float | None = 10.0
    memory: int | str | None = "1GiB"
    file_size: int | str | None = "64MiB"
    work_dir_size: int | str | None = "64MiB"
    max_processes: int = 32
    open_files: int = 256
    max_result_size: int | str = "64MiB"
    max_output_chars: int = 20_000
    result_types: tuple[str, ...] = ()
    require: tuple[str, ...] | None = None
    disable_layers: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    python: str | None = None
    echo_output: bool = True
    warm_workers: int = 0
    preload: tuple[str, ...] = ()
    max_parallel: int | None = None

    def __post_init__(self) -> None:
        if not self.wall_time or self.wall_time <= 0:
            raise ValueError(
                f"wall_time must be a positive number of seconds, got {self.wall_time!r}"
            )
        if type(self.warm_workers) is not int or self.warm_workers < 0:
            raise ValueError(f"warm_workers must be an int >= 0, got {self.warm_workers!r}")
        if self.max_parallel is not None and (
            type(self.max_parallel) is not int or self.max_parallel < 1
        ):
            raise ValueError(f"max_parallel must be an int >= 1 or None, got {self.max_parallel!r}")
        if isinstance(self.preload, str) or not all(isinstance(n, str) for n in self.preload):
            raise ValueError(f"preload must be a sequence of module names, got {self.preload!r}")
        object.__setattr__(self, "preload", tuple(self.preload))
        if self.cpu_time is not None and self.cpu_time <= 0:
            raise ValueError(f"cpu_time must be positive or None, got {self.cpu_time!r}")
        for name in ("memory", "file_size", "work_dir_size", "max_result_size"):
            object.__setattr__(self, name, parse_size(getattr(self, name)))
        if self.require is None:
            wanted = tuple(name for name in LAYERS if name not in self.disable_layers)
            object.__setattr__(self, "require", wanted)
        for name in ("result_types", "require", "disable_layers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = sorted((set(self.require) | set(self.disable_layers)) - set(LAYERS))
        if unknown:
            raise ValueError(f"Unknown sandbox layer(s) {unknown}; the layers are {list(LAYERS)}.")
        object.__setattr__(self, "_allowed_results", _wire.allowed_globals(self.result_types))
        object.__setattr__(self, "_runner", CallRunner(self.max_parallel))

    def load(
        self,
        source: str,
        function_name: str,
        namespace: Mapping[str, Any] | None = None,
        *,
        filename: str | None = None,
    ) -> Callable[..., Any]:
        """Check that ``source`` parses and defines ``function_name``; nothing runs until a
        call, and each call runs the code in a new child process.

        ``namespace`` supplies the globals the code uses; only the names the code references
        are sent to the child, and they must be plain data or importable objects.
        ``filename`` is the pseudo file name tracebacks show (default: one made from the
        code and the function name).
        """
        filename = filename or code_filename(source, function_name)
        tree = parse(source, filename)
        definition = find_function(tree, function_name)
        bound = top_level_names(tree)
        if definition is None and function_name not in bound:
            defined = [
                s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            raise FunctionNotFoundError(function_name, defined)
        scope = dict(namespace or {})
        wanted = referenced_names(tree) - set(bound)
        call = _SandboxCall(self, source, function_name, filename, scope, wanted)
        return _wrap(call, source, function_name, definition)

    def probe(self) -> dict[str, str]:
        """Run a trivial call and return the state of each confinement layer: "on",
        "partial: ..." or why it is off (it runs even when a required layer is missing)."""
        lenient = dataclasses.replace(self, require=(), warm_workers=0)
        code = "def probe():\n    return None\n"
        return _SandboxCall(lenient, code, "probe", "<probe>", {}, set()).execute((), {})[1]

    def warm_up(self, timeout: float = 30.0) -> bool:
        """Start the ``warm_workers`` children now and wait until they are started (True), or
        ``timeout`` seconds (False); calls work either way. Without warm workers: True."""
        if not self.warm_workers:
            return True
        return self._runner.pool(self).wait_full(timeout)  # type: ignore[attr-defined]

    def close(self) -> None:
        """End the warm children waiting for calls and remove their directories (they also end
        when the policy is garbage collected, or at interpreter exit). A later call starts
        them again."""
        self._runner.close()  # type: ignore[attr-defined]

    def __enter__(self) -> SubprocessPolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __copy__(self) -> SubprocessPolicy:
        return self  # immutable; copies share the warm children and the bound on parallel calls

    def __deepcopy__(self, memo: dict) -> SubprocessPolicy:
        return self

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["env"] = dict(values["env"])
        return (_rebuilt_policy, (values,))

    def __repr__(self) -> str:
        return (
            f"SubprocessPolicy(wall_time={self.wall_time!r}, cpu_time={self.cpu_time!r}, "
            f"memory={self.memory!r})"
        )


def _rebuilt_policy(values: dict[str, Any]) -> SubprocessPolicy:
    """A policy unpickled from its settings (warm children are not part of its state)."""
    return SubprocessPolicy(**values)


def _wrap(call: _SandboxCall, source: str, name: str, definition) -> Callable[..., Any]:
    """A real function object (so ``inspect`` sees a signature and async-ness) calling ``call``."""
    if definition is not None and isinstance(definition, ast.AsyncFunctionDef):

        async def sandboxed_async(*args: Any, **kwargs: Any) -> Any:
            import asyncio  # only coroutines need it; importing it costs ~20 ms

            return await asyncio.to_thread(call, args, kwargs)

        wrapper: Callable[..., Any] = sandboxed_async
    else:

        def sandboxed(*args: Any, **kwargs: Any) -> Any:
            return call(args, kwargs)

        wrapper = sandboxed
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = ast.get_docstring(definition) if definition is not None else None
    if definition is not None:
        wrapper.__signature__ = signature_of(source, definition)  # type: ignore[attr-defined]
    wrapper.source = source  # type: ignore[attr-defined]
    wrapper.policy = call.policy  # type: ignore[attr-defined]
    return wrapper


class _SandboxCall:
    """One loaded code string: the prepared request, re-sent on every call."""

    def __init__(
        self,
        policy: SubprocessPolicy,
        source: str,
        function_name: str,
        filename: str,
        namespace: dict[str, Any],
        wanted: set[str],
    ) -> None:
        self.policy = policy
        self.filename = filename
        modules, values, untransferable = pack_names(namespace, wanted)
        module_name = namespace.get("__name__")
        self.request = {
            "source": source,
            "function_name": function_name,
            "filename": filename,
            "module_name": module_name if isinstance(module_name, str) else "__generated__",
            "modules": modules,
            "values": values,
            "untransferable": untransferable,
        }

    def __call__(self, args: tuple, kwargs: dict) -> Any:
        return self.execute(args, kwargs)[0]

    def execute(self, args: tuple, kwargs: dict) -> tuple[Any, dict[str, str]]:
        try:
            arguments = pickle.dumps((args, kwargs), protocol=5)
        except Exception as error:
            raise TransferError(
                f"The arguments could not be sent to the sandbox ({type(error).__name__}: "
                f"{error}). Pass plain data: numbers, strings, lists, dicts, picklable objects."
            ) from error
        request = pickle.dumps({**self.request, "arguments": arguments}, protocol=5)
        try:
            # The runner is the policy's own part, defined in this module.
            runner = self.policy._runner  # type: ignore[attr-defined]  # noqa: SLF001
            run = runner.run(self.policy, request)
            if self.policy.echo_output and run.output and sys.stdout is not None:
                sys.stdout.write(run.output)
            return outcome(self.policy, run)
        except SandboxError as error:
            name = self.request["function_name"]
            logger.info("sandboxed call of %s failed: %s: %s", name, type(error).__name__, error)
            raise
