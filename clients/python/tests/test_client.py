"""The Python client and the Arrow response against a real Cassette server.

test/e2e/python-client.test.ts starts the server (real Cassandra) with tests/registry.yaml applied
and runs this file with CASSETTE_TEST_TARGET set to its address; without it, the tests that need a
server are skipped.
"""

import datetime
import os
import time

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

import cassette_client
from cassette_client import Client
from cassette_client._proto.cassette.v1 import serving_pb2, serving_pb2_grpc, types_pb2

TARGET = os.environ.get("CASSETTE_TEST_TARGET")
needs_server = pytest.mark.skipif(not TARGET, reason="CASSETTE_TEST_TARGET is not set (no server to call)")

UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=123456)
STALE = NOW - datetime.timedelta(minutes=90)  # past the view's 1 h ttl, within the expiry grace

ALL_FEATURES = [
    "user_features:clicks",
    "user_features:ctr",
    "user_features:score",
    "user_features:segment",
    "user_features:active",
    "user_features:blob",
    "user_features:seen_at",
    "user_features:embedding",
    "user_features:tags",
    "user_features:counts",
]


@pytest.fixture(scope="module")
def client():
    with Client(TARGET, deadline=10.0) as c:
        yield c


@pytest.fixture(scope="module")
def written(client):
    """Rows of user_features: 1 with every feature, 2 with some (others never written), 3 stale."""
    result = client.write(
        "user_features",
        [
            {
                "user_id": 1,
                "clicks": -(2**40),
                "ctr": 0.25,
                "score": 1.5,
                "segment": "héllo",
                "active": True,
                "blob": b"\x00\x01",
                "seen_at": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
                "embedding": [0.5, -1.0, 2.0],
                "tags": ["a", ""],
                "counts": [1, -2, 3],
                "event_timestamp": NOW,
            },
            {"user_id": 2, "ctr": 0.75, "embedding": np.array([1.0, 2.0, 3.0], dtype=np.float32), "event_timestamp": NOW},
            {"user_id": 3, "ctr": 0.5, "embedding": [0.0, 0.0, 1.0], "event_timestamp": STALE},
        ],
    )
    client.write("item_features", [{"item_id": "i1", "price": 9.99}])
    return result


def micros(when):
    return int(when.timestamp()) * 1_000_000 + when.microsecond


@needs_server
def test_pyarrow_reads_the_raw_stream(client, written):
    """The RPC called with the generated stubs only; pyarrow.ipc.open_stream reads the bytes."""
    assert written.rows_written == 3
    channel = grpc.insecure_channel(TARGET)
    stub = serving_pb2_grpc.FeatureServingStub(channel)
    request = serving_pb2.GetOnlineFeaturesRequest(min_write_time=written.consistency_token)
    request.features.val.extend(ALL_FEATURES)
    request.entities["user_id"].val.extend(types_pb2.Value(int64_val=i) for i in (1, 2, 999, 3))
    response = stub.GetOnlineFeaturesArrow(request, timeout=10)
    channel.close()
    table = pyarrow.ipc.open_stream(response.ipc_stream).read_all()

    assert table.num_rows == 4
    schema = table.schema
    assert schema.field("user_id").type == pa.int64()
    assert schema.field("clicks").type == pa.int64()
    assert schema.field("ctr").type == pa.float32()
    assert schema.field("score").type == pa.float64()
    assert schema.field("segment").type == pa.string()
    assert schema.field("active").type == pa.bool_()
    assert schema.field("blob").type == pa.binary()
    assert schema.field("seen_at").type == pa.timestamp("s", tz="UTC")
    assert schema.field("embedding").type == pa.list_(pa.float32())
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("counts").type == pa.list_(pa.int32())
    assert schema.field("ctr__status").type == pa.uint8()
    assert schema.field("ctr__event_time").type == pa.timestamp("us", tz="UTC")

    rows = table.to_pylist()
    assert [r["user_id"] for r in rows] == [1, 2, 999, 3]
    one = rows[0]
    assert one["clicks"] == -(2**40)
    assert one["ctr"] == 0.25 and one["score"] == 1.5
    assert one["segment"] == "héllo" and one["active"] is True and one["blob"] == b"\x00\x01"
    assert one["seen_at"] == datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert one["embedding"] == [0.5, -1.0, 2.0]
    assert one["tags"] == ["a", ""] and one["counts"] == [1, -2, 3]
    assert one["ctr__event_time"] == NOW
    # Row 2: features never written are null (NULL_VALUE), with no event time.
    assert rows[1]["clicks"] is None and rows[1]["clicks__status"] == 2 and rows[1]["clicks__event_time"] is None
    assert rows[1]["ctr"] == 0.75 and rows[1]["ctr__status"] == 1
    # No such entity: NOT_FOUND, null value and time.
    assert rows[2]["ctr"] is None and rows[2]["ctr__status"] == 3 and rows[2]["ctr__event_time"] is None
    # Older than the view's ttl: OUTSIDE_MAX_AGE, the value still served.
    assert rows[3]["ctr"] == 0.5 and rows[3]["ctr__status"] == 4 and rows[3]["ctr__event_time"] == STALE
    assert [cassette_client.STATUS[r["ctr__status"]] for r in rows] == [
        "PRESENT",
        "PRESENT",
        "NOT_FOUND",
        "OUTSIDE_MAX_AGE",
    ]
    assert table.column("ctr").null_count == 1


@needs_server
def test_matches_get_online_features(client, written):
    """Statuses and values agree with GetOnlineFeatures for the same request."""
    channel = grpc.insecure_channel(TARGET)
    stub = serving_pb2_grpc.FeatureServingStub(channel)
    request = serving_pb2.GetOnlineFeaturesRequest(min_write_time=written.consistency_token)
    request.features.val.extend(["user_features:ctr", "user_features:clicks"])
    request.entities["user_id"].val.extend(types_pb2.Value(int64_val=i) for i in (3, 1, 2, 7))
    proto = stub.GetOnlineFeatures(request, timeout=10)
    table = pyarrow.ipc.open_stream(stub.GetOnlineFeaturesArrow(request, timeout=10).ipc_stream).read_all()
    channel.close()
    for name, vector in zip(proto.metadata.feature_names.val, proto.results):
        assert table.column(f"{name}__status").to_pylist() == list(vector.statuses)
        times = [t.seconds * 1_000_000 + t.nanos // 1000 if s in (1, 4) else None for t, s in zip(vector.event_timestamps, vector.statuses)]
        arrow_times = [None if t is None else micros(t) for t in table.column(f"{name}__event_time").to_pylist()]
        assert arrow_times == times


@needs_server
def test_formats(client, written):
    ids = [1, 2, 999]
    frame = client.get(["user_features:ctr", "user_features:embedding"], entities={"user_id": ids})
    assert list(frame.columns) == [
        "user_id",
        "ctr",
        "ctr__status",
        "ctr__event_time",
        "embedding",
        "embedding__status",
        "embedding__event_time",
    ]
    assert frame["user_id"].tolist() == ids
    assert frame["ctr"].iloc[0] == 0.25 and np.isnan(frame["ctr"].iloc[2])

    arrays = client.get(["user_features:embedding"], entities={"user_id": np.array([1, 2])}, format="numpy")
    assert arrays["embedding"].dtype == np.float32 and arrays["embedding"].shape == (2, 3)
    np.testing.assert_array_equal(arrays["embedding"], [[0.5, -1.0, 2.0], [1.0, 2.0, 3.0]])
    assert arrays["embedding__status"].tolist() == [1, 1]

    as_dict = client.get(service="ranking", entities={"user_id": [1, 2], "item_id": ["i1", "nope"]}, format="dict")
    assert as_dict["item_id"] == ["i1", "nope"]
    assert as_dict["price"] == [9.99, None] and as_dict["price__status"] == [1, 3]

    rows = client.get(
        ["user_features:ctr", "user_features:clicks"], entities={"user_id": [1, 2, 5]}, row_event_times=True, format="dict"
    )
    assert "ctr__event_time" not in rows
    assert rows["event_time"] == [NOW, NOW, None]

    fresh = client.get(["user_features:ctr"], entities={"user_id": [1, 1]}, include_freshness=True, format="arrow")
    assert fresh.schema.field("from_cache").type == pa.bool_() and fresh.schema.field("age_ms").type == pa.int64()
    assert all(age >= 0 for age in fresh.column("age_ms").to_pylist())


@needs_server
def test_read_your_writes(client):
    before = client.consistency_token
    result = client.write("user_features", [{"user_id": 42, "segment": "first"}])
    assert result.consistency_token >= before and client.consistency_token == result.consistency_token
    assert client.get(["user_features:segment"], entities={"user_id": [42]}, format="dict")["segment"] == ["first"]
    client.write("user_features", [{"user_id": 42, "segment": "second"}])
    assert client.get(["user_features:segment"], entities={"user_id": [42]}, format="dict")["segment"] == ["second"]
    client.write("user_features", [{"user_id": 42, "segment": None}])
    cleared = client.get(["user_features:segment"], entities={"user_id": [42]}, format="dict")
    assert cleared["segment"] == [None] and cleared["segment__status"] == [2]


@needs_server
def test_errors_name_the_field(client):
    with pytest.raises(grpc.RpcError) as caught:
        client.get(["user_features:nope"], entities={"user_id": [1]})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "features[0]" in caught.value.details()
    with pytest.raises(ValueError, match=r"rows\[0\]\['ctr'\]: expected float"):
        client.write("user_features", [{"user_id": 1, "ctr": "high"}])


@needs_server
def test_deadline_and_receive_limit(client, written):
    with pytest.raises(grpc.RpcError) as caught:
        client.get(["user_features:ctr"], entities={"user_id": [1]}, deadline=0.000001)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with Client(TARGET, max_receive_bytes=200, retries=5) as small:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            small.get(ALL_FEATURES, entities={"user_id": list(range(50))})
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # A response over the receive limit is not retried: it would not fit next time either.
        assert time.monotonic() - started < 5


class _Failure(grpc.RpcError):
    def __init__(self, code, details="try later"):
        self._code = code
        self._details = details

    def code(self):
        return self._code

    def details(self):
        return self._details


def test_retries_with_backoff_on_unavailable_and_resource_exhausted():
    """The retry loop alone (no server): a fake method fails, then answers."""
    client = Client("127.0.0.1:1", retries=3, backoff=0.001, max_backoff=0.002)
    calls = []

    def flaky(request, timeout, metadata):
        calls.append(timeout)
        if len(calls) == 1:
            raise _Failure(grpc.StatusCode.UNAVAILABLE)
        if len(calls) == 2:
            raise _Failure(grpc.StatusCode.RESOURCE_EXHAUSTED)
        return "answer"

    assert client._call(flaky, None, 5.0) == "answer"
    assert len(calls) == 3 and all(t <= 5.0 for t in calls)

    def refused(request, timeout, metadata):
        calls.append(timeout)
        raise _Failure(grpc.StatusCode.INVALID_ARGUMENT)

    calls.clear()
    with pytest.raises(grpc.RpcError):
        client._call(refused, None, 5.0)
    assert len(calls) == 1

    def down(request, timeout, metadata):
        calls.append(timeout)
        raise _Failure(grpc.StatusCode.UNAVAILABLE)

    calls.clear()
    with pytest.raises(grpc.RpcError):
        client._call(down, None, 5.0)
    assert len(calls) == 4
    client.close()


def test_token_is_sent_as_bearer_metadata():
    client = Client("127.0.0.1:1", token="s3cret")
    seen = []
    client._call(lambda request, timeout, metadata: seen.append(metadata), None, 1.0)
    assert seen == [(("authorization", "Bearer s3cret"),)]
    client.close()


def test_vendored_stubs_match_the_protos():
    pytest.importorskip("grpc_tools")
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(__file__), "..", "generate_stubs.py")
    done = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
