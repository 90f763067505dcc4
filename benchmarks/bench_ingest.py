"""Ingest throughput: full validation and hashing against a plain executemany insert.

Builds a tax-authority CSV of N records about 20,000 firms, ingests it into a fresh ledger
(every row validated: identifier checksum, catalog category, competence, dates, amounts; every
fact hash-chained; a Merkle checkpoint at the end), then inserts the same rows with a plain
`executemany` into a bare table of the same shape in a fresh database of the same kind, in the
same run. Prints records/s for both and the ratio.

Run: .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--database URL]
(default: SQLite files in a temporary folder; pass a postgresql+psycopg:// URL of an empty
database to measure PostgreSQL).
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from xinyong.files import load_policy
from xinyong.ids import make_uscc
from xinyong.ledger.ingest import Ingest
from xinyong.ledger.store import Ledger

CATS = ["tax.late_filing", "tax.late_payment", "tax.invoice_irregular", "tax.evasion"]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def build_csv(path: Path, rows: int, firms: int = 20000) -> None:
    rnd = random.Random(7)
    codes = [make_uscc("9", "1", "110101", "".join(rnd.choice(ALPHABET[:10]) for _ in range(8)))
             for _ in range(firms)]
    start = date(2020, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "uscc", "taxpayer", "category", "act_date", "decision_date",
                    "decision_no", "basis", "evaded", "payable"])
        for i in range(rows):
            cat = CATS[i % 4]
            d = start + timedelta(days=rnd.randrange(1500))
            ev, pay = ("", "") if cat != "tax.evasion" else (
                str(rnd.randrange(1000, 500000)), str(rnd.randrange(500000, 5000000)))
            w.writerow([f"T{i:08d}", codes[i % firms], f"企业{i % firms}", cat, d.isoformat(),
                        d.isoformat(), f"税稽罚〔{d.year}〕{i}号", "tax-collection-law", ev, pay])


def plain_insert(url: str, path: Path) -> float:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE plain (id TEXT PRIMARY KEY, identifier TEXT, name TEXT, "
                       "category TEXT, act_date TEXT, effective TEXT, document_no TEXT, "
                       "legal_basis TEXT, evaded TEXT, payable TEXT)"))
    t0 = time.perf_counter()
    with path.open(encoding="utf-8") as f, engine.begin() as c:
        r = csv.reader(f)
        next(r)
        c.exec_driver_sql("INSERT INTO plain VALUES (" + ",".join(["%s" if engine.dialect.name
                          != "sqlite" else "?"] * 10) + ")", [tuple(row) for row in r])
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--database", help="empty PostgreSQL database URL (default: SQLite)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xy-bench-"))
    src = tmp / "tax.csv"
    build_csv(src, args.rows)
    policy = load_policy()
    url = args.database or f"sqlite:///{tmp}/ledger.db"
    ledger = Ledger.open(url, clock=lambda: datetime(2025, 1, 1, 9))
    t0 = time.perf_counter()
    report = Ingest(ledger, policy, "sat", src).run()
    ingest_s = time.perf_counter() - t0
    assert report.written == args.rows, report
    plain_url = f"sqlite:///{tmp}/plain.db" if not args.database else args.database
    plain_s = plain_insert(plain_url, src)
    kind = "PostgreSQL" if args.database else "SQLite"
    print(f"{kind}: {args.rows:,} records from CSV ({report.new_subjects:,} new subjects)")
    print(f"ingest, full validation + hash chain + checkpoint: {ingest_s:7.2f} s  "
          f"{args.rows / ingest_s:10,.0f} records/s")
    print(f"plain executemany of the same rows:              {plain_s:7.2f} s  "
          f"{args.rows / plain_s:10,.0f} records/s")
    goal = (f"goal: ≥ 50,000 records/s → {'met' if args.rows / ingest_s >= 50000 else 'NOT met'}"
            if kind == "SQLite" else "the 50,000 records/s goal is set for SQLite")
    print(f"ratio ingest / plain: {plain_s / ingest_s:.2f} of plain speed ({goal})")
    t0 = time.perf_counter()
    ok = ledger.verify().ok
    print(f"verify of the whole ledger: {time.perf_counter() - t0:.2f} s, ok={ok}")


if __name__ == "__main__":
    main()
