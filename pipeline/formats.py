"""Reading a staged source object into records: CSV, JSON, JSON Lines, Parquet and Excel.

Each reader returns `(row, record)` pairs, where `row` says where the record was in the object in
the terms a person looks it up by: the line of a CSV or JSON Lines file (the header is line 1),
the index in a JSON list, the row of a Parquet file (from 0), the row of the Excel sheet.
Parquet goes through pyarrow and Excel through openpyxl (no engine extension is ever loaded).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import orjson

from pipeline.errors import FormatError

Records = list[tuple[int, dict[str, Any]]]
EXTENSIONS = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "parquet": ".parquet",
              "excel": ".xlsx"}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def member(document: Any, dotted: str | None) -> Any:
    """`a.b.c` of a nested JSON object (None when absent)."""
    if not dotted:
        return document
    node = document
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read(data: bytes, fmt: str, *, records: str | None = None, sheet: str | None = None) -> Records:
    try:
        if fmt == "csv":
            return _csv(data)
        if fmt == "json":
            return _json(data, records)
        if fmt == "jsonl":
            return _jsonl(data)
        if fmt == "parquet":
            return _parquet(data)
        if fmt == "excel":
            return _excel(data, sheet)
    except FormatError:
        raise
    except Exception as exc:  # the libraries' own errors: corrupt file, wrong format
        raise FormatError(f"cannot read the object as {fmt}: {exc}") from None
    raise FormatError(f"unknown format {fmt!r}")


def _csv(data: bytes) -> Records:
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = []
    for record in reader:
        out.append((reader.line_num, {k: (v if v != "" else None) for k, v in record.items() if k}))
    return out


def _json(data: bytes, records: str | None) -> Records:
    document = orjson.loads(data)
    items = member(document, records)
    if not isinstance(items, list):
        raise FormatError(
            f"the JSON document has no list of records at {records or 'the top level'!r}"
        )
    return [(i, item) for i, item in enumerate(items)]


def _jsonl(data: bytes) -> Records:
    out = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if line.strip():
            out.append((number, orjson.loads(line)))
    return out


def _parquet(data: bytes) -> Records:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    return [(i, {k: _plain(v) for k, v in row.items()}) for i, row in enumerate(table.to_pylist())]


def _excel(data: bytes, sheet: str | None) -> Records:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
    except KeyError:
        raise FormatError(f"the workbook has no sheet {sheet!r}") from None
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return []
    names = [str(h).strip() if h is not None else None for h in header]
    out = []
    for number, values in enumerate(rows, start=2):
        if all(v is None for v in values):
            continue
        out.append(
            (number, {n: _plain(v) for n, v in zip(names, values, strict=False) if n is not None})
        )
    book.close()
    return out
