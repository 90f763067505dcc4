"""A population as Parquet files plus a manifest, readable by DuckDB and back into Python.

Amounts are a JSON object of decimal strings (``{"tax_evaded": "120000.00"}``) so that
no precision or scale is lost; dates are ``date32`` and instants naive ``timestamp[us]``
(China Standard Time, as the rest of the platform). The manifest carries counts and
SHA-256 digests, so a file swapped or truncated fails at load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from xinyong.ids import Identifier, IdScheme
from xinyong.model import (
    Channel,
    EventKind,
    Link,
    LinkRole,
    Record,
    RecordEvent,
    Subject,
    SubjectKind,
)
from xinyong.sim.population import AttributeTable, Population

FORMAT_VERSION = 2  # 2: records carry their channel

_IDENT = pa.struct([("scheme", pa.string()), ("value", pa.string())])
_OPT_IN = pa.struct([("programme", pa.string()), ("since", pa.date32())])
_TS = pa.timestamp("us")

SCHEMAS: dict[str, Any] = {
    "subjects": pa.schema([
        ("id", pa.string()), ("kind", pa.string()), ("name", pa.string()),
        ("region", pa.string()), ("identifiers", pa.list_(_IDENT)),
        ("registered", pa.date32()), ("opt_ins", pa.list_(_OPT_IN)),
    ]),
    "links": pa.schema([
        ("organisation", pa.string()), ("party", pa.string()), ("role", pa.string()),
        ("start", pa.date32()), ("end", pa.date32()),
    ]),
    "records": pa.schema([
        ("id", pa.string()), ("subject", pa.string()), ("category", pa.string()),
        ("agency", pa.string()), ("act_date", pa.date32()), ("effective", pa.date32()),
        ("document_no", pa.string()), ("legal_basis", pa.string()),
        ("recorded_at", _TS), ("amounts", pa.string()), ("channel", pa.string()),
    ]),
    "events": pa.schema([
        ("id", pa.string()), ("record", pa.string()), ("kind", pa.string()),
        ("effective", pa.date32()), ("recorded_at", _TS), ("note", pa.string()),
        ("amounts", pa.string()),
    ]),
    "attributes": pa.schema([
        ("subject", pa.string()), ("urban", pa.bool_()), ("digital_access", pa.bool_()),
    ]),
}  # fmt: skip


def _amounts_json(amounts: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in amounts.items()}, ensure_ascii=False)


def _amounts_of(text: str) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in json.loads(text).items()}


def _columns(pop: Population) -> dict[str, dict[str, list[Any]]]:
    s, lk, r, e, a = pop.subjects, pop.links, pop.records, pop.events, pop.attributes
    return {
        "subjects": {
            "id": [x.id for x in s],
            "kind": [x.kind.value for x in s],
            "name": [x.name for x in s],
            "region": [x.region for x in s],
            "identifiers": [
                [{"scheme": i.scheme.value, "value": i.value} for i in x.identifiers] for x in s
            ],
            "registered": [x.registered for x in s],
            "opt_ins": [[{"programme": p, "since": d} for p, d in x.opt_ins] for x in s],
        },
        "links": {
            "organisation": [x.organisation for x in lk],
            "party": [x.party for x in lk],
            "role": [x.role.value for x in lk],
            "start": [x.start for x in lk],
            "end": [x.end for x in lk],
        },
        "records": {
            "id": [x.id for x in r],
            "subject": [x.subject for x in r],
            "category": [x.category for x in r],
            "agency": [x.agency for x in r],
            "act_date": [x.act_date for x in r],
            "effective": [x.effective for x in r],
            "document_no": [x.document_no for x in r],
            "legal_basis": [x.legal_basis for x in r],
            "recorded_at": [x.recorded_at for x in r],
            "amounts": [_amounts_json(x.amounts) for x in r],
            "channel": [x.channel.value for x in r],
        },
        "events": {
            "id": [x.id for x in e],
            "record": [x.record for x in e],
            "kind": [x.kind.value for x in e],
            "effective": [x.effective for x in e],
            "recorded_at": [x.recorded_at for x in e],
            "note": [x.note for x in e],
            "amounts": [_amounts_json(x.amounts) for x in e],
        },
        "attributes": {
            "subject": list(a.ids),
            "urban": list(a.urban),
            "digital_access": list(a.digital_access),
        },
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_population(pop: Population, directory: Path) -> dict[str, Path]:
    """Write one Parquet file per table and ``manifest.json``; returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    for name, cols in _columns(pop).items():
        path = directory / f"{name}.parquet"
        table = pa.table(cols, schema=SCHEMAS[name])
        pq.write_table(table, path, compression="zstd")
        out[name] = path
        counts[name] = table.num_rows
        digests[path.name] = _sha256(path)
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "xinyong.sim.population",
        "generator_version": pop.generator_version,
        "seed": pop.seed,
        "start": pop.start.isoformat(),
        "end": pop.end.isoformat(),
        "policy_digest": pop.policy_digest,
        "counts": counts,
        "sha256": digests,
    }
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out["manifest"] = path
    return out


def _read(directory: Path, name: str, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    path = directory / f"{name}.parquet"
    expected = manifest.get("sha256", {}).get(path.name)
    if expected is not None and _sha256(path) != expected:
        raise ValueError(f"{path}: content differs from manifest.json (sha256)")
    rows: list[dict[str, Any]] = pq.read_table(path, schema=SCHEMAS[name]).to_pylist()
    want = manifest["counts"][name]
    if len(rows) != want:
        raise ValueError(f"{path}: {len(rows)} {name} rows but manifest.json says {want}")
    return rows


def read_population(directory: Path) -> Population:
    """Read what :func:`write_population` wrote; checks counts and digests."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{directory}/manifest.json: format_version {manifest.get('format_version')!r}, "
            f"this reader understands {FORMAT_VERSION}"
        )
    subjects = tuple(
        Subject(
            id=x["id"],
            kind=SubjectKind(x["kind"]),
            name=x["name"],
            region=x["region"],
            identifiers=tuple(
                Identifier(IdScheme(i["scheme"]), i["value"]) for i in x["identifiers"]
            ),
            registered=x["registered"],
            opt_ins=tuple((o["programme"], o["since"]) for o in x["opt_ins"]),
        )
        for x in _read(directory, "subjects", manifest)
    )
    links = tuple(
        Link(x["organisation"], x["party"], LinkRole(x["role"]), x["start"], x["end"])
        for x in _read(directory, "links", manifest)
    )
    records = tuple(
        Record(
            id=x["id"],
            subject=x["subject"],
            category=x["category"],
            agency=x["agency"],
            act_date=x["act_date"],
            effective=x["effective"],
            document_no=x["document_no"],
            legal_basis=x["legal_basis"],
            recorded_at=x["recorded_at"],
            amounts=_amounts_of(x["amounts"]),
            channel=Channel(x["channel"]),
        )
        for x in _read(directory, "records", manifest)
    )
    events = tuple(
        RecordEvent(
            id=x["id"],
            record=x["record"],
            kind=EventKind(x["kind"]),
            effective=x["effective"],
            recorded_at=x["recorded_at"],
            note=x["note"],
            amounts=_amounts_of(x["amounts"]),
        )
        for x in _read(directory, "events", manifest)
    )
    attrs = _read(directory, "attributes", manifest)
    return Population(
        subjects=subjects,
        links=links,
        records=records,
        events=events,
        attributes=AttributeTable(
            tuple(x["subject"] for x in attrs),
            tuple(x["urban"] for x in attrs),
            tuple(x["digital_access"] for x in attrs),
        ),
        seed=manifest["seed"],
        start=date.fromisoformat(manifest["start"]),
        end=date.fromisoformat(manifest["end"]),
        policy_digest=manifest["policy_digest"],
        generator_version=manifest["generator_version"],
    )
