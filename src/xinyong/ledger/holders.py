"""Who holds a SQLite store. A process that serves a store holds a shared lock on a companion
file, ``PATH.lock``, for as long as it runs; deleting and recreating the store (the demo does
on every run) needs the exclusive lock. So a demo never deletes a store that another process
is still serving: the running server would go on answering from a deleted file.

The lock is the operating system's (``flock``), so it is released when its process ends, even
by a crash; the lock file itself is never deleted, which would break the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class StoreBusy(Exception):
    """Another process holds the store; the message says which store and what to do."""


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL, or None for another database or an in-memory one."""
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or not path or path.startswith((":memory:", "file:")):
        return None
    return Path(path)


class StoreHold:
    """A held lock on a store: shared (serving it) or exclusive (recreating it)."""

    def __init__(self, store: Path, *, exclusive: bool) -> None:
        self.store = store
        self.lock_file = store.with_name(store.name + ".lock")
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                        | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            doing = "serving or recreating it" if exclusive else "recreating it"
            raise StoreBusy(
                f"{store} is in use by another process ({doing}: a running `xinyong demo` or "
                "`xinyong serve`); stop that process first, or pass --database "
                "sqlite:///another.db") from None

    def share(self) -> None:
        """Go on holding the store, now only as one of those serving it."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreHold:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
