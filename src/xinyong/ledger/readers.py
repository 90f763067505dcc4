"""Reading an agency's export (CSV, JSON Lines or Parquet) as a table of text columns, each
row's file line worked out only when a report needs it. A file that cannot be read is refused
with the line and the fault (``IngestError``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from xinyong.ledger.errors import IngestError, RowError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet"}


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


def read_table(path: Path) -> tuple[pa.Table, Callable[[], list[int]]]:
    """The file as a table of text columns, and a function giving each row's file line (only
    worked out when a report needs it: quoted values may span lines)."""
    import pyarrow.csv as pcsv

    fmt = FORMATS.get(path.suffix.lower())
    if fmt == "csv" and path.is_file():
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        # Arrow's reader forgives stray quotes (text after a closing quote); Python's strict
        # reader names them, so files with quotes take that road
        if b'"' not in data:
            try:
                header = data.split(b"\n", 1)[0].rstrip(b"\r").decode().split(",")
                if header != [""] and len(set(header)) == len(header):
                    options = pcsv.ConvertOptions(
                        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False)
                    table = pcsv.read_csv(pa.BufferReader(data), convert_options=options)
                    if table.column_names == header:
                        return table, lambda: read_rows(path)[1]
            except (pa.ArrowInvalid, UnicodeDecodeError):
                pass  # the row-by-row reader below names the line and the fault
    if fmt == "parquet" and path.is_file():
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
            table = pa.table({c: table[c].cast(pa.string()) for c in table.column_names})
            return table, lambda: list(range(1, table.num_rows + 1))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
            pass
    rows, lines = read_rows(path)
    names = list(dict.fromkeys(k for r in rows for k in r))  # JSON rows vary
    return pa.table({k: pa.array([r.get(k) for r in rows], pa.string()) for k in names}), \
        lambda: lines
