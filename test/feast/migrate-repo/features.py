"""The Feast repository of test/e2e/feast-migrate.test.ts, defined the Feast way (the test
writes its feature_store.yaml and data; its helper scripts are in ../scripts).

Every value type Cassette shares with Feast, a composite key, a null feature, and what Cassette
cannot represent (a JSON feature, an on-demand view, a service using both), so the import has
something to list and the migration something to skip.
"""

from datetime import timedelta

import pandas as pd

from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, Json, String, UnixTimestamp

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="a shopper")
item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)

profile_source = FileSource(name="profile_source", path="data/profile.parquet", timestamp_field="event_timestamp")
affinity_source = FileSource(name="affinity_source", path="data/affinity.parquet", timestamp_field="event_timestamp")

user_profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[
        Field(name="age", dtype=Int32),
        Field(name="clicks", dtype=Int64),
        Field(name="score", dtype=Float64),
        Field(name="ratio", dtype=Float32),
        Field(name="nickname", dtype=String),
        Field(name="avatar", dtype=Bytes),
        Field(name="active", dtype=Bool),
        Field(name="signed_up", dtype=UnixTimestamp),
        Field(name="ages", dtype=Array(Int32)),
        Field(name="click_history", dtype=Array(Int64)),
        Field(name="scores", dtype=Array(Float64)),
        Field(name="embedding", dtype=Array(Float32)),
        Field(name="tags", dtype=Array(String)),
        Field(name="blobs", dtype=Array(Bytes)),
        Field(name="flags", dtype=Array(Bool)),
        Field(name="visits", dtype=Array(UnixTimestamp)),
        Field(name="prefs", dtype=Json),
    ],
    source=profile_source,
)

user_item = FeatureView(
    name="user_item",
    entities=[user, item],
    ttl=timedelta(days=30),
    schema=[Field(name="affinity", dtype=Float64), Field(name="seen", dtype=Int64)],
    source=affinity_source,
)

request = RequestSource(name="request", schema=[Field(name="boost", dtype=Float64)])


@on_demand_feature_view(sources=[user_profile, request], schema=[Field(name="boosted", dtype=Float64)])
def boosted_score(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["boosted"] = inputs["score"] * inputs["boost"]
    return out


ranking = FeatureService(name="ranking", features=[user_profile[["age", "score", "embedding"]], user_item])
everything = FeatureService(name="everything", features=[user_profile, user_item, boosted_score])
