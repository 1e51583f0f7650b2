"""The Feast SDK as a client of Cassette, run by test/e2e/feast-sdk.test.ts with Feast's own Python.

    python feast_client.py data REPO ANCHOR_SECONDS   writes the repo's parquet sources, event times before ANCHOR
    python feast_client.py run REPO REQUESTS_JSON      loads the sources into the online store, then prints, as a
                                                       JSON list, FeatureStore(REPO).get_online_features(...).to_dict()
                                                       for each request (each names "features" or "feature_service",
                                                       "entity_rows" and optionally "full_feature_names")

Loading is FeatureStore.write_to_online_store(view, its parquet source) for each view: with a remote
online store, `feast materialize` asks the server to read the offline store, and Cassette has none.
Both steps run in one process because importing Feast takes seconds.

The repo's feature_store.yaml points its online store at Cassette (type remote, CASSETTE_HTTP_URL).
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

# Ids beyond 2^53: a JSON reader that goes through doubles would turn them into other ids.
BIG_DRIVER = 9007199254740993


def write_data(repo: Path, anchor: datetime) -> None:
    data = repo / "data"
    data.mkdir(exist_ok=True)
    drivers = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, BIG_DRIVER],
            "conv_rate": pd.Series([0.5, 0.1, 0.25, 0.75], dtype="float32"),
            "acc_rate": [0.91, 0.33, 1e-9, 0.5],
            "trips": [10, 2**40, 0, 7],
            "rating": pd.Series([5, 4, 3, 1], dtype="int32"),
            "active": [True, False, True, True],
            "city": ["Lisbon", "Zürich", None, "Oslo"],
            # No empty list: the SDK's remote client infers a value's type from its JSON and fails on [].
            "embedding": [[0.1, 0.2], [1.5], None, [0.0, -2.25, 3.0]],
            "event_timestamp": [anchor - timedelta(hours=h) for h in (1, 2, 3, 4)],
            "created": [anchor] * 4,
        }
    )
    drivers["embedding"] = drivers["embedding"].apply(lambda v: None if v is None else [float(x) for x in v])
    drivers.to_parquet(data / "driver_stats.parquet")
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "segment": ["gold", "new"],
            "lifetime_value": [1234.5, 0.0],
            "tags": [["a", "b"], None],
            "event_timestamp": [anchor - timedelta(minutes=30), anchor - timedelta(days=1)],
        }
    )
    customers.to_parquet(data / "customer_profile.parquet")


def load(store) -> None:
    for view in ("driver_stats", "customer_profile"):
        store.write_to_online_store(view, pd.read_parquet(Path(store.repo_path) / "data" / f"{view}.parquet"))


def get_online_features(store, request: dict) -> dict:
    features = (
        store.get_feature_service(request["feature_service"]) if "feature_service" in request else request["features"]
    )
    response = store.get_online_features(
        features=features,
        entity_rows=request["entity_rows"],
        full_feature_names=request.get("full_feature_names", False),
    )
    return response.to_dict()


def run(repo: Path, requests: list) -> list:
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    load(store)
    return [get_online_features(store, request) for request in requests]


def main() -> None:
    command, repo = sys.argv[1], Path(sys.argv[2])
    if command == "data":
        write_data(repo, datetime.fromtimestamp(int(sys.argv[3]), tz=timezone.utc))
    elif command == "run":
        print(json.dumps(run(repo, json.loads(sys.argv[3]))))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
