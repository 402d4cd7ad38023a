"""Memory plus disk cache of replies, keyed by the request.

The key is the SHA-256 of the request as canonical JSON (sorted keys, no spaces). Credentials,
base URLs and settings that do not change the reply (timeout, streaming, retries) are left out,
so a key never holds a secret and the same request to a moved server still hits. Values are
stored as JSON text (never pickle) in a `diskcache` directory, which is safe to share between
processes; a small LRU in memory sits in front of it.

Whether a call uses the cache: the per-call `cache=` argument, else the client's `cache=`
setting, else the global switch (`configure_cache(enabled=...)` or `OPTO_LLM_CACHE`), else
only when the request sets `temperature=0` explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

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
    """Replies by key: an in-memory LRU in front of an optional disk directory."""

    def __init__(self, directory: str | Path | None = None, memory_items: int = 1024) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = memory_items
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._disk: Any = None

    def _disk_store(self) -> Any:
        if self.directory is None:
            return None
        with self._lock:
            if self._disk is None:
                import diskcache

                self._disk = diskcache.Cache(str(self.directory))
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
        with self._lock:
            text = self._memory.get(key)
            if text is not None:
                self._memory.move_to_end(key)
        if text is None:
            disk = self._disk_store()
            text = disk.get(key) if disk is not None else None
            if not isinstance(text, str):
                return None
            self._remember(key, text)
        try:
            return json.loads(text)
        except ValueError:
            return None

    def set(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False)
        self._remember(key, text)
        disk = self._disk_store()
        if disk is not None:
            disk.set(key, text)

    def __len__(self) -> int:
        disk = self._disk_store()
        return len(disk) if disk is not None else len(self._memory)

    def clear(self) -> None:
        with self._lock:
            self._memory.clear()
        disk = self._disk_store()
        if disk is not None:
            disk.clear()

    def close(self) -> None:
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
    """Set the global cache switch and/or replace the cache store.

    `enabled`: True caches every call, False none, None follows `OPTO_LLM_CACHE` and then the
    rule (temperature 0).
    `directory` (or `disk=False` for memory only) replaces the store; keys already on disk in
    that directory are reused.
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


def get_cache() -> LLMCache:
    """The process-wide cache store, created on first use (no folder is made before that)."""
    with _state_lock:
        cache = _state["cache"]
    return cache if cache is not None else configure_cache()


def cache_enabled_globally() -> bool | None:
    enabled = _state["enabled"]
    return _env_switch() if enabled is None else enabled


def should_cache(per_call: bool | None, client: bool | None, request: dict[str, Any]) -> bool:
    for choice in (per_call, client, cache_enabled_globally()):
        if choice is not None:
            return bool(choice)
    return "temperature" in request and request["temperature"] == 0
