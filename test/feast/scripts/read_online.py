"""Feast's own online read of the repository: FeatureStore.get_online_features, printed as JSON.

Usage: python read_online.py REPO_DIR REQUEST_JSON, the request being
{"features": ["view:feature", ...], "entity_rows": [{join key: value}, ...]}. Prints
{"feature_names": [...], "results": [{"values", "statuses", "event_ms"}]}, a value as plain
JSON (int64 and timestamps as decimal text, bytes as base64, lists as arrays, null for none).
"""

import base64
import json
import sys
import warnings

from feast import FeatureStore

warnings.simplefilter("ignore")


def plain(value):
    case = value.WhichOneof("val")
    if case is None or case == "null_val":
        return None
    inner = getattr(value, case)
    items = list(inner.val) if case.endswith("_list_val") else [inner]
    if case.startswith(("int64", "unix_timestamp")):
        items = [str(x) for x in items]
    elif case.startswith("bytes"):
        items = [base64.b64encode(x).decode() for x in items]
    return items if case.endswith("_list_val") else items[0]


repo, request_path = sys.argv[1], sys.argv[2]
request = json.load(open(request_path))
response = FeatureStore(repo_path=repo).get_online_features(
    features=request["features"], entity_rows=request["entity_rows"]
).proto
print(
    json.dumps(
        {
            "feature_names": list(response.metadata.feature_names.val),
            "results": [
                {
                    "values": [plain(v) for v in result.values],
                    "statuses": [int(s) for s in result.statuses],
                    "event_ms": [t.seconds * 1000 + t.nanos // 1_000_000 for t in result.event_timestamps],
                }
                for result in response.results
            ],
        }
    )
)
