"""Agency ingestion: read a file, validate every row, resolve identities, write atomically.

A file is atomic: one bad row and nothing is written; the report lists every bad row with
its line, field and reason. Resubmitting a file, or records already recorded, adds nothing.
Rows without an identifier are matched by name and region: only an exact, unique match is
linked; everything else waits in the review queue for a person. Nothing is guessed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select

from xinyong.ids import Identifier, InvalidIdentifier
from xinyong.ledger import tables as t
from xinyong.ledger.store import (
    Batch,
    Ledger,
    LedgerError,
    WriteResult,
    amount_text,
    columns_of,
    canonical_amount,
)
from xinyong.model import Record, Subject, SubjectKind
from xinyong.policy.model import Policy
from xinyong.policy.schema import Feed, forbidden_in

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet"}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    reason: str
    record: str = ""

    def __str__(self) -> str:
        rec = f" (record {self.record})" if self.record else ""
        return f"line {self.line}{rec}, field {self.field}: {self.reason}"


class IngestError(LedgerError):
    """The file was refused; nothing was written. ``errors`` lists every bad row."""

    def __init__(self, file: str, errors: list[RowError], headline: str = ""):
        self.file, self.errors = file, errors
        head = headline or f"{len(errors)} bad row(s); nothing was written"
        super().__init__(f"{file}: {head}")


@dataclass
class IngestReport:
    file: str
    agency: str
    feed: str
    rows: int
    written: int
    already_recorded: int
    new_subjects: int
    linked_by_name: int
    queued_for_review: int
    ingest_id: str
    already_ingested: bool = False
    result: WriteResult | None = None


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows as dicts of strings (or None), and the file line of each row."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(str(path), [], f"unknown file type {path.suffix!r}; use .csv, .jsonl "
                          "or .parquet")
    if not path.is_file():
        raise IngestError(str(path), [], "no such file")
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        except Exception as e:  # not Parquet, truncated …
            raise IngestError(str(path), [], f"cannot be read: not a Parquet file ({e})") from None
        rows = [{k: None if v is None else str(v) for k, v in r.items()}
                for r in table.to_pylist()]
        return rows, list(range(1, len(rows) + 1))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise IngestError(str(path), [], f"not UTF-8 text (byte {e.start}) on line {line}; "
                          "save the export as UTF-8") from None
    if fmt == "csv":
        import csv
        import io

        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        rows, lines = [], []
        try:
            header = next(reader, None)
            if header is None:
                raise IngestError(str(path), [], "empty file: no header row")
            for values in reader:
                if not values:
                    continue  # a blank line
                if len(values) != len(header):
                    raise IngestError(str(path), [RowError(
                        reader.line_num, "*", f"wrong number of columns: {len(values)} where "
                        f"the header has {len(header)}")], "malformed CSV")
                rows.append(dict(zip(header, values, strict=True)))
                lines.append(reader.line_num)
        except csv.Error as e:
            raise IngestError(str(path), [RowError(reader.line_num, "*", str(e))],
                              "malformed CSV") from None
        return rows, lines
    import json

    rows, lines = [], []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise IngestError(str(path), [RowError(i, "*", f"not JSON: {e.msg}")],
                              "malformed JSON Lines") from None
        if not isinstance(obj, dict):
            raise IngestError(str(path), [RowError(i, "*", "not a JSON object")],
                              "malformed JSON Lines")
        rows.append({k: None if v is None else str(v) for k, v in obj.items()})
        lines.append(i)
    return rows, lines


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def _scheme_of(value: str, policy: Policy) -> str:
    """The scheme an unlabelled identifier belongs to: the one it validates under, else the one
    it looks like (so the error names the right check character)."""
    if ":" in value:
        return "passport"
    if not re.fullmatch(r"\d{17}[\dXx]", value):
        return "cn-uscc"
    for scheme in ("cn-uscc", "cn-ric"):
        try:
            policy.identifier(scheme, value)
            return scheme
        except InvalidIdentifier:
            continue
    return "cn-ric"


def _kind_of(scheme: str, value: str) -> SubjectKind:
    if scheme != "cn-uscc":
        return SubjectKind.PERSON
    return {"1": SubjectKind.PUBLIC_BODY, "5": SubjectKind.SOCIAL_ORG}.get(
        value[0], SubjectKind.ENTERPRISE)


class Ingest:
    """One file from one agency, under the policy in force today."""

    def __init__(self, ledger: Ledger, policy: Policy, agency: str, path: Path):
        self.ledger, self.policy, self.agency, self.path = ledger, policy, agency, path
        self.now = ledger.clock()
        self.today = self.now.date()
        self.checked: dict[tuple[str, str], Identifier | InvalidIdentifier] = {}
        self.resolved: dict[tuple[str, str, int], tuple[str | None, Any]] = {}
        self.feed_scheme: str | None = None

    def feed(self) -> Feed:
        view = self.policy.at(self.today)
        feeds = [f for f in view.feeds.values() if f.agency == self.agency]
        if not feeds:
            known = sorted({f.agency for f in view.feeds.values()})
            raise IngestError(str(self.path), [], f"no feed manifest for agency {self.agency!r}"
                              f" in the policies; agencies with feeds: {', '.join(known)}")
        return feeds[0]

    def run(self) -> IngestReport:
        feed = self.feed()
        self.feed_scheme = feed.id_scheme
        raw = self.path.read_bytes() if self.path.is_file() else b""
        digest = hashlib.sha256(raw).hexdigest()
        rows, lines = read_rows(self.path)
        ingest_id = hashlib.sha256(f"{self.agency}\x00{digest}".encode()).hexdigest()[:32]
        self._check_columns(feed, rows)
        if len(rows) < feed.min_rows or (feed.max_rows is not None and len(rows) > feed.max_rows):
            raise IngestError(str(self.path), [], f"{len(rows)} rows, but feed {feed.id} "
                              f"expects {feed.min_rows}–{feed.max_rows or '∞'}: a broken export?")
        with self.ledger.engine.connect() as conn:
            done = conn.execute(select(t.ingests.c.id).where(t.ingests.c.id == ingest_id)).first()
        if done is not None:
            return IngestReport(str(self.path), self.agency, feed.id, len(rows), 0, len(rows), 0,
                                0, 0, ingest_id, already_ingested=True)
        records, subjects, queue, errors, linked = self._validate(feed, rows, lines, ingest_id)
        if errors:
            raise IngestError(str(self.path), errors)
        batch = Batch(subjects=list(subjects.values()), record_columns=columns_of("record", records),
                      ingest={"id": ingest_id, "agency": self.agency, "file_name": self.path.name,
                              "file_sha256": digest, "rows": len(rows)})
        result = self.ledger.write(
            batch, self.now, review=queue, checkpoint=True,
            audit=(f"agency:{self.agency}", "ingest", None,
                   {"file": self.path.name, "sha256": digest, "rows": len(rows),
                    "queued": len(queue)}))
        return IngestReport(str(self.path), self.agency, feed.id, len(rows),
                            result.written["record"], result.unchanged["record"],
                            result.written["subject"], linked, len(queue), ingest_id,
                            result=result)

    def _check_columns(self, feed: Feed, rows: list[dict[str, Any]]) -> None:
        present: list[str] = list(dict.fromkeys(k for r in rows for k in r))  # JSON rows vary
        mapped = set(feed.columns.values()) | set(feed.ignore)
        errors = []
        for col in present:
            kind = forbidden_in(col)
            if kind:
                errors.append(RowError(1, col, f"column refers to {kind}, which may never be "
                                               "collected; remove it from the export"))
            elif col not in mapped:
                errors.append(RowError(1, col, f"column not in feed {feed.id}'s manifest; map it "
                                               "or list it under 'ignore'"))
        missing = [c for c in feed.columns.values() if rows and c not in present]
        # a JSON line may omit an optional column, but never carry an unmapped one
        errors += [RowError(1, c, "column missing from the file") for c in missing]
        if errors:
            raise IngestError(str(self.path), errors, "the columns do not match the manifest; "
                              "nothing was written")

    def _validate(self, feed: Feed, rows: list[dict[str, Any]], lines: list[int],
                  ingest_id: str) -> tuple[list[dict[str, Any]], dict[str, Subject],
                                           list[dict[str, Any]], list[RowError], int]:
        """Every row checked; values that repeat (dates, categories, identifiers) are checked
        once. Returns storage-ready record rows, new subjects, review items, errors and the
        number of rows linked by name."""
        cols = feed.columns
        c_rid, c_doc, c_cat, c_eff, c_act, c_basis = (
            cols.get(k) for k in ("record_id", "document_no", "category", "effective",
                                  "act_date", "legal_basis"))
        amount_cols = [(k.split(".", 1)[1], c) for k, c in cols.items()
                       if k.startswith("amount.")]
        allowed = set(feed.categories)
        errors: list[RowError] = []
        out: list[dict[str, Any]] = []
        new_subjects: dict[str, Subject] = {}
        queue: list[dict[str, Any]] = []
        idents = self._known_identifiers(rows, cols.get("identifier"))
        names = self._subjects_by_name() if "subject_name" in cols else {}
        seen_ids: dict[str, int] = {}
        dates: dict[str, date | str] = {}
        cats: dict[tuple[str, date], Any] = {}
        agency, today, now = self.agency, self.today, self.now
        by_name = 0

        def day(raw: str, name: str) -> date | str:
            got = dates.get(raw)
            if got is None:
                if not raw:
                    got = "a date is required (YYYY-MM-DD)"
                else:
                    try:
                        got = date.fromisoformat(raw[:10])
                    except ValueError:
                        got = f"{raw!r} is not a date; write YYYY-MM-DD"
                    else:
                        if got > today:
                            got = f"{got} is in the future"
                dates[raw] = got
            return got

        def category(cat_id: str, eff: date) -> Any:
            key = (cat_id, eff)
            got = cats.get(key)
            if got is None:
                cat = self.policy.at(eff).categories.get(cat_id)
                if cat is None:
                    got = (f"{cat_id!r} is not a catalog category on {eff}; only catalog "
                           "categories are recorded")
                elif cat_id not in allowed:
                    got = f"feed {feed.id} may not submit {cat_id!r}"
                elif agency not in cat.agencies:
                    got = f"{agency!r} is not competent for {cat_id!r}"
                else:
                    got = cat
                cats[key] = got
            return got

        for row, line in zip(rows, lines, strict=True):
            g = row.get
            doc = (g(c_doc) or "").strip() if c_doc else ""
            cat_id = (g(c_cat) or "").strip()
            rid = ((g(c_rid) or "").strip() if c_rid else "") or f"{agency}/{doc}/{cat_id}"
            nerr = len(errors)

            def err(fld: str, why: str, rid: str = rid, line: int = line) -> None:
                errors.append(RowError(line, fld, why, rid))

            if rid in seen_ids:
                err("record_id", f"repeats line {seen_ids[rid]}")
            seen_ids[rid] = line
            raw_eff = (g(c_eff) or "").strip()
            eff = day(raw_eff, "effective")
            raw_act = ((g(c_act) or "").strip() if c_act else "") or raw_eff
            act = day(raw_act, "act_date")
            if isinstance(eff, str):
                err("effective", eff)
            if isinstance(act, str):
                err("act_date", act)
            cat: Any = None
            if isinstance(eff, date):
                if isinstance(act, date) and act > eff:
                    err("act_date", "the act is dated after the decision took effect")
                cat = category(cat_id, eff)
                if isinstance(cat, str):
                    err("category", cat)
                    cat = None
            if not doc:
                err("document_no", "the agency's document number is required")
            basis = ((g(c_basis) or "").strip() if c_basis else "") or (
                cat.legal_basis[0] if cat is not None else "")
            if not basis and cat is not None:
                err("legal_basis", "a legal basis is required")
            amounts: dict[str, str] = {}
            for name, col in amount_cols:
                raw = (g(col) or "").strip()
                if not raw:
                    continue
                try:
                    value = canonical_amount(raw)
                except InvalidOperation:
                    err(col, f"{raw!r} is not a number")
                    continue
                if not value.is_finite() or value < 0:
                    err(col, f"{raw!r}: amounts are finite and not negative")
                elif cat is not None and name not in cat.amounts:
                    err(col, f"{cat_id} has no amount {name!r}")
                else:
                    amounts[name] = amount_text(value)

            def get(key: str, g: Any = g) -> str:
                c = cols.get(key)
                return (g(c) or "").strip() if c else ""

            subject_id, how = self._subject(get, err, cat, idents, names, new_subjects)
            if len(errors) > nerr:
                continue
            if subject_id is None:
                queue.append({"ingest": ingest_id, "agency": agency, "line": line,
                              "row": dict(row), "name": get("subject_name"),
                              "region": get("subject_region"), "candidates": how,
                              "reason": "no identifier and no exact, unique match by name and "
                              "region", "status": "open"})
                continue
            by_name += how == "name"
            out.append({"id": rid, "subject": subject_id, "category": cat_id, "agency": agency,
                        "act_date": act, "effective": eff, "document_no": doc,
                        "legal_basis": basis, "amounts": amounts, "recorded_at": now,
                        "ingest": ingest_id})
        return out, new_subjects, queue, errors, by_name

    def _subject(self, get: Any, err: Any, cat: Any, idents: Mapping[str, str],
                 names: Mapping[tuple[str, str], list[str]],
                 new_subjects: dict[str, Subject]) -> tuple[str | None, Any]:
        """Resolve a row's subject; rows repeating a resolved identifier reuse the answer."""
        value = get("identifier").upper()
        key = (value, get("id_scheme"), id(cat))
        known = self.resolved.get(key) if value else None
        if known is not None:
            return known
        found: list[tuple[str, str]] = []
        answer = self._resolve_subject(get, lambda f, w: found.append((f, w)), cat, idents,
                                       names, new_subjects)
        for f, w in found:
            err(f, w)
        if value and not found:
            self.resolved[key] = answer
        return answer

    def _resolve_subject(self, get: Any, err: Any, cat: Any, idents: Mapping[str, str],
                 names: Mapping[tuple[str, str], list[str]],
                 new_subjects: dict[str, Subject]) -> tuple[str | None, Any]:
        value = get("identifier").upper()
        if value:
            scheme = get("id_scheme") or self.feed_scheme or _scheme_of(value, self.policy)
            # identifiers repeat across rows: validate each distinct one once
            checked = self.checked.get((scheme, value))
            if checked is None:
                try:
                    checked = self.policy.identifier(scheme, value)
                except InvalidIdentifier as e:
                    checked = e
                self.checked[(scheme, value)] = checked
            if isinstance(checked, InvalidIdentifier):
                err("identifier", str(checked))
                return None, "invalid"
            ident = checked
            if ident.value in idents:
                sid = idents[ident.value]
            else:
                sid = ident.value
                if sid not in new_subjects:
                    kind = _kind_of(scheme, ident.value)
                    region = get("subject_region") or (
                        ident.value[2:8] if scheme == "cn-uscc" else ident.value[:6])
                    name = get("subject_name")
                    if not name:
                        err("subject_name", "a new subject needs a name")
                        return None, "invalid"
                    new_subjects[sid] = Subject(sid, kind, name, region, (ident,))
            kind = new_subjects[sid].kind if sid in new_subjects else self.kinds.get(sid)
            if cat is not None and kind is not None and kind not in cat.subject_kinds:
                err("identifier", f"{cat.id} applies to {', '.join(cat.subject_kinds)}, not to "
                    f"a {kind.value}")
            return sid, "identifier"
        name, region = get("subject_name"), get("subject_region")
        if not name:
            err("identifier", "no identifier and no name to match on")
            return None, "invalid"
        exact = names.get((_norm(name), region), [])
        if len(exact) == 1:
            return exact[0], "name"
        return None, self._candidates(name, region, names)

    def _candidates(self, name: str, region: str,
                    names: Mapping[tuple[str, str], list[str]]) -> list[dict[str, Any]]:
        from rapidfuzz import fuzz, process

        pool = {sid: n for (n, r), sids in names.items() if r == region for sid in sids}
        found = process.extract(_norm(name), pool, scorer=fuzz.ratio, limit=5)
        return [{"subject": sid, "score": round(score, 1)} for _, score, sid in found]

    def _known_identifiers(self, rows: list[dict[str, Any]], col: str | None) -> dict[str, str]:
        """Identifier → subject for the identifiers in the file (and the subjects' kinds)."""
        self.kinds: dict[str, SubjectKind] = {}
        if col is None:
            return {}
        values = sorted({str(r.get(col) or "").strip().upper() for r in rows} - {""})
        out: dict[str, str] = {}
        with self.ledger.engine.connect() as conn:
            for i in range(0, len(values), 500):
                q = select(t.identifiers.c.value, t.identifiers.c.subject, t.subjects.c.kind) \
                    .join(t.subjects, t.subjects.c.id == t.identifiers.c.subject) \
                    .where(t.identifiers.c.value.in_(values[i:i + 500]))
                for r in conn.execute(q):
                    out[r.value] = r.subject
                    self.kinds[r.subject] = SubjectKind(r.kind)
        return out

    def _subjects_by_name(self) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = defaultdict(list)
        with self.ledger.engine.connect() as conn:
            for r in conn.execute(select(t.subjects.c.id, t.subjects.c.name, t.subjects.c.region)):
                out[(_norm(r.name), r.region)].append(r.id)
        return out


# --- the review queue ------------------------------------------------------------------


def open_reviews(ledger: Ledger) -> list[Any]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(select(t.review_queue).where(t.review_queue.c.status == "open")
                                 .order_by(t.review_queue.c.id)))


def decide_review(ledger: Ledger, policy: Policy, item_id: int, reviewer: str,
                  subject: str | None = None, reason: str = "") -> str:
    """Link a queued row to a subject (writing its record now) or reject it, with who did it."""
    with ledger.engine.connect() as conn:
        item = conn.execute(select(t.review_queue).where(t.review_queue.c.id == item_id)).first()
    if item is None:
        raise LedgerError(f"no review item {item_id}")
    if item.status != "open":
        raise LedgerError(f"review item {item_id} is already {item.status}")
    now = ledger.clock()
    if subject is None:
        ledger.close_review(item_id, "rejected", reviewer, now, {"reason": reason})
        ledger.audit(reviewer, "review.reject", None, {"item": item_id, "reason": reason})
        return f"item {item_id} rejected"
    if subject not in ledger.subjects([subject]):
        raise LedgerError(f"no subject {subject!r}")
    row = dict(item.row)
    feed = next(f for f in policy.at(now.date()).feeds.values() if f.agency == item.agency)
    inv = {v: k for k, v in feed.columns.items()}
    mine = {inv[k]: v for k, v in row.items() if k in inv}
    cat = mine.get("category", "")
    doc = mine.get("document_no", "")
    eff = date.fromisoformat(str(mine.get("effective"))[:10])
    rec = Record(mine.get("record_id") or f"{item.agency}/{doc}/{cat}", subject, cat,
                 item.agency, date.fromisoformat(str(mine.get("act_date") or eff)[:10]), eff,
                 doc, mine.get("legal_basis") or policy.at(eff).categories[cat].legal_basis[0],
                 now, {k.split(".", 1)[1]: canonical_amount(str(v)) for k, v in mine.items()
                       if k.startswith("amount.") and v not in (None, "")})
    ledger.write(Batch(records=[rec]), now)
    ledger.close_review(item_id, "linked", reviewer, now, {"subject": subject, "record": rec.id})
    ledger.audit(reviewer, "review.link", subject, {"item": item_id, "record": rec.id})
    return f"item {item_id} linked to {subject}: record {rec.id} written"


__all__ = ["Ingest", "IngestError", "IngestReport", "RowError", "decide_review", "open_reviews"]
