"""Replies on disk: one SQLite table of JSON text, read as data and nothing else.

A cache folder may come from anywhere (a run directory someone sent, a shared drive), so the
file is treated as hostile input. opto does not use `diskcache` for it: diskcache unpickles any
row the file marks as pickled, runs `PRAGMA` statements formatted from the file's own Settings
table and builds its storage object from them, and reads and deletes side files at paths the
rows name; all of that happens before any hook of a user of the library could refuse it.

The format here is one table and nothing else:

    replies(key TEXT PRIMARY KEY, value TEXT, size INTEGER, stored REAL)

On opening, the schema must be exactly that table and its key index; a file holding anything
else (a trigger, a view, another table, other columns) is refused with `CacheError`, and so
is a symbolic link in place of the file or of the journal files SQLite writes beside it. A row is
only ever read as a text value of bounded size; nothing read is unpickled or executed. The
file is created with mode 0600 in a folder created 0700 (SQLite gives its write-ahead log the
mode of the database). When the values pass `max_bytes`, the oldest are removed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from opto.llm.errors import CacheEntryError, CacheError

STORE_FILE = "replies.sqlite3"
TABLE_SQL = (
    "CREATE TABLE replies (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, "
    "size INTEGER NOT NULL, stored REAL NOT NULL)"
)
_EXPECTED_SCHEMA = {
    ("table", "replies", "replies", TABLE_SQL),
    ("index", "sqlite_autoindex_replies_1", "replies", None),
}
DEFAULT_MAX_BYTES = 2**30
MAX_ENTRY_CHARS = 16 * 2**20  # a reply is kilobytes; a bigger value is damage, not a reply
_EVICTION_CHECK_EVERY = 64
_SIDE_FILES = ("-wal", "-shm", "-journal")


class ReplyStore:
    """Text values by key in `directory / STORE_FILE`; safe to share between processes.

    `max_bytes` bounds the stored text: past it the oldest entries are evicted, so a long-lived
    cache does not fill the disk.
    """

    def __init__(self, directory: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STORE_FILE
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._owner_pid = 0
        self._writes = 0

    # ----- connection

    def _connect(self) -> sqlite3.Connection:
        """The open connection of this process (a forked child opens its own)."""
        if self._connection is not None and self._owner_pid == os.getpid():
            return self._connection
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, flags, 0o600))
        except OSError as error:
            raise CacheError(f"cannot open the reply cache {self.path}: {error}") from error
        for suffix in _SIDE_FILES:  # SQLite would write through a planted link
            side = self.path.with_name(self.path.name + suffix)
            if side.is_symlink():
                raise CacheError(
                    f"cannot open the reply cache {self.path}: {side.name} is a symbolic link; "
                    "delete it"
                )
        try:
            connection = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise CacheError(f"cannot open the reply cache {self.path}: {error}") from error
        try:
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA cell_size_check = ON")
            self._prepare_schema(connection)
            connection.execute("PRAGMA journal_mode = WAL")  # one fsync per checkpoint, not write
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as error:
            connection.close()
            raise CacheError(f"cannot use the reply cache {self.path}: {error}") from error
        except BaseException:
            connection.close()
            raise
        self._connection, self._owner_pid = connection, os.getpid()
        return connection

    def _prepare_schema(self, connection: sqlite3.Connection) -> None:
        """Create the table in an empty file; refuse a file that holds anything else."""
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                schema = set(
                    connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
                )
                if not schema:
                    connection.execute(TABLE_SQL)
                    schema = _EXPECTED_SCHEMA
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise CacheError(
                f"{self.path} is not a usable opto reply cache ({error}); delete it to start an "
                "empty cache (the calls it held will be asked again)"
            ) from error
        if schema != _EXPECTED_SCHEMA:
            ours = {name for _, name, _, _ in _EXPECTED_SCHEMA}
            unexpected = sorted(
                f"{kind} {name!r}" + (" defined differently" if name in ours else "")
                for kind, name, _, _ in schema - _EXPECTED_SCHEMA
            )
            raise CacheError(
                f"{self.path} is not an opto reply cache: it holds {', '.join(unexpected)}; it "
                "was not used. Delete it to start an empty cache (the calls it held will be "
                "asked again)"
            )

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            connection = self._connect()
            try:
                return connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise CacheError(
                    f"the reply cache {self.path} failed ({error}); if it is damaged, delete it "
                    "(the calls it held will be asked again)"
                ) from error

    # ----- values

    def get(self, key: str) -> str | None:
        """The stored text, or None when the key is absent.

        Raises `CacheEntryError` when the row holds something else than text of at most
        `MAX_ENTRY_CHARS` characters (the value itself is not read then).
        """
        rows = self._execute(
            "SELECT CASE WHEN typeof(value) = 'text' AND length(value) <= ? THEN value END, "
            "typeof(value) FROM replies WHERE key = ?",
            (MAX_ENTRY_CHARS, key),
        )
        if not rows:
            return None
        value, kind = rows[0]
        if value is None:
            found = f"text over {MAX_ENTRY_CHARS} characters" if kind == "text" else kind
            raise CacheEntryError(f"the stored value is {found}, not a reply", key=key)
        return value

    def set(self, key: str, text: str) -> None:
        """Store `text` under `key` (replacing any older value), evicting now and then."""
        size = len(text.encode("utf-8", "surrogatepass"))
        self._execute(
            "INSERT OR REPLACE INTO replies (key, value, size, stored) VALUES (?, ?, ?, ?)",
            (key, text, size, time.time()),
        )
        with self._lock:
            self._writes += 1
            due = self._writes % _EVICTION_CHECK_EVERY == 0
        if due:
            self.evict()

    def delete(self, key: str) -> None:
        """Remove the entry `key`, if present."""
        self._execute("DELETE FROM replies WHERE key = ?", (key,))

    def evict(self) -> None:
        """When the values pass `max_bytes`, remove the oldest until the rest fit in 90% of it."""
        ((total,),) = self._execute("SELECT COALESCE(SUM(MAX(size, 0)), 0) FROM replies")
        if total <= self.max_bytes:
            return
        target = self.max_bytes * 0.9
        while True:
            oldest = self._execute(
                "SELECT key, MAX(size, 0) FROM replies ORDER BY stored LIMIT 256"
            )
            if not oldest:
                return
            for key, size in oldest:
                self.delete(key)
                total -= size
                if total <= target:
                    return

    def __len__(self) -> int:
        ((count,),) = self._execute("SELECT COUNT(*) FROM replies")
        return int(count)

    def clear(self) -> None:
        """Remove every entry (the file stays, empty)."""
        self._execute("DELETE FROM replies")

    def close(self) -> None:
        """Close this process's database connection; the next use opens a new one."""
        with self._lock:
            if self._connection is not None and self._owner_pid == os.getpid():
                self._connection.close()
            self._connection = None
