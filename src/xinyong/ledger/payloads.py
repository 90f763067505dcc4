"""Canonical payloads of ledger facts: the canonical JSON a fact's leaf hash covers, built
row by row (``payload_of``) or column by column (``payloads``, the bulk path), and the fact
kinds with their tables, keys and payload fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xinyong.ledger import tables as t
from xinyong.model import Channel

GENESIS = "0" * 64


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def canonical(row: Mapping[str, Any]) -> str:
    """The canonical JSON of a fact: sorted keys, no spaces, dates ISO, decimals as strings."""
    return json.dumps(_plain(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain(prev_hex: str, leaf_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hex) + bytes.fromhex(leaf_hex)).hexdigest()


# Fact kind → (table, key column(s), payload fields). The ledger payload of a fact is the
# canonical JSON of exactly these fields, so verify can rebuild it from the fact table.
FACTS: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    "subject": (t.subjects, ("id",), ("id", "kind", "name", "region", "registered", "opt_ins",
                                       "recorded_at")),
    "identifier": (t.identifiers, ("scheme", "value"), ("scheme", "value", "subject",
                                                        "recorded_at")),
    "link": (t.links, ("id",), ("id", "organisation", "party", "role", "start", "end",
                                "recorded_at")),
    "record": (t.records, ("id",), ("id", "subject", "category", "agency", "act_date",
                                    "effective", "document_no", "legal_basis", "amounts",
                                    "recorded_at", "ingest", "channel")),
    "event": (t.record_events, ("id",), ("id", "record", "kind", "effective", "recorded_at",
                                         "note", "amounts", "ingest")),
}
ORDER = ("subject", "identifier", "link", "record", "event")

# Fields added after facts were first written, and the value that stands for "not recorded":
# the payload leaves the field out when it holds that value (or nothing), so every fact written
# before the field existed keeps its leaf hash, and each other value is hashed.
ABSENT: dict[str, dict[str, str]] = {"record": {"channel": Channel.UNRECORDED.value}}


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def ref_of(kind: str, row: Mapping[str, Any]) -> str:
    keys = FACTS[kind][1]
    return str(row[keys[0]]) if len(keys) == 1 else ":".join(str(row[k]) for k in keys)


_ISO: dict[Any, str] = {}


def _iso(v: Any) -> str:
    got = _ISO.get(v)
    if got is None:
        if len(_ISO) > 100_000:  # dates and transaction times repeat: a bounded memo
            _ISO.clear()
        got = _ISO[v] = v.isoformat()
    return got


def payload_of(kind: str, row: Mapping[str, Any]) -> str:
    """The canonical JSON of the fact's ledger fields. Dates become ISO strings; the rest is
    already plain (strings, numbers, and dicts or lists of them)."""
    out = {}
    absent = ABSENT.get(kind, {})
    for k in FACTS[kind][2]:
        v = row.get(k)
        if k in absent and (v is None or v == absent[k]):
            continue
        t = type(v)  # exact types: isinstance against ABCs costs more than the encoding
        if t is date or t is datetime:
            v = _iso(v)
        elif t is Decimal or (t is dict and not all(type(x) is str for x in v.values())):
            v = _plain(v)
        out[k] = v
    return _ENCODE(out)


def canonical_amount(raw: str) -> Decimal:
    """An amount as a number: thousands separators dropped, so 150,000 = 150000 = 150000.0."""
    return Decimal(raw.replace(",", "").strip())


def amount_text(value: Decimal) -> str:
    """The one text of an amount (stored and hashed): 150000.0 and 150000 both read '150000'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


_STR = json.encoder.encode_basestring  # the C encoder json.dumps uses with ensure_ascii=False

Columns = dict[str, list[Any]]
"""Facts of one kind column by column, in storage form; JSON fields hold their canonical text.
Ingest builds these directly: records come by the million."""


def canonical_json(v: Any) -> str:
    return _ENCODE(_plain(v))


def _json_value(v: Any) -> str:
    """One value as canonical JSON (as ``payload_of`` would write it)."""
    t = type(v)
    if t is str:
        return _STR(v)
    if v is None:
        return "null"
    if t is date or t is datetime:
        return '"' + _iso(v) + '"'
    return _ENCODE(_plain(v))


def _json_fields(kind: str) -> set[str]:
    from sqlalchemy import JSON

    return {c.name for c in FACTS[kind][0].columns if isinstance(c.type, JSON)}


def payloads(kind: str, cols: Columns, n: int) -> list[bytes]:
    """``payload_of`` for every row of ``cols`` as UTF-8, built column by column (a test keeps
    the two identical). Keys are sorted, as canonical JSON requires. Each column is encoded
    once per distinct value where values repeat; Arrow joins the pieces."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not n:
        return []
    from sqlalchemy import String

    raw = _json_fields(kind)
    table = FACTS[kind][0]
    absent = ABSENT.get(kind, {})
    pieces: list[Any] = []
    text = "{"
    for i, f in enumerate(sorted(FACTS[kind][2])):
        col = cols.get(f) or [None] * n
        if f in absent:  # a later field: the key and its value, or nothing (never first)
            assert i, "a field added later sorts after the first field"
            memo = {v: "" if v is None or v == absent[f] else f",{_STR(f)}:{_STR(v)}"
                    for v in set(col)}
            pieces += [text, pa.array(list(map(memo.__getitem__, col)), pa.string())]
            text = ""
            continue
        enc: Callable[[Any], str] = _json_value
        if f in raw:  # already canonical text
            enc = lambda v: "null" if v is None else v  # noqa: E731
        elif isinstance(table.c[f].type, String) and not table.c[f].nullable:
            enc = _STR
        text += ("," if i else "") + f"{_STR(f)}:"
        # how a column is encoded only changes the speed: a sample decides
        sample = set(col[:2048])
        if len(sample) == 1 and col.count(col[0]) == n:  # the agency, the file's time …
            text += enc(col[0])
            continue
        if len(sample) < 512:  # values repeat: encode each distinct one once
            memo = {v: enc(v) for v in set(col)}
            values = list(map(memo.__getitem__, col))
        else:
            values = list(map(enc, col))
        pieces += [text, pa.array(values, pa.string())]
        text = ""
    pieces.append(text + "}")
    if len(pieces) == 1:
        return [pieces[0].encode()] * n
    joined = pc.binary_join_element_wise(*pieces, "")
    return joined.cast(pa.binary()).to_pylist()  # type: ignore[no-any-return]


def columns_of(kind: str, rows: Sequence[Mapping[str, Any]]) -> Columns:
    """Row dicts → columns in storage form."""
    if not rows:
        return {}
    raw = _json_fields(kind)
    cols: Columns = {c.name: [r[c.name] for r in rows] for c in FACTS[kind][0].columns
                     if c.name in rows[0]}
    for f in raw & set(cols):
        cols[f] = [None if v is None else canonical_json(v) for v in cols[f]]
    return cols


def refs_of(kind: str, cols: Columns) -> list[str]:
    keys = FACTS[kind][1]
    if len(keys) == 1:
        return [str(v) for v in cols[keys[0]]]
    return [":".join(map(str, vals)) for vals in zip(*(cols[k] for k in keys), strict=True)]


def _plain_default(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Mapping):
        return dict(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


def _canonical_fast(v: Any) -> str:
    """``canonical(v)``, the same text, without first copying every value through ``_plain``
    (an audit entry of a screening lists tens of thousands of asks). A test keeps the two
    identical."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain_default)
