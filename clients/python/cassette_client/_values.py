"""Python values -> cassette.v1.Value, by the type the registry declares."""

from __future__ import annotations

import datetime
import math
from typing import Any, Optional

from google.protobuf import timestamp_pb2

from ._proto.cassette.v1 import types_pb2

_SCALAR_FIELDS = {
    "int32": "int32_val",
    "int64": "int64_val",
    "float": "float_val",
    "double": "double_val",
    "string": "string_val",
    "bytes": "bytes_val",
    "bool": "bool_val",
    "unix_timestamp": "unix_timestamp_val",
}


def _scalar(type_name: str, value: Any, where: str) -> Any:
    """A Python value in the form the Value field of `type_name` takes."""
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        value = value.item()
    if type_name in ("int32", "int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected {type_name} (an int), got {value!r}")
        return value
    if type_name in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected {type_name} (a number), got {value!r}")
        return float(value)
    if type_name == "string":
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected string, got {value!r}")
        return value
    if type_name == "bytes":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise ValueError(f"{where}: expected bytes, got {value!r}")
        return bytes(value)
    if type_name == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected bool, got {value!r}")
        return value
    if type_name == "unix_timestamp":
        if isinstance(value, datetime.datetime):
            return math.floor(_aware(value).timestamp())
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected unix_timestamp (a datetime or int seconds), got {value!r}")
        return value
    raise ValueError(f"{where}: unknown value type {type_name!r}")


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)


def feature_value(type_name: str, value: Any, where: str = "value") -> types_pb2.Value:
    """A feature's value (None: cleared) as a Value of its declared type."""
    message = types_pb2.Value()
    if value is None:
        message.null_val = types_pb2.Null.NULL
        return message
    if type_name.endswith("_list"):
        element = type_name[: -len("_list")]
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        field = getattr(message, f"{element}_list_val")
        field.SetInParent()
        field.val.extend(_scalar(element, item, f"{where}[{i}]") for i, item in enumerate(items))
        return message
    setattr(message, _SCALAR_FIELDS[type_name], _scalar(type_name, value, where))
    return message


def entity_value(type_name: str, value: Any, where: str = "entity") -> types_pb2.Value:
    """An entity key part as a Value of its join key's type."""
    if value is None:
        raise ValueError(f"{where}: an entity key cannot be None")
    message = types_pb2.Value()
    setattr(message, _SCALAR_FIELDS[type_name], _scalar(type_name, value, where))
    return message


def timestamp_of(value: Any, where: str) -> timestamp_pb2.Timestamp:
    """A datetime (naive = UTC) or seconds since the epoch as a Timestamp."""
    stamp = timestamp_pb2.Timestamp()
    if isinstance(value, datetime.datetime):
        stamp.FromDatetime(_aware(value).astimezone(datetime.timezone.utc).replace(tzinfo=None))
        return stamp
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = math.floor(value)
        stamp.seconds = seconds
        stamp.nanos = int(round((value - seconds) * 1e9)) % 1_000_000_000
        return stamp
    raise ValueError(f"{where}: expected a datetime or seconds since the epoch, got {value!r}")
