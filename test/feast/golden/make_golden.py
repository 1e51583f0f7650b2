"""Golden vectors for Cassette's decoders of Feast's online-store bytes, made by Feast itself.

Run once with the Feast 0.67 virtual environment and commit the output:
    /work/feastvenv/bin/python test/feast/golden/make_golden.py > test/feast/golden/vectors.json
"""

import json
import warnings

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import (
    BoolList,
    BytesList,
    DoubleList,
    FloatList,
    Int32List,
    Int64List,
    Map,
    StringList,
    Value,
)

warnings.simplefilter("ignore")


def key(pairs, version):
    proto = EntityKey(join_keys=[k for k, _ in pairs], entity_values=[v for _, v in pairs])
    return serialize_entity_key(proto, entity_key_serialization_version=version).hex()


KEYS = [
    ("int64", [("user_id", Value(int64_val=1001))]),
    ("int64 negative", [("user_id", Value(int64_val=-9223372036854775808))]),
    ("int64 max", [("user_id", Value(int64_val=9223372036854775807))]),
    ("int32", [("shard", Value(int32_val=-7))]),
    ("string", [("item_id", Value(string_val="item_ü1"))]),
    ("bytes", [("blob_id", Value(bytes_val=b"\x00\xff\x10"))]),
    ("unix timestamp", [("day", Value(unix_timestamp_val=1767225600))]),
    # Given out of order: Feast sorts join keys by name.
    ("composite", [("user_id", Value(int64_val=42)), ("item_id", Value(string_val="item_7"))]),
    ("composite of three", [("z", Value(int32_val=1)), ("a", Value(string_val="")), ("m", Value(int64_val=5))]),
]

def plain(value):
    """A key value as the test expects it: int64 and timestamps as decimal text, bytes as hex."""
    case = value.WhichOneof("val")
    inner = getattr(value, case)
    if case in ("int64_val", "unix_timestamp_val"):
        inner = str(inner)
    elif case == "bytes_val":
        inner = inner.hex()
    return {case: inner}


keys = []
for name, pairs in KEYS:
    for version in (1, 2, 3):
        if version == 1 and any(v.HasField("int64_val") and abs(v.int64_val) >= 2**31 for _, v in pairs):
            continue  # version 1 packs an INT64 in 4 bytes: out of range
        keys.append(
            {
                "name": name,
                "version": version,
                "join_keys": sorted(k for k, _ in pairs),
                "hex": key(pairs, version),
                "values": {k: plain(v) for k, v in pairs},
            }
        )

VALUES = [
    ("int32", Value(int32_val=-2147483648)),
    ("int64", Value(int64_val=-9223372036854775807)),
    ("int64 big", Value(int64_val=2**53 + 1)),
    ("double", Value(double_val=-0.1)),
    ("float", Value(float_val=1.5)),
    ("string", Value(string_val="naïve ☃")),
    ("empty string", Value(string_val="")),
    ("bytes", Value(bytes_val=b"\x00\x01\xfe")),
    ("bool true", Value(bool_val=True)),
    ("bool false", Value(bool_val=False)),
    ("unix timestamp", Value(unix_timestamp_val=1767225600)),
    ("int32 list", Value(int32_list_val=Int32List(val=[1, -2, 2147483647]))),
    ("int64 list", Value(int64_list_val=Int64List(val=[2**62, -1]))),
    ("double list", Value(double_list_val=DoubleList(val=[0.5, -1e300]))),
    ("float list", Value(float_list_val=FloatList(val=[0.25, -3.5]))),
    ("empty float list", Value(float_list_val=FloatList(val=[]))),
    ("string list", Value(string_list_val=StringList(val=["a", "", "ü"]))),
    ("bytes list", Value(bytes_list_val=BytesList(val=[b"x", b""]))),
    ("bool list", Value(bool_list_val=BoolList(val=[True, False, True]))),
    ("unix timestamp list", Value(unix_timestamp_list_val=Int64List(val=[0, 1767225600]))),
    ("null", Value(null_val=0)),
    ("empty", Value()),
    ("json", Value(json_val='{"a": 1}')),
    ("map", Value(map_val=Map(val={"k": Value(int32_val=1)}))),
]

values = [
    {"name": name, "hex": v.SerializeToString().hex(), "case": v.WhichOneof("val")} for name, v in VALUES
]

print(json.dumps({"feast": "0.67.0", "entity_keys": keys, "values": values}, indent=1))
