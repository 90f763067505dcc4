"""Agency feed files for the ledger tests: rows in the agencies' own column names, written as
CSV, JSON Lines or Parquet, with valid identifiers built from their parts."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from xinyong.ids import make_ric, make_uscc

REFUSES = "judicial.debtor.refuses_to_perform"
EVADES = "judicial.debtor.evades_enforcement"
OBSTRUCTS = "judicial.debtor.obstructs_enforcement"

# policies/feeds/feeds.toml, feed courts.dishonest-debtors (the courts' own Chinese headers)
COURTS = ("记录编号", "证件号码", "被执行人", "地区代码", "失信情形", "立案日期", "发布日期",
          "执行依据文号", "法律依据", "未履行金额", "执行法院")
# feed sat.tax-credit
SAT = ("id", "uscc", "taxpayer", "category", "act_date", "decision_date", "decision_no",
       "basis", "evaded", "payable")


def uscc(n: int, region: str = "110101") -> str:
    """A valid Unified Social Credit Code of an enterprise (authority 9, type 1)."""
    return make_uscc("9", "1", region, f"{n:08d}")


def ric(n: int, region: str = "110101", birth: str = "19800101") -> str:
    """A valid resident identity number."""
    return make_ric(region, birth, n)


def court_row(rid: str, ident: str, name: str, region: str = "", *, category: str = REFUSES,
              act: Any = "2024-01-02", effective: Any = "2024-01-10", doc: str | None = None,
              basis: str = "", owed: Any = "", court: str = "北京市第一中级人民法院",
              ) -> dict[str, Any]:
    """One row of the courts' export. ``doc`` defaults to a document number from the id."""
    return dict(zip(COURTS, (rid, ident, name, region, category, act, effective,
                             f"(2024)京01执{rid}号" if doc is None else doc, basis, owed, court),
                    strict=True))


def sat_row(rid: str, ident: str, *, category: str = "tax.evasion", act: str = "2024-03-01",
            effective: str = "2024-03-15", doc: str | None = None,
            basis: str = "tax-collection-law", evaded: str = "", payable: str = "",
            name: str = "深圳某某贸易有限公司") -> dict[str, Any]:
    return dict(zip(SAT, (rid, ident, name, category, act, effective,
                          f"深税稽罚〔2024〕{rid}号" if doc is None else doc, basis, evaded,
                          payable), strict=True))


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]],
              header: Iterable[str] | None = None) -> Path:
    cols = list(header) if header is not None else list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([_text(r.get(c)) for c in cols])
    return path


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """One JSON object a line; dates as ISO text, numbers stay numbers, None is null."""
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: v.isoformat() if isinstance(v, date) else v
                                for k, v in r.items()}, ensure_ascii=False) + "\n")
    return path


def write_parquet(path: Path, rows: Sequence[Mapping[str, Any]], schema: Any = None) -> Path:
    """Parquet through pyarrow; column types are inferred (dates → date32, ints → int64) unless
    a schema is given."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([dict(r) for r in rows], schema=schema), path)
    return path


def write_feed(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write by the file's suffix: .csv, .jsonl or .parquet."""
    writer = {".csv": write_csv, ".jsonl": write_jsonl, ".parquet": write_parquet}[path.suffix]
    return writer(path, rows)


# --- a small court file and the store's row counts ------------------------------------------

U1 = uscc(12345678, "440300")   # an enterprise registered in Shenzhen (440300)
P1 = ric(7, "110101")           # a person


def sample_rows() -> list[dict[str, Any]]:
    """Three court records with typed values: Parquet keeps dates and integers as such, JSON
    Lines keeps numbers and nulls, CSV writes text. Two subjects, so 7 ledger entries."""
    return [
        court_row("R-1", U1, "深圳某某科技有限公司", "", act=date(2024, 1, 2),
                  effective=date(2024, 1, 10), owed=150000),
        court_row("R-2", U1, "深圳某某科技有限公司", "", category=EVADES, act=date(2024, 2, 1),
                  effective=date(2024, 2, 5), basis="civil-procedure-law", owed=None),
        court_row("R-3", P1, "张三", "110105", act=date(2024, 3, 1), effective=date(2024, 3, 4),
                  owed=2800),
    ]


EMPTY = {"subject": 0, "identifier": 0, "link": 0, "record": 0, "event": 0, "ledger": 0,
         "ingests": 0, "audit": 0, "checkpoints": 0, "review": 0}


def state(ledger: Any) -> dict[str, int]:
    """Row counts of every table an ingest may touch (keys of EMPTY)."""
    from sqlalchemy import func, select

    from xinyong.ledger import tables as t

    with ledger.engine.connect() as c:
        extra = {name: c.execute(select(func.count()).select_from(tbl)).scalar_one()
                 for name, tbl in (("ingests", t.ingests), ("audit", t.audit_log),
                                   ("checkpoints", t.checkpoints), ("review", t.review_queue))}
    return ledger.counts() | extra  # type: ignore[no-any-return]
