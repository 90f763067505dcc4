"""Agency ingestion: read a file (``ledger.readers``), validate every row, resolve identities,
write atomically.

A file is atomic: one bad row and nothing is written; the report lists every bad row with
its line, field and reason. Resubmitting a file, or records already recorded, adds nothing.
Identity is never guessed: the only automatic link is by a valid identifier. A row without
one always waits in the review queue for a person, with the closest known subjects ranked as
candidates (rapidfuzz); a store that knows one 张三 in the district does not make it this one.
Every record carries the channel it came through (model.Channel), within its feed's declared
channels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xinyong.ids import InvalidIdentifier, identify
from xinyong.ledger.batch import Batch, WriteResult
from xinyong.ledger.candidates import candidates
from xinyong.ledger.errors import AlreadyIngested, IngestError, RowError
from xinyong.ledger.payloads import Columns, amount_text, canonical_amount
from xinyong.ledger.readers import FORMATS, read_rows, read_table
from xinyong.ledger.store import Ledger
from xinyong.model import Channel, Subject, SubjectKind
from xinyong.policy.data_class import LABELS
from xinyong.policy.model import Policy
from xinyong.policy.schema import Feed


@dataclass
class IngestReport:
    file: str
    agency: str
    feed: str
    rows: int
    written: int
    already_recorded: int
    new_subjects: int
    queued_for_review: int
    ingest_id: str
    already_ingested: bool = False
    result: WriteResult | None = None


def _kind_of(scheme: str, value: str) -> SubjectKind:
    if scheme != "cn-uscc":
        return SubjectKind.PERSON
    return {"1": SubjectKind.PUBLIC_BODY, "5": SubjectKind.SOCIAL_ORG}.get(
        value[0], SubjectKind.ENTERPRISE)


def _codes(arr: pa.Array) -> tuple[list[Any], pa.Array]:
    """Distinct values and each row's index into them: checks run once per distinct value."""
    enc = pc.dictionary_encode(arr)
    return enc.dictionary.to_pylist(), enc.indices


def _rows_where(mask: pa.Array) -> list[int]:
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()  # type: ignore[no-any-return]


def _rows_with(idx: pa.Array, bad: Iterable[int]) -> list[int]:
    """Rows whose distinct-value index is among ``bad``."""
    wanted = list(bad)
    return _rows_where(pc.is_in(idx, value_set=pa.array(wanted, idx.type))) if wanted else []


class Ingest:
    """One file from one agency, under the policy in force today."""

    def __init__(self, ledger: Ledger, policy: Policy, agency: str, path: Path,
                 feed: str | None = None):
        self.ledger, self.policy, self.agency, self.path = ledger, policy, agency, path
        self.feed_id = feed
        self.now = ledger.clock()
        self.today = self.now.date()

    def feed(self, table: pa.Table | None = None) -> Feed:
        """The agency's feed in force today: the one named, the only one, or else the one whose
        manifest the file's columns fit (an agency may have several, e.g. decisions and
        inspections). Anything else is refused: the feed is never guessed."""
        view = self.policy.at(self.today)
        feeds = [f for f in view.feeds.values() if f.agency == self.agency]
        if not feeds:
            known = sorted({f.agency for f in view.feeds.values()})
            raise IngestError(str(self.path), [], f"no feed manifest for agency {self.agency!r}"
                              f" in the policies; agencies with feeds: {', '.join(known)}")
        ids = ", ".join(f.id for f in feeds)
        if self.feed_id is not None:
            named = [f for f in feeds if f.id == self.feed_id]
            if not named:
                raise IngestError(str(self.path), [], f"agency {self.agency!r} has no feed "
                                  f"{self.feed_id!r} in force; its feeds: {ids}")
            return named[0]
        if len(feeds) == 1:
            return feeds[0]
        fits = [] if table is None else [f for f in feeds if _fits(f, table)]
        if len(fits) == 1:
            return fits[0]
        how = ("the file's columns fit " + ", ".join(f.id for f in fits) if fits else
               "the columns fit none of them" if table is not None else "")
        raise IngestError(str(self.path), [], f"agency {self.agency!r} has several feeds ({ids})"
                          f"{'; ' + how if how else ''}: name one (--feed; ?feed= in the API)")

    def run(self) -> IngestReport:
        """Ingest the file: its SHA-256 makes a resubmission a no-op."""
        if FORMATS.get(self.path.suffix.lower()) is None or not self.path.is_file():
            read_rows(self.path)  # raises the reason
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        table, lines = read_table(self.path)
        return self.ingest(table, lines, digest, digest)

    def ingest_rows(self, rows: Sequence[Mapping[str, Any]], digest: str,
                    key: str) -> IngestReport:
        """Validate and write rows keyed by our own field names (the keys of the feed's
        ``columns``: ``record_id``, ``category``, ``amount.fine``, …, and ``channel``), as the
        HTTP service receives them: checked and written as a file is, all or nothing, every bad
        row listed with its row number (from 1) as its line."""
        feed = self.feed()
        fields = [*feed.columns, *(() if "channel" in feed.columns else ("channel",))]
        errors = [RowError(i, f, f"feed {feed.id} has no amount {f[7:]!r}"
                           if f.startswith("amount.") else f"not a field of feed {feed.id}")
                  for i, row in enumerate(rows, 1) for f in row if f not in fields]
        if errors:
            raise IngestError(str(self.path), errors)
        table = pa.table({f: pa.array([None if (v := r.get(f)) is None else str(v)
                                       for r in rows], pa.string()) for f in fields})
        return self.ingest(table, lambda: list(range(1, len(rows) + 1)), digest, key,
                           {f: f for f in fields})

    def ingest(self, table: pa.Table, lines: Callable[[], list[int]], digest: str,
               key: str, names: Mapping[str, str] | None = None) -> IngestReport:
        """Validate and write a table of the agency's rows (as from a file), atomically.
        ``key`` (the file's digest, or a client's idempotency key) makes a repeat a no-op.
        ``names`` maps our fields to the table's columns: the feed's columns, unless given."""
        feed = self.feed(table if names is None else None)
        ingest_id = hashlib.sha256(f"{self.agency}\x00{key}".encode()).hexdigest()[:32]
        if names is None:
            self._check_columns(feed, table)
        n = table.num_rows
        if n < feed.min_rows or (feed.max_rows is not None and n > feed.max_rows):
            raise IngestError(str(self.path), [], f"{n} rows, but feed {feed.id} "
                              f"expects {feed.min_rows}–{feed.max_rows or '∞'}: a broken export?")
        if self.ledger.ingested(ingest_id):
            return IngestReport(str(self.path), self.agency, feed.id, n, 0, n, 0, 0,
                                ingest_id, already_ingested=True)
        check = _Check(self, feed, table, ingest_id, lines, names)
        records, subjects, queue, errors = check.run()
        if errors:
            at = check.lines()
            raise IngestError(str(self.path), [
                RowError(at[row], fld, why, check.rid[row]) for row, _, fld, why in errors])
        batch = Batch(subjects=list(subjects.values()), record_columns=records,
                      ingest={"id": ingest_id, "agency": self.agency, "file_name": self.path.name,
                              "file_sha256": digest, "rows": n})
        try:
            result = self.ledger.write(
                batch, self.now, review=queue, checkpoint=True,
                audit=(f"agency:{self.agency}", "ingest", None,
                       {"file": self.path.name, "sha256": digest, "rows": n,
                        "queued": len(queue)}))
        except AlreadyIngested:
            return IngestReport(str(self.path), self.agency, feed.id, n, 0, n, 0, 0,
                                ingest_id, already_ingested=True)
        return IngestReport(str(self.path), self.agency, feed.id, n,
                            result.written["record"], result.unchanged["record"],
                            result.written["subject"], len(queue), ingest_id,
                            result=result)

    def link(self, item: Any, subject: Subject, reviewer: str) -> str:
        """Write a review queue item's row as a record of ``subject``, whom a person chose:
        checked as an ingested row is, then written with the item's resolution and the
        reviewer's audit entry in one transaction. The record's id."""
        table = pa.table({c: pa.array([None if v is None else str(v)], pa.string())
                          for c, v in dict(item.row).items()})
        feed = self.feed(table)
        check = _Check(self, feed, table, None, lambda: [item.line], subject=subject)
        records, _, _, errors = check.run()
        if errors:
            raise IngestError(str(self.path), [
                RowError(item.line, fld, why, check.rid[row]) for row, _, fld, why in errors],
                "; ".join(f"field {fld}: {why}" for _, _, fld, why in errors))
        rid: str = records["id"][0]
        with self.ledger.transaction(reviewer, "review.link", subject.id,
                                     {"item": item.id, "record": rid}) as tx:
            tx.write(Batch(record_columns=records), self.now)
            tx.close_review(item.id, "linked", reviewer, self.now,
                            {"subject": subject.id, "record": rid})
        return rid

    def _check_columns(self, feed: Feed, table: pa.Table) -> None:
        present: list[str] = table.column_names
        mapped = set(feed.columns.values()) | set(feed.ignore)
        errors = []
        for col in present:
            hit = self.policy.sensitive.find(col)
            if hit:
                kind = LABELS[hit.data_class]
                errors.append(RowError(1, col, f"column refers to {kind}, which may never be "
                                               "collected; remove it from the export"))
            elif col not in mapped:
                errors.append(RowError(1, col, f"column not in feed {feed.id}'s manifest; map it "
                                               "or list it under 'ignore'"))
        missing = [c for c in feed.columns.values() if table.num_rows and c not in present]
        # a JSON line may omit an optional column, but never carry an unmapped one
        errors += [RowError(1, c, "column missing from the file") for c in missing]
        if errors:
            raise IngestError(str(self.path), errors, "the columns do not match the manifest; "
                              "nothing was written")


def _fits(feed: Feed, table: pa.Table) -> bool:
    """The table has every column the feed maps and none it does not know."""
    known = set(feed.columns.values()) | set(feed.ignore)
    return set(table.column_names) <= known and set(feed.columns.values()) <= set(
        table.column_names)


# The order in which a row's problems are reported.
_ORDER = {f: i for i, f in enumerate(("record_id", "effective", "act_date", "act_after",
                                      "category", "channel", "document_no", "legal_basis",
                                      "amount", "identifier"))}


class _Check:
    """Every row of a file checked column by column: each check runs once per distinct value
    (or pair of values), and only the rows that fail are visited one by one."""

    def __init__(self, ingest: Ingest, feed: Feed, table: pa.Table, ingest_id: str | None,
                 line_of: Callable[[], list[int]], names: Mapping[str, str] | None = None,
                 subject: Subject | None = None):
        self.ingest, self.feed, self.table, self.ingest_id = ingest, feed, table, ingest_id
        self.names = feed.columns if names is None else names
        """Our field → the table's column."""
        self.subject = subject
        """The subject every row is of (a person linked the row), or None: by identifier."""
        self.line_of = line_of
        self._lines: list[int] | None = None
        self.policy, self.agency, self.today = ingest.policy, ingest.agency, ingest.today
        self.n = table.num_rows
        self.errors: list[tuple[int, int, str, str]] = []

    def column(self, key: str) -> pa.Array | None:
        """Our field ``key`` as trimmed text ("" where empty), or None if the feed lacks it."""
        name = self.names.get(key)
        if name is None or name not in self.table.column_names:
            return None
        col = self.table[name].combine_chunks()
        return pc.utf8_trim_whitespace(pc.fill_null(col, ""))

    def blank(self) -> pa.Array:
        return pa.array([""] * self.n, pa.string())

    def fail(self, rows: Iterable[int], step: str, field: str, why: str | Callable[[int], str],
             ) -> None:
        order = _ORDER[step]
        for r in rows:
            self.errors.append((r, order, field, why if isinstance(why, str) else why(r)))

    def day(self, raw: str) -> date | str:
        if not raw:
            return "a date is required (YYYY-MM-DD)"
        try:
            got = date.fromisoformat(raw[:10])
        except ValueError:
            return f"{raw!r} is not a date; write YYYY-MM-DD"
        return f"{got} is in the future" if got > self.today else got

    def dates(self, raw: pa.Array, field: str, step: str,
              given: pa.Array | None = None) -> tuple[list[Any], pa.Array]:
        """Each row's date (or its problem, reported where the row ``given`` it: a date
        taken over from another column is reported there), as distinct values and indices."""
        values, idx = _codes(raw)
        got = [self.day(v) for v in values]
        bad = [i for i, d in enumerate(got) if isinstance(d, str)]
        rows = _rows_with(idx, bad)
        if given is not None and rows:
            rows = [r for r in rows if given[r].as_py()]
        self.fail(rows, step, field, lambda r: got[idx[r].as_py()])
        return got, idx

    def category(self, cat_id: str, eff: date) -> Any:
        cat = self.policy.at(eff).categories.get(cat_id)
        if cat is None:
            return (f"{cat_id!r} is not a catalog category on {eff}; only catalog categories "
                    "are recorded")
        if cat_id not in self.feed.categories:
            return f"feed {self.feed.id} may not submit {cat_id!r}"
        if self.agency not in cat.agencies:
            return f"{self.agency!r} is not competent for {cat_id!r}"
        return cat

    def run(self) -> tuple[Columns, dict[str, Subject], list[dict[str, Any]],
                           list[tuple[int, int, str, str]], int]:
        n = self.n
        eff_raw = self.column("effective")
        eff_raw = self.blank() if eff_raw is None else eff_raw
        effs, eff_i = self.dates(eff_raw, "effective", "effective")
        act_col = self.column("act_date")
        act_given = pc.not_equal(act_col if act_col is not None else self.blank(), "")
        act_raw = pc.if_else(act_given, act_col, eff_raw) if act_col is not None else eff_raw
        acts, act_i = self.dates(act_raw, "act_date", "act_date", act_given)
        as_day = [d if isinstance(d, date) else None for d in effs]
        eff_d = pa.array(as_day, pa.date32()).take(eff_i)
        act_d = pa.array([d if isinstance(d, date) else None for d in acts], pa.date32()) \
            .take(act_i)
        self.fail(_rows_where(pc.greater(act_d, eff_d)), "act_after", "act_date",
                  "the act is dated after the decision took effect")

        # category: checked once per (category, effective date) pair
        cat_raw = self.column("category")
        cat_raw = self.blank() if cat_raw is None else cat_raw
        cat_vals, cat_i = _codes(cat_raw)
        m = max(len(effs), 1)
        pair_vals, pair_i = _codes(pc.add(pc.multiply(cat_i.cast(pa.int64()), m),
                                          eff_i.cast(pa.int64())))
        cats: list[Any] = []
        for key in pair_vals:
            c, e = divmod(key, m)
            cats.append(None if as_day[e] is None else self.category(cat_vals[c], as_day[e]))
        self.fail(_rows_with(pair_i, [i for i, c in enumerate(cats) if isinstance(c, str)]),
                  "category", "category", lambda r: cats[pair_i[r].as_py()])
        cats = [c if c is not None and not isinstance(c, str) else None for c in cats]
        valid_pair = pa.array([c is not None for c in cats]).take(pair_i)

        channels = self.channels()

        doc = self.column("document_no")
        doc = self.blank() if doc is None else doc
        self.fail(_rows_where(pc.equal(doc, "")), "document_no", "document_no",
                  "the agency's document number is required")
        default = pa.array([c.legal_basis[0] if c is not None and c.legal_basis else ""
                            for c in cats], pa.string()).take(pair_i)
        basis = self.column("legal_basis")
        basis = default if basis is None else pc.if_else(pc.equal(basis, ""), default, basis)
        self.fail(_rows_where(pc.and_(pc.equal(basis, ""), valid_pair)), "legal_basis",
                  "legal_basis", "a legal basis is required")
        amounts = self.amounts(cats, pair_i)

        rid = self.column("record_id")
        fallback = pc.binary_join_element_wise(self.agency, doc, cat_raw, "/")
        rid = fallback if rid is None else pc.if_else(pc.equal(rid, ""), fallback, rid)
        self.rid: list[str] = rid.to_pylist()
        if pc.count_distinct(rid).as_py() != n:
            seen: dict[str, int] = {}
            for r, v in enumerate(self.rid):
                if v in seen:
                    self.fail([r], "record_id", "record_id",
                              f"repeats line {self.lines()[seen[v]]}")
                seen[v] = r

        subjects, new_subjects, queue = (self.subjects(pair_i, cats) if self.subject is None
                                         else self.linked(pair_i, cats))
        if self.errors:
            failed = {e[0] for e in self.errors}
            queue = [q for q in queue if q["_row"] not in failed]
            self.errors.sort(key=lambda e: (e[0], e[1]))
            return {}, {}, [], self.errors
        keep = [r for r in range(n) if subjects[r] is not None] if queue else None
        eff_rows = [effs[i] for i in eff_i.to_pylist()]
        act_rows = [acts[i] for i in act_i.to_pylist()]
        out: Columns = {
            "id": self.rid, "subject": subjects, "category": cat_raw.to_pylist(),
            "agency": [self.agency] * n, "act_date": act_rows, "effective": eff_rows,
            "document_no": doc.to_pylist(), "legal_basis": basis.to_pylist(),
            "amounts": amounts, "recorded_at": [self.ingest.now] * n,
            "ingest": [self.ingest_id] * n, "channel": channels}
        if keep is not None:
            out = {k: [v[r] for r in keep] for k, v in out.items()}
        for q in queue:
            del q["_row"]
        return out, new_subjects, queue, self.errors

    def channels(self) -> list[str]:
        """Each row's channel: the feed's one, or the row's own among the feed's declared
        channels; any other is a bad row."""
        declared = [c.value for c in self.feed.channels]
        raw = self.column("channel")
        if raw is None:
            return [declared[0]] * self.n  # one channel (the manifest requires a column else)
        vals, idx = _codes(raw)
        got: list[str] = []
        for i, v in enumerate(vals):
            if v in declared or (not v and len(declared) == 1):
                got.append(v or declared[0])
                continue
            if not v:
                why = f"the channel is required: one of {', '.join(declared)}"
            elif v in Channel.__members__.values():
                why = (f"feed {self.feed.id} does not declare channel {v!r}: its rows come "
                       f"through {', '.join(declared)}")
            else:
                why = f"{v!r} is not a channel; feed {self.feed.id} declares {', '.join(declared)}"
            got.append("")
            self.fail(_rows_with(idx, [i]), "channel", self.names["channel"], why)
        return [got[i] for i in idx.to_pylist()]

    def row(self, r: int) -> dict[str, Any]:
        """Row ``r`` in the feed's own columns, as the review queue keeps a row (and
        ``review.decide_review`` reads it back), whichever names it came in."""
        got: dict[str, Any] = self.table.slice(r, 1).to_pylist()[0]
        if self.names is self.feed.columns:
            return got
        return {self.feed.columns[f]: v for f, v in got.items() if f in self.feed.columns}

    def lines(self) -> list[int]:
        """Each row's file line; read again only when a report needs them."""
        if self._lines is None:
            self._lines = self.line_of()
        return self._lines

    def amounts(self, cats: list[Any], pair_i: pa.Array) -> list[str]:
        """Each row's amounts as canonical JSON text; bad amounts reported."""
        frags = []
        for key, col in sorted((k.split(".", 1)[1], c) for k, c in self.names.items()
                               if k.startswith("amount.")):
            raw = self.column(f"amount.{key}")
            if raw is None:
                continue
            vals, idx = _codes(raw)
            texts: list[str | None] = []
            for i, v in enumerate(vals):
                if not v:
                    texts.append(None)
                    continue
                try:
                    value = canonical_amount(v)
                except InvalidOperation:
                    why = f"{v!r} is not a number"
                else:
                    if value.is_finite() and value >= 0:
                        texts.append(amount_text(value))
                        continue
                    why = f"{v!r}: amounts are finite and not negative"
                texts.append(None)
                self.fail(_rows_with(idx, [i]), "amount", col, why)
            has = pc.not_equal(raw, "")
            unknown = [i for i, c in enumerate(cats) if c is not None and key not in c.amounts]
            self.fail(_rows_where(pc.and_(has, pc.is_in(pair_i, value_set=pa.array(
                unknown, pair_i.type)))), "amount", col,
                lambda r, key=key: f"{cats[pair_i[r].as_py()].id} has no amount {key!r}")
            text = pa.array(texts, pa.string()).take(idx)
            frags.append(pc.binary_join_element_wise(f'"{key}":"', text, '"', ""))
        if not frags:
            return ["{}"] * self.n
        # canonical JSON: keys sorted (frags are), empty amounts left out
        body = frags[0]
        for frag in frags[1:]:
            both = pc.binary_join_element_wise(body, frag, ",")
            body = pc.if_else(pc.is_null(body), frag, pc.if_else(pc.is_null(frag), body, both))
        whole = pc.binary_join_element_wise("{", body, "}", "")
        return pc.fill_null(whole, "{}").to_pylist()  # type: ignore[no-any-return]

    def subjects(self, pair_i: pa.Array, cats: list[Any]) -> tuple[
            list[str | None], dict[str, Subject], list[dict[str, Any]], int]:
        """Each row's subject, by its identifier (checked once per distinct value); a row
        without one waits for review, never linked by name."""
        n = self.n
        ident = self.column("identifier")
        ident = self.blank() if ident is None else pc.utf8_upper(ident)
        scheme = self.column("id_scheme")
        name = self.column("subject_name")
        region = self.column("subject_region")
        key = ident if scheme is None else pc.binary_join_element_wise(ident, scheme, "\x00")
        vals, idx = _codes(key)
        idx_rows = idx.to_pylist()
        first: dict[int, int] = {}
        named: dict[int, int] = {}
        names = name.to_pylist() if name is not None else [""] * n
        regions = region.to_pylist() if region is not None else [""] * n
        for r, i in enumerate(idx_rows):
            first.setdefault(i, r)
            if names[r]:
                named.setdefault(i, r)
        checked: list[Any] = []
        for v in vals:
            value, _, sch = v.partition("\x00")
            if not value:
                checked.append(None)
                continue
            sch = sch or self.feed.id_scheme or ""
            try:  # an unlabelled value's scheme is told by its structure, never guessed
                found = (self.policy.identifier(sch, value) if sch
                         else identify(value, self.policy.exceptions))
                checked.append((found.scheme.value, found))
            except InvalidIdentifier as e:
                checked.append(str(e))
        known, kinds = self._known([c[1].value for c in checked if isinstance(c, tuple)])
        sid: list[str | None] = []
        kind_of: list[SubjectKind | None] = []
        new_subjects: dict[str, Subject] = {}
        for i, c in enumerate(checked):
            if not isinstance(c, tuple):
                sid.append(None)
                kind_of.append(None)
                continue
            sch, found = c
            if found.value in known:
                sid.append(known[found.value])
                kind_of.append(kinds[known[found.value]])
                continue
            s = new_subjects.get(found.value)
            if s is None:
                r = named.get(i)
                if r is None:
                    sid.append(None)
                    kind_of.append(None)
                    checked[i] = "a new subject needs a name"
                    continue
                reg = regions[r] or (found.value[2:8] if sch == "cn-uscc" else found.value[:6])
                s = new_subjects[found.value] = Subject(
                    found.value, _kind_of(sch, found.value), names[r], reg, (found,))
            sid.append(s.id)
            kind_of.append(s.kind)
        for i, c in enumerate(checked):
            if isinstance(c, str):
                field = "subject_name" if c == "a new subject needs a name" else "identifier"
                self.fail(_rows_with(idx, [i]), "identifier", field, c)
        # kind against category, once per (subject kind, category) pair
        kinds_list = list(SubjectKind)
        kcode = pa.array([-1 if k is None else kinds_list.index(k) for k in kind_of],
                         pa.int64()).take(idx)
        pairs, pi = _codes(pc.add(pc.multiply(kcode, len(cats) + 1), pair_i.cast(pa.int64())))
        for j, p in enumerate(pairs):
            k, ci = divmod(p, len(cats) + 1)
            if k < 0 or cats[ci] is None or kinds_list[k] in cats[ci].subject_kinds:
                continue
            cat = cats[ci]
            self.fail(_rows_with(pi, [j]), "identifier", "identifier",
                      f"{cat.id} applies to {', '.join(cat.subject_kinds)}, not to a "
                      f"{kinds_list[k].value}")
        rows: list[str | None] = [sid[i] for i in idx_rows]
        queue: list[dict[str, Any]] = []
        unnamed = [r for r in range(n) if not vals[idx_rows[r]].partition("\x00")[0]]
        pool = self._names() if unnamed else {}
        for s in new_subjects.values() if unnamed else ():  # subjects this file introduces
            pool[s.id] = (s.name, s.region)
        for r in unnamed:
            if not names[r]:
                self.fail([r], "identifier", "identifier", "no identifier and no name to match on")
                continue
            queue.append({"_row": r, "ingest": self.ingest_id, "agency": self.agency,
                          "feed": self.feed.id, "line": 0,
                          "row": self.row(r),
                          "name": names[r], "region": regions[r],
                          "candidates": candidates(names[r], regions[r], pool),
                          "reason": "no identifier: identity is never guessed from a name, "
                          "a person links the row", "status": "open"})
        if queue:
            lines = self.lines()
            for q in queue:
                q["line"] = lines[q["_row"]]
        return rows, new_subjects, queue

    def linked(self, pair_i: pa.Array, cats: list[Any]) -> tuple[
            list[str | None], dict[str, Subject], list[dict[str, Any]]]:
        """Every row is of :attr:`subject`, whose kind the category must apply to."""
        assert self.subject is not None
        s = self.subject
        wrong = [i for i, c in enumerate(cats) if c is not None and s.kind not in c.subject_kinds]
        self.fail(_rows_with(pair_i, wrong), "identifier", "identifier",
                  lambda r: f"{cats[pair_i[r].as_py()].id} applies to "
                  f"{', '.join(cats[pair_i[r].as_py()].subject_kinds)}, not to a {s.kind.value}")
        return [s.id] * self.n, {}, []

    def _known(self, values: list[str]) -> tuple[dict[str, str], dict[str, SubjectKind]]:
        """Identifier → subject for identifiers already in the store, and those subjects' kinds."""
        return self.ingest.ledger.identified(values)

    def _names(self) -> dict[str, tuple[str, str]]:
        return self.ingest.ledger.names()


__all__ = ["Ingest", "IngestError", "IngestReport", "RowError"]
