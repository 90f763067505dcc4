"""The generation-keyed cache of standings: standings by (subject id, date) for one state of
a source's data and one policy, kept while neither changes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Any

from xinyong.model import Standing
from xinyong.policy.model import Policy


class Entry:
    """A subject's standing on a date, and the views of it each agency gets."""

    __slots__ = ("signed", "standing")

    def __init__(self, standing: Standing):
        self.standing = standing
        self.signed: dict[str | None, Standing] = {}


class Cache:
    """A service's standings by (subject id, date), and its subjects by the keys asked with,
    for one state of the ledger's data and one policy. Each call reads ``Ledger.generation``
    once and calls ``use``: a newer state (or another policy) empties the cache; a call that
    read an older state than the cache's (it began before a write another call has already
    seen) neither reads nor fills it. So a call that began after a write never gets a
    standing computed before it. Standings are computed with known_at=None, so they depend on
    nothing but the data and the date. At most ``LIMIT`` standings, least recently used out
    first."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: tuple[tuple[int, ...], Policy] | None = None
        self.subjects: dict[str, Any] = {}
        self.standings: OrderedDict[tuple[str, date], Entry] = OrderedDict()

    @staticmethod
    def of(owner: object) -> Cache:
        """The cache kept on ``owner`` (a service), made on first use."""
        cache = owner.__dict__.get("_standings_cache")
        if cache is None:  # setdefault is atomic: two threads racing here get the same one
            cache = owner.__dict__.setdefault("_standings_cache", Cache())
        return cache  # type: ignore[no-any-return]

    def use(self, generation: tuple[int, ...],
            policy: Policy) -> tuple[tuple[int, ...], Policy] | None:
        """The state this call may use the cache under, or None: do without it."""
        with self.lock:
            now = self.state
            if now is not None and now[1] is policy and now[0] == generation:
                return now
            if now is None or now[1] is not policy or all(
                    a >= b for a, b in zip(generation, now[0], strict=True)):
                self.state = (generation, policy)
                self.subjects.clear()
                self.standings.clear()
                return self.state
            return None

    def subject(self, state: object, key: str) -> Any:
        with self.lock:
            return self.subjects.get(key) if state is self.state else None

    def keep_subject(self, state: object, key: str, subject: Any) -> None:
        with self.lock:
            if state is self.state:
                if len(self.subjects) >= self.LIMIT:
                    self.subjects.clear()
                self.subjects[key] = subject

    def get(self, state: object, sid: str, on: date) -> Entry | None:
        with self.lock:
            if state is not self.state:
                return None
            entry = self.standings.get((sid, on))
            if entry is not None:
                self.standings.move_to_end((sid, on))
            return entry

    def keep(self, state: object, sid: str, on: date, standing: Standing) -> Entry:
        entry = Entry(standing)
        with self.lock:
            if state is self.state:
                self.standings[sid, on] = entry
                while len(self.standings) > self.LIMIT:
                    self.standings.popitem(last=False)
        return entry
