"""The Python-caller scenario of `npm run bench`: what a model server in Python pays per lookup.

Calls one Cassette server with the same batches two ways, alternating, and times each request
from the call to NumPy arrays in hand:

- proto: GetOnlineFeatures, then its Value and Timestamp messages turned into NumPy arrays (one
  array per feature, the embedding as a 2-D float32 array, statuses, event times in µs);
- arrow: GetOnlineFeaturesArrow, pyarrow.ipc.open_stream(...).read_all(), then the same arrays
  from the Arrow columns (as cassette_client's numpy format does);
- arrow_row_event_times: the same with row_event_times (one event time per entity row instead of
  one per feature and row: the compact form).

Prints one JSON object: per variant the median and mean milliseconds (call plus conversion, and
the conversion alone) and the response bytes; and the ratios arrow / proto.

    python bench/python_caller.py --target 127.0.0.1:6566 --features '["wide:embedding", ...]' \
        --first-entity 0 --entities 1000 --batch 100 --requests 200
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.ipc  # noqa: E402

from cassette_client._proto.cassette.v1 import serving_pb2, serving_pb2_grpc, types_pb2  # noqa: E402
from cassette_client.client import DEFAULT_MAX_RECEIVE_BYTES, numpy_columns  # noqa: E402

LIST_CASES = {
    "float_list_val": np.float32,
    "double_list_val": np.float64,
    "int32_list_val": np.int32,
    "int64_list_val": np.int64,
}
SCALAR_DTYPES = {
    "int64_val": np.int64,
    "int32_val": np.int32,
    "double_val": np.float64,
    "float_val": np.float32,
    "bool_val": np.bool_,
}


def proto_to_numpy(response):
    """GetOnlineFeaturesResponse -> {name: ndarray}: what a caller of today's RPC writes."""
    arrays = {}
    for name, vector in zip(response.metadata.feature_names.val, response.results):
        values = vector.values
        case = next((v.WhichOneof("val") for v in values if v.WhichOneof("val") not in (None, "null_val")), None)
        if case in LIST_CASES:
            arrays[name] = np.array(
                [getattr(v, case).val if v.WhichOneof("val") == case else [] for v in values], dtype=LIST_CASES[case]
            )
        elif case in SCALAR_DTYPES:
            arrays[name] = np.array(
                [getattr(v, case) if v.WhichOneof("val") == case else 0 for v in values], dtype=SCALAR_DTYPES[case]
            )
        else:
            arrays[name] = np.array([getattr(v, case) if case and v.WhichOneof("val") == case else None for v in values], dtype=object)
        arrays[f"{name}__status"] = np.array(vector.statuses, dtype=np.uint8)
        arrays[f"{name}__event_time"] = np.array(
            [t.seconds * 1_000_000 + t.nanos // 1000 for t in vector.event_timestamps], dtype=np.int64
        )
    return arrays


def arrow_to_numpy(response):
    return numpy_columns(pyarrow.ipc.open_stream(response.ipc_stream).read_all())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--features", required=True, help="JSON list of view:feature references")
    parser.add_argument("--join-key", default="user_id")
    parser.add_argument("--first-entity", type=int, default=0)
    parser.add_argument("--entities", type=int, default=1000, help="ids cycled over (the warm set)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per variant")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per variant first")
    args = parser.parse_args()

    features = json.loads(args.features)
    channel = grpc.insecure_channel(args.target, options=[("grpc.max_receive_message_length", DEFAULT_MAX_RECEIVE_BYTES)])
    stub = serving_pb2_grpc.FeatureServingStub(channel)
    batches = []
    cursor = 0
    for _ in range(max(1, args.entities // args.batch)):
        request = serving_pb2.GetOnlineFeaturesRequest()
        request.features.val.extend(features)
        ids = [args.first_entity + (cursor + i) % args.entities for i in range(args.batch)]
        cursor += args.batch
        request.entities[args.join_key].val.extend(types_pb2.Value(int64_val=i) for i in ids)
        per_row = serving_pb2.GetOnlineFeaturesRequest()
        per_row.CopyFrom(request)
        per_row.row_event_times = True
        batches.append({"proto": request, "arrow": request, "arrow_row_event_times": per_row})

    variants = {
        "proto": (stub.GetOnlineFeatures, proto_to_numpy),
        "arrow": (stub.GetOnlineFeaturesArrow, arrow_to_numpy),
        "arrow_row_event_times": (stub.GetOnlineFeaturesArrow, arrow_to_numpy),
    }
    samples = {name: {"total": [], "convert": [], "bytes": []} for name in variants}
    shapes = {}
    for i in range(args.warmup + args.requests):
        requests = batches[i % len(batches)]
        # Rotate which variant goes first, so none always follows another.
        names = list(variants)
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            call, convert = variants[name]
            started = time.perf_counter()
            response = call(requests[name], timeout=10)
            received = time.perf_counter()
            arrays = convert(response)
            done = time.perf_counter()
            if i >= args.warmup:
                samples[name]["total"].append((done - started) * 1000)
                samples[name]["convert"].append((done - received) * 1000)
                samples[name]["bytes"].append(response.ByteSize())
            shapes[name] = {k: list(v.shape) for k, v in arrays.items() if k.endswith("embedding")}
    channel.close()

    result = {"batch": args.batch, "features": len(features), "requests": args.requests}
    for name, s in samples.items():
        result[name] = {
            "p50_ms": round(statistics.median(s["total"]), 3),
            "mean_ms": round(statistics.fmean(s["total"]), 3),
            "convert_p50_ms": round(statistics.median(s["convert"]), 3),
            "response_bytes": int(statistics.median(s["bytes"])),
            "embedding_shape": shapes[name].get("embedding"),
        }
    result["time_ratio"] = round(result["arrow"]["p50_ms"] / result["proto"]["p50_ms"], 3)
    result["bytes_ratio"] = round(result["arrow"]["response_bytes"] / result["proto"]["response_bytes"], 3)
    compact = result["arrow_row_event_times"]
    result["row_event_times_time_ratio"] = round(compact["p50_ms"] / result["proto"]["p50_ms"], 3)
    result["row_event_times_bytes_ratio"] = round(compact["response_bytes"] / result["proto"]["response_bytes"], 3)
    result["versions"] = {"python": sys.version.split()[0], "grpcio": grpc.__version__, "pyarrow": pa.__version__, "numpy": np.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
