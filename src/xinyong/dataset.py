"""An in-memory view of a population (Parquet files) for per-subject evaluation: a standings
``Source`` (``xinyong.standings``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from xinyong.ids import ChecksumException, InvalidIdentifier, held_by, looks_like_identifier
from xinyong.model import Link, Record, RecordEvent, Subject
from xinyong.standings.source import Neighbourhood, UnknownSubject


class Dataset:
    """Subjects, links, records and events indexed for building one subject's neighbourhood."""

    def __init__(
        self,
        subjects: Iterable[Subject],
        links: Iterable[Link],
        records: Iterable[Record],
        events: Iterable[RecordEvent],
    ) -> None:
        self.subjects = {s.id: s for s in subjects}
        self.by_identifier = {i.value: s.id for s in self.subjects.values() for i in s.identifiers}
        self.links = list(links)
        self.links_of: dict[str, list[Link]] = defaultdict(list)
        for lk in self.links:
            self.links_of[lk.organisation].append(lk)
            self.links_of[lk.party].append(lk)
        self.records_of: dict[str, list[Record]] = defaultdict(list)
        for r in records:
            self.records_of[r.subject].append(r)
        self.events_of: dict[str, list[RecordEvent]] = defaultdict(list)
        for e in events:
            self.events_of[e.record].append(e)

    def resolve(self, key: str, exceptions: Iterable[ChecksumException] = ()) -> Subject:
        """A subject by id, or by identifier (validated first, so typos get a clear error)."""
        if key in self.subjects:
            return self.subjects[key]
        if key in self.by_identifier:
            return self.subjects[self.by_identifier[key]]
        if looks_like_identifier(key):
            try:  # by structure; errors name the schemes tried
                sid = held_by(key, exceptions, lambda i: self.by_identifier.get(i.value))
            except InvalidIdentifier as e:
                raise UnknownSubject(str(e)) from None
            if sid is not None:
                return self.subjects[sid]
        raise UnknownSubject(
            f"no subject {key!r} in the data; give a subject id (e.g. P000001) or an identifier"
        )

    def neighbourhood(self, subject: Subject, depth: int = 2) -> Neighbourhood:
        """The subject with everything linked to it within ``depth`` hops."""
        seen = {subject.id}
        frontier = {subject.id}
        links: dict[int, Link] = {}
        for _ in range(depth):
            nxt = set()
            for sid in frontier:
                for lk in self.links_of.get(sid, ()):
                    links[id(lk)] = lk
                    for other in (lk.organisation, lk.party):
                        if other not in seen:
                            seen.add(other)
                            nxt.add(other)
            frontier = nxt
        records = [r for sid in seen for r in self.records_of.get(sid, ())]
        events = [e for r in records for e in self.events_of.get(r.id, ())]
        related = [self.subjects[s] for s in seen if s in self.subjects and s != subject.id]
        return Neighbourhood(subject, related, records, events, list(links.values()))

    def neighbourhoods(self, subjects: Iterable[Subject],
                       depth: int = 2) -> dict[str, Neighbourhood]:
        """``neighbourhood`` for many subjects, by subject id."""
        return {s.id: self.neighbourhood(s, depth) for s in subjects}

    def due_facts(self, subjects: Sequence[str], known_at: datetime) -> None:
        """A population keeps no due process: its standings follow the documented rules
        alone."""
        return None
