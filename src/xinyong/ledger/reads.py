"""Reading the ledger: subjects and identifiers, resolving a key to a subject, the
neighbourhoods and due-process facts evaluation reads (the ledger as a standings
``Source``), and the generation that keys cached standings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from xinyong.ledger import tables as t
from xinyong.ledger.cases import load
from xinyong.ledger.connection import Connected
from xinyong.ledger.payloads import FACTS, ORDER
from xinyong.ledger.rows import _event, _link, _record, _subject
from xinyong.model import DueProcess, Record, RecordEvent, Subject, SubjectKind
from xinyong.policy.model import Policy
from xinyong.standings.source import Neighbourhood, UnknownSubject


class Reader(Connected):
    """Reads of subjects, identifiers and neighbourhoods."""

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {kind: conn.execute(select(func.count()).select_from(FACTS[kind][0]))
                    .scalar_one() for kind in ORDER} | {
                "ledger": conn.execute(select(func.count()).select_from(t.ledger)).scalar_one()}

    def subjects(self, ids: Iterable[str] | None = None) -> dict[str, Subject]:
        with self.engine.connect() as conn:
            q = select(t.subjects)
            qi = select(t.identifiers)
            if ids is not None:
                wanted = list(ids)
                q = q.where(t.subjects.c.id.in_(wanted))
                qi = qi.where(t.identifiers.c.subject.in_(wanted))
            idents: dict[str, list[Any]] = defaultdict(list)
            for i in conn.execute(qi):
                idents[i.subject].append(i)
            return {r.id: _subject(r, idents[r.id]) for r in conn.execute(q)}

    def find_identifier(self, scheme: str, value: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.identifiers.c.subject).where(
                t.identifiers.c.scheme == scheme, t.identifiers.c.value == value)).scalar()

    def find_subjects(self, q: str, limit: int = 20) -> list[str]:
        """Ids of subjects whose name contains ``q``, or whose id or an identifier is ``q``."""
        like = f"%{q.strip()}%"
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(
                select(t.subjects.c.id).outerjoin(
                    t.identifiers, t.identifiers.c.subject == t.subjects.c.id)
                .where(or_(t.subjects.c.name.like(like), t.subjects.c.id == q.strip(),
                           t.identifiers.c.value == q.strip().upper()))
                .distinct().order_by(t.subjects.c.id).limit(limit))]

    def identified(self, values: list[str]) -> tuple[dict[str, str], dict[str, SubjectKind]]:
        """Identifier value → subject for the values already in the store, and those
        subjects' kinds."""
        out: dict[str, str] = {}
        kinds: dict[str, SubjectKind] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(values), 500):
                q = select(t.identifiers.c.value, t.identifiers.c.subject, t.subjects.c.kind) \
                    .join(t.subjects, t.subjects.c.id == t.identifiers.c.subject) \
                    .where(t.identifiers.c.value.in_(values[i:i + 500]))
                for r in conn.execute(q):
                    out[r.value] = r.subject
                    kinds[r.subject] = SubjectKind(r.kind)
        return out, kinds

    def names(self) -> dict[str, tuple[str, str]]:
        """Every subject's name and region, by id (the pool a review's candidates come from)."""
        with self.engine.connect() as conn:
            return {r.id: (r.name, r.region) for r in conn.execute(
                select(t.subjects.c.id, t.subjects.c.name, t.subjects.c.region))}

    def record(self, record_id: str) -> Record | None:
        """A record by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.records).where(t.records.c.id == record_id)).first()
        return None if row is None else _record(row)

    def ingested(self, ingest_id: str) -> bool:
        """Whether an ingest (a file, or an idempotency key) is already recorded."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.ingests.c.id)
                                .where(t.ingests.c.id == ingest_id)).first() is not None

    def review_items(self, status: str = "open") -> list[Any]:
        """Review queue items with this status, in queue order."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.review_queue)
                                     .where(t.review_queue.c.status == status)
                                     .order_by(t.review_queue.c.id)))

    def review_item(self, item_id: int) -> Any:
        """A review queue item, or None."""
        with self.engine.connect() as conn:
            return conn.execute(select(t.review_queue)
                                .where(t.review_queue.c.id == item_id)).first()

    def resolve(self, key: str, policy: Policy) -> Subject:
        found = self.subjects([key])
        if key in found:
            return found[key]
        from xinyong.ids import InvalidIdentifier, held_by, looks_like_identifier

        for scheme in ("cn-uscc", "cn-ric", "passport"):  # a stored identifier, exactly
            sid = self.find_identifier(scheme, key.strip().upper())
            if sid is not None:
                return self.subjects([sid])[sid]
        try:  # its readings by structure (labelled, spaced or hyphenated keys)
            sid = held_by(key, policy.exceptions, lambda i: self.find_identifier(i.scheme, i.value))
        except InvalidIdentifier as e:
            if looks_like_identifier(key):  # the schemes tried, the check character expected
                raise UnknownSubject(str(e)) from None
            sid = None
        if sid is not None:
            return self.subjects([sid])[sid]
        raise UnknownSubject(f"no subject {key!r} in the ledger; give a subject id (e.g. "
                             "P000001) or an identifier")

    def neighbourhood(self, subject: Subject, depth: int = 2) -> Neighbourhood:
        """The subject, every subject linked to it within ``depth`` hops, their records,
        events and links (see :meth:`neighbourhoods`)."""
        return self.neighbourhoods([subject], depth)[subject.id]

    def neighbourhoods(self, subjects: Iterable[Subject],
                       depth: int = 2) -> dict[str, Neighbourhood]:
        """``neighbourhood`` for many subjects at once, by subject id: the same ones (every
        link touching a subject reached within ``depth`` hops, the records of every subject
        reached, their events), read with a few IN-queries per hop for all of them instead of
        several queries per subject. Facts shared by neighbourhoods are read once."""
        wanted = {s.id: s for s in subjects}
        rows: dict[str, Any] = {}
        links_of: dict[str, list[Any]] = defaultdict(list)
        with self.engine.connect() as conn:
            # every link touching a subject within depth - 1 hops of any asked subject
            loaded: set[str] = set()
            frontier = set(wanted)
            for _ in range(depth):
                todo = sorted(frontier - loaded)
                if not todo:
                    break
                for chunk in _chunks(todo):
                    for row in conn.execute(select(t.links).where(
                            t.links.c.organisation.in_(chunk) | t.links.c.party.in_(chunk))):
                        if row.id not in rows:
                            rows[row.id] = row
                            links_of[row.organisation].append(row)
                            if row.party != row.organisation:
                                links_of[row.party].append(row)
                loaded.update(todo)
                frontier = {o for sid in todo for row in links_of.get(sid, ())
                            for o in (row.organisation, row.party)} - loaded
            # each subject's neighbourhood, walked as ``Dataset.neighbourhood`` walks it
            hoods: dict[str, tuple[set[str], dict[str, Any]]] = {}
            for sid in wanted:
                seen, front = {sid}, {sid}
                mine: dict[str, Any] = {}
                for _ in range(depth):
                    if not front:
                        break
                    nxt: set[str] = set()
                    for x in front:
                        for row in links_of.get(x, ()):
                            mine[row.id] = row
                            for other in (row.organisation, row.party):
                                if other not in seen:
                                    seen.add(other)
                                    nxt.add(other)
                    front = nxt
                hoods[sid] = (seen, mine)
            everyone = sorted(set().union(*(seen for seen, _ in hoods.values())))
            records_of: dict[str, list[Record]] = defaultdict(list)
            for chunk in _chunks(everyone):
                for r in conn.execute(select(t.records).where(t.records.c.subject.in_(chunk))):
                    records_of[r.subject].append(_record(r))
            events_of: dict[str, list[RecordEvent]] = defaultdict(list)
            ids = [r.id for rs in records_of.values() for r in rs]
            for chunk in _chunks(ids):
                for e in conn.execute(select(t.record_events)
                                      .where(t.record_events.c.record.in_(chunk))):
                    events_of[e.record].append(_event(e))
        known = {k: s for chunk in _chunks(everyone) for k, s in self.subjects(chunk).items()}
        link_of = {k: _link(row) for k, row in rows.items()}
        out = {}
        for sid, (seen, mine) in hoods.items():
            recs = [r for k in seen for r in records_of.get(k, ())]
            out[sid] = Neighbourhood(
                wanted[sid], [known[k] for k in seen if k != sid and k in known],
                recs, [e for r in recs for e in events_of.get(r.id, ())],
                [link_of[k] for k in mine])
        return out

    def due_facts(self, subjects: Sequence[str], known_at: datetime) -> dict[str, DueProcess]:
        """By subject id, the due process recorded about each subject by ``known_at``: items
        under an open objection, entries a reviewer confirmed, listing notices served; read
        for all of them in a few queries."""
        disputed: dict[str, set[str]] = defaultdict(set)
        confirmed: dict[str, set[str]] = defaultdict(set)
        noticed: dict[str, set[str]] = defaultdict(set)
        with self.engine.connect() as conn:
            for chunk in _chunks(subjects):
                for case in load(self, subjects=chunk, known_at=known_at, conn=conn):
                    if case.kind == "objection" and case.open:
                        disputed[case.subject].add(case.target)
                    elif case.kind == "review" and case.status == "confirmed":
                        confirmed[case.subject].add(case.target)
                for r in conn.execute(select(t.notices.c.subject, t.notices.c.entry).where(
                        t.notices.c.kind == "listing", t.notices.c.subject.in_(chunk),
                        t.notices.c.created_at <= known_at)):
                    noticed[r.subject].add(r.entry)
        return {s: DueProcess(frozenset(disputed.get(s, ())), frozenset(confirmed.get(s, ())),
                              frozenset(noticed.get(s, ())))
                for s in set(disputed) | set(confirmed) | set(noticed)}

    def generation(self) -> tuple[int, ...]:
        """A fingerprint of everything a standing is computed from, read in one query: the
        last ledger entry (subjects, identifiers, links, records and record events are all
        ledgered, under the write lock, so it grows with every fact) and the number of cases,
        case events and notices (insert-only: nothing updates or deletes them). Any write that
        can change a standing changes it; it never goes back."""
        own = self._own("_probe", write=False)
        if own.conn is None:  # an in-memory database: only the pool's connection sees it
            with self.engine.connect() as c:
                row = c.exec_driver_sql(_GENERATION).one()
        else:
            row = own.read(_GENERATION)
        return tuple(int(v or 0) for v in row)


_GENERATION = ("SELECT (SELECT max(seq) FROM ledger), (SELECT count(*) FROM cases), "
               "(SELECT count(*) FROM case_events), (SELECT count(*) FROM notices)")


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Pieces small enough for one IN-list (SQLite binds a limited number of parameters)."""
    for i in range(0, len(items), size):
        yield list(items[i:i + size])
