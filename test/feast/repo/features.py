"""Feature definitions of the Feast repo the Feast SDK test serves through Cassette.

test/feast/registry.yaml is the same registry written for Cassette (`cassette apply`).
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

driver_stats_source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

customer_profile_source = FileSource(
    name="customer_profile_source",
    path="data/customer_profile.parquet",
    timestamp_field="event_timestamp",
)

driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float64),
        Field(name="trips", dtype=Int64),
        Field(name="rating", dtype=Int32),
        Field(name="active", dtype=Bool),
        Field(name="city", dtype=String),
        Field(name="embedding", dtype=Array(Float32)),
    ],
    source=driver_stats_source,
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="customer_id", dtype=String),
        Field(name="segment", dtype=String),
        Field(name="lifetime_value", dtype=Float64),
        Field(name="tags", dtype=Array(String)),
    ],
    source=customer_profile_source,
)

driver_ranking = FeatureService(
    name="driver_ranking",
    features=[driver_stats[["conv_rate", "trips"]], customer_profile[["segment"]]],
)
