"""Writes the repository's Parquet sources from the rows the test chose (data/rows.json).

Usage: python make_data.py REPO_DIR (test/e2e/feast-migrate.test.ts runs it). Values come as JSON: bytes as base64, times as unix
milliseconds (event times) or seconds (UnixTimestamp features).
"""

import base64
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

repo = Path(sys.argv[1])
rows = json.loads((repo / "data" / "rows.json").read_text())

EVENT = pa.timestamp("ms", tz="UTC")
SECONDS = pa.timestamp("s", tz="UTC")
PROFILE = pa.schema(
    [
        ("user_id", pa.int64()),
        ("event_timestamp", EVENT),
        ("age", pa.int32()),
        ("clicks", pa.int64()),
        ("score", pa.float64()),
        ("ratio", pa.float32()),
        ("nickname", pa.string()),
        ("avatar", pa.binary()),
        ("active", pa.bool_()),
        ("signed_up", SECONDS),
        ("ages", pa.list_(pa.int32())),
        ("click_history", pa.list_(pa.int64())),
        ("scores", pa.list_(pa.float64())),
        ("embedding", pa.list_(pa.float32())),
        ("tags", pa.list_(pa.string())),
        ("blobs", pa.list_(pa.binary())),
        ("flags", pa.list_(pa.bool_())),
        ("visits", pa.list_(SECONDS)),
        ("prefs", pa.string()),
    ]
)
AFFINITY = pa.schema(
    [("user_id", pa.int64()), ("item_id", pa.string()), ("event_timestamp", EVENT), ("affinity", pa.float64()), ("seen", pa.int64())]
)


def moment(value, unit):
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000 if unit == "ms" else value, tz=timezone.utc)


def column(field, values):
    if pa.types.is_timestamp(field.type):
        return [moment(v, field.type.unit) for v in values]
    if field.type == pa.binary():
        return [None if v is None else base64.b64decode(v) for v in values]
    if pa.types.is_list(field.type) and field.type.value_type == pa.binary():
        return [None if v is None else [base64.b64decode(x) for x in v] for v in values]
    if pa.types.is_list(field.type) and pa.types.is_timestamp(field.type.value_type):
        return [None if v is None else [moment(x, "s") for x in v] for v in values]
    return values


def write(name, schema):
    records = rows[name]
    arrays = [pa.array(column(f, [r.get(f.name) for r in records]), type=f.type) for f in schema]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), repo / "data" / f"{name}.parquet")


write("profile", PROFILE)
write("affinity", AFFINITY)
