"""Memory plus disk cache of replies, keyed by the request.

The key is the SHA-256 of the request as canonical JSON (sorted keys, no spaces). Credentials,
base URLs and settings that do not change the reply (timeout, streaming, retries) are left out,
so a key never holds a secret and the same request to a moved server still hits. Values are
stored as JSON text (never pickle) in a `ReplyStore` (one SQLite file, safe to share between
processes, read as data only); a small LRU in memory sits in front of it.

Which cache a call uses: the innermost `cache_scope()` of its thread or task (a training run
opens one for its run directory), else the process-wide one (`configure_cache`). Whether a call
uses it: the per-call `cache=` argument, else the client's `cache=` setting, else the scope's
switch, else the process-wide switch (`configure_cache(enabled=...)` or `OPTO_LLM_CACHE`), else
only when the request sets `temperature=0` explicitly (embeddings, whose reply never varies,
are cached by that rule too).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from opto.llm.errors import CacheEntryError, CacheWarning
from opto.llm.reply_store import DEFAULT_MAX_BYTES, ReplyStore
from opto.llm.single_flight import SingleFlight
from opto.utils.user_warnings import warn_user

EXCLUDED_KEYS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "organization",
        "azure_ad_token",
        "azure_ad_token_provider",
        "headers",
        "extra_headers",
        "timeout",
        "request_timeout",
        "stream",
        "stream_options",
        "num_retries",
        "max_retries",
    }
)
_KEY_VERSION = "opto-llm-cache-v1"
_UNSET: Any = object()


def _jsonable(value: Any) -> Any:
    """Make pydantic models, classes used as response formats and sets hashable as JSON."""
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return value.model_dump(mode="json")
    if isinstance(value, type) and hasattr(value, "model_json_schema"):
        return {"json_schema_of": value.__qualname__, "schema": value.model_json_schema()}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(request: dict[str, Any]) -> str:
    """The request as canonical JSON, without credentials; TypeError if not serializable."""
    kept = {key: value for key, value in request.items() if key not in EXCLUDED_KEYS}
    return json.dumps(
        kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    )


def request_key(request: dict[str, Any]) -> str | None:
    """SHA-256 hex of the canonical request, or None when it cannot be made JSON."""
    try:
        text = canonical_json(request)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(f"{_KEY_VERSION}\n{text}".encode()).hexdigest()


class LLMCache:
    """Replies by key: an in-memory LRU in front of an optional disk folder.

    `directory`: where the `ReplyStore` file lives (None keeps replies in memory only);
    `memory_items`: replies kept in memory (0 for none); `max_bytes`: size of the values on
    disk past which the oldest are removed. A damaged entry is dropped with a `CacheWarning`
    (the call then goes to the model); a file that is not an opto cache raises `CacheError`.
    `flights` makes identical concurrent calls through this cache pay once.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        memory_items: int = 1024,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = memory_items
        self.max_bytes = max_bytes
        self.flights = SingleFlight()
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._disk: ReplyStore | None = None

    def _disk_store(self) -> ReplyStore | None:
        if self.directory is None:
            return None
        with self._lock:
            if self._disk is None:
                self._disk = ReplyStore(self.directory, max_bytes=self.max_bytes)
            return self._disk

    def _remember(self, key: str, text: str) -> None:
        if self.memory_items <= 0:
            return
        with self._lock:
            self._memory[key] = text
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def get(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored under `key`, or None (absent, or damaged and now dropped)."""
        with self._lock:
            text = self._memory.get(key)
            if text is not None:
                self._memory.move_to_end(key)
        if text is None:
            disk = self._disk_store()
            if disk is None:
                return None
            try:
                text = disk.get(key)
            except CacheEntryError as error:
                self.discard(key, error.message)
                return None
            if text is None:
                return None
            self._remember(key, text)
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as error:
            self.discard(key, f"it is not JSON ({type(error).__name__})")
            return None
        if not isinstance(value, dict):
            self.discard(key, f"it is a JSON {type(value).__name__}, not an object")
            return None
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store the JSON object `value` under `key`, in memory and, if it has one, on disk."""
        text = json.dumps(value, ensure_ascii=False)
        self._remember(key, text)
        disk = self._disk_store()
        if disk is not None:
            disk.set(key, text)

    def discard(self, key: str, reason: str) -> None:
        """Drop the damaged entry `key` (memory and disk) and say so with a `CacheWarning`
        that gives `reason`; the next call asks the model again."""
        with self._lock:
            self._memory.pop(key, None)
        disk = self._disk_store()
        if disk is not None:
            disk.delete(key)
        where = disk.path if disk is not None else "the memory cache"
        warn_user(
            f"dropped the damaged cache entry {key[:12]} in {where}: {reason}; the model is asked",
            CacheWarning,
        )

    def __len__(self) -> int:
        disk = self._disk_store()
        return len(disk) if disk is not None else len(self._memory)

    def clear(self) -> None:
        """Remove every entry, in memory and on disk."""
        with self._lock:
            self._memory.clear()
        disk = self._disk_store()
        if disk is not None:
            disk.clear()

    def close(self) -> None:
        """Release the disk store (its file handle); a later use opens it again."""
        with self._lock:
            if self._disk is not None:
                self._disk.close()
                self._disk = None


def default_cache_dir() -> Path:
    """`OPTO_CACHE_DIR`, else the user's cache folder (XDG_CACHE_HOME, LOCALAPPDATA, ~/.cache)."""
    explicit = os.environ.get("OPTO_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "opto" / "llm"


def _env_switch() -> bool | None:
    value = os.environ.get("OPTO_LLM_CACHE", "").strip().lower()
    if value in {"1", "true", "on", "yes"}:
        return True
    if value in {"0", "false", "off", "no"}:
        return False
    return None


_state: dict[str, Any] = {"cache": None, "enabled": None}
_state_lock = threading.Lock()


def configure_cache(
    *,
    enabled: bool | None = _UNSET,
    directory: str | Path | None = _UNSET,
    disk: bool = True,
    memory_items: int = 1024,
) -> LLMCache:
    """Set the process-wide cache switch and/or replace the process-wide cache store.

    Calls inside a `cache_scope()` use that scope's cache and switch instead.

    `enabled`: True caches every call, False none, None follows `OPTO_LLM_CACHE` and then the
    rule (temperature 0).
    `directory` (or `disk=False` for memory only) replaces the store; keys already on disk in
    that directory are reused. `memory_items` is how many recent replies the new store keeps
    in memory in front of the disk (0: none).
    """
    with _state_lock:
        if enabled is not _UNSET:
            _state["enabled"] = enabled
        if directory is not _UNSET or not disk or _state["cache"] is None:
            old = _state["cache"]
            if old is not None:
                old.close()
            folder = (
                None
                if not disk
                else (default_cache_dir() if directory in (_UNSET, None) else directory)
            )
            _state["cache"] = LLMCache(folder, memory_items=memory_items)
        return _state["cache"]


class _Scope(NamedTuple):
    cache: LLMCache
    enabled: bool | None


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "opto_cache_scope", default=None
)


@contextmanager
def cache_scope(
    cache: LLMCache | str | os.PathLike | None = None, *, enabled: bool | None = True
) -> Iterator[LLMCache]:
    """Give the calls made in this thread or task a cache of their own while the block runs.

    `cache`: an `LLMCache` to use (left open afterwards), a folder (its cache is closed when
    the block ends) or None for one in memory. `enabled`: True caches every call whose call or
    client does not say otherwise, None keeps the usual rule (global switch, then temperature
    0), False caches none. The process-wide cache and switch are neither used nor changed, so
    two runs in one process keep their replies apart. Scopes nest; the innermost one counts.

    asyncio tasks and `asyncio.to_thread` inherit the scope; a thread you start yourself does
    only if it runs in a copy of this context (`contextvars.copy_context().run`), as opto's own
    thread pools do.
    """
    owned = not isinstance(cache, LLMCache)
    store = LLMCache(cache) if owned else cache
    token = _SCOPE.set(_Scope(store, enabled))
    try:
        yield store
    finally:
        _SCOPE.reset(token)
        if owned:
            store.close()


def get_cache() -> LLMCache:
    """The cache of the innermost `cache_scope`, else the process-wide one (created on first
    use; no folder is made before that)."""
    scope = _SCOPE.get()
    if scope is not None:
        return scope.cache
    with _state_lock:
        cache = _state["cache"]
    return cache if cache is not None else configure_cache()


def cache_enabled_globally() -> bool | None:
    """The process-wide switch: `configure_cache(enabled=...)`, else `OPTO_LLM_CACHE`."""
    enabled = _state["enabled"]
    return _env_switch() if enabled is None else enabled


def should_cache(
    per_call: bool | None,
    client: bool | None,
    request: dict[str, Any],
    *,
    always_same: bool = False,
) -> bool:
    """First answer wins: the call, the client, the `cache_scope`, the process-wide switch,
    then the rule: requests whose reply is always the same (`always_same`, e.g. embeddings)
    and requests with an explicit temperature of 0.

    `per_call` is the call's `cache=` argument and `client` the client's (None: no opinion);
    `request` is the request about to be sent, read for its temperature.
    """
    scope = _SCOPE.get()
    scoped = scope.enabled if scope is not None else None
    for choice in (per_call, client, scoped, cache_enabled_globally()):
        if choice is not None:
            return bool(choice)
    return always_same or ("temperature" in request and request["temperature"] == 0)
