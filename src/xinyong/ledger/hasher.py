"""The forked hasher: a large write's leaf and chain hashes computed in a child process that
shares the parent's memory, while the parent inserts the facts."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from typing import Any

from xinyong.ledger.errors import LedgerError
from xinyong.ledger.payloads import Columns, payloads

FORK_AT = 50_000
"""From this many facts of a kind in one write, hashing runs in a forked child process."""


def _hash_facts(kind: str, cols: Columns, n: int,
                prev: bytes) -> tuple[list[bytes], list[str], list[str]]:
    """RFC 9162 leaf hashes of the facts' payloads, and the chain over them from ``prev``:
    (leaves, leaves in hex, chain hashes in hex)."""
    leaves, chained = [], []
    for p in payloads(kind, cols, n):
        leaf = sha256(b"\x00" + p).digest()
        prev = sha256(prev + leaf).digest()
        leaves.append(leaf)
        chained.append(prev)
    return leaves, [h.hex() for h in leaves], [h.hex() for h in chained]


def _die_with(parent: int) -> None:
    """Linux: the kernel kills this process when its parent dies (a killed ingest leaves no
    helper behind). Elsewhere the broken pipe ends it once it has a result to send."""
    import ctypes
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


class _Forked:
    """``fn(*args)`` computed in a forked child that shares the parent's memory as it was at
    the fork, so the arguments are never copied; only the result comes back, pickled, through
    a pipe. The child leaves by ``os._exit``: it never touches, flushes or closes anything it
    inherited (the database connection above all). Where there is no fork, or other threads
    run, it runs inline."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        import os

        self.value: Any = None
        self.pid = 0
        import threading

        # forking a process with other threads (a web server's) could copy a held lock
        if not hasattr(os, "fork") or threading.active_count() > 1:
            try:
                self.value = fn(*args)
            except Exception as e:  # as the child reports it
                raise LedgerError(f"hashing failed: {e!r}") from None
            return
        self.read, write = os.pipe()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            import pickle

            try:
                os.close(self.read)  # so a dead parent means a broken pipe, not a wait
                _die_with(parent)
                try:
                    out = pickle.dumps((True, fn(*args)), protocol=5)
                except BaseException as e:  # the parent raises it
                    out = pickle.dumps((False, LedgerError(f"hashing failed: {e!r}")))
                view = memoryview(len(out).to_bytes(8, "little") + out)
                while view:
                    view = view[os.write(write, view):]
            finally:
                os._exit(0)
        os.close(write)

    def result(self) -> Any:
        import os
        import pickle

        if not self.pid:
            return self.value
        chunks = []
        try:
            with os.fdopen(self.read, "rb") as pipe:
                size = int.from_bytes(pipe.read(8), "little")
                chunks.append(pipe.read(size))
        finally:
            os.waitpid(self.pid, 0)
        if not chunks or not chunks[0]:
            raise LedgerError("the hashing process ended without a result; nothing was written")
        ok, value = pickle.loads(chunks[0])
        if not ok:
            raise value
        return value
