"""Cassette's Python client: feature lookups as Arrow (pandas, NumPy or dict), and writes."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, Union

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute
import pyarrow.ipc

from ._proto.cassette.v1 import (
    ingestion_pb2,
    ingestion_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    serving_pb2,
    serving_pb2_grpc,
)
from ._values import entity_value, feature_value, timestamp_of

DEFAULT_MAX_RECEIVE_BYTES = 16 * 1024 * 1024
"""Responses up to 16 MiB by default (grpcio's own default is 4 MiB)."""

RETRIED_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
"""Codes a call is retried on: the server or Cassandra could not serve now, or the server was at its
limit of work in flight. Reads are always safe to retry; so are writes (a write's timestamp is its
event time, so writing a row again changes nothing)."""

STATUS = {1: "PRESENT", 2: "NULL_VALUE", 3: "NOT_FOUND", 4: "OUTSIDE_MAX_AGE"}
"""The values of a `<feature>__status` column (cassette.v1.FieldStatus)."""

T = TypeVar("T")


@dataclass(frozen=True)
class WriteResult:
    rows_written: int
    rows_expired: int
    consistency_token: int


class Client:
    """A connection to one Cassette server (or a load balancer in front of several).

    - ``tls``: ``True`` for TLS with the system's roots, or ``grpc.ChannelCredentials``;
      ``root_certificates`` (PEM bytes) for a private CA.
    - ``token``: sent as ``authorization: Bearer <token>`` on every call.
    - ``deadline``: seconds per call, retries included (a call may override it).
    - ``retries``: further attempts on UNAVAILABLE and RESOURCE_EXHAUSTED, with jittered
      exponential backoff from ``backoff`` seconds up to ``max_backoff``, never past the deadline.
    - ``read_your_writes``: reads send the newest consistency token of this client's writes, so
      they never see data older than those writes (the server reads a cached row again if needed).
    """

    def __init__(
        self,
        target: str,
        *,
        tls: Union[bool, grpc.ChannelCredentials] = False,
        root_certificates: Optional[bytes] = None,
        token: Optional[str] = None,
        deadline: float = 5.0,
        retries: int = 3,
        backoff: float = 0.05,
        max_backoff: float = 1.0,
        max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES,
        read_your_writes: bool = True,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_receive_bytes),
            # Retries are this client's own (below), with its backoff and deadline.
            ("grpc.enable_retries", 0),
        ]
        if tls is False and root_certificates is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            credentials = (
                tls
                if isinstance(tls, grpc.ChannelCredentials)
                else grpc.ssl_channel_credentials(root_certificates=root_certificates)
            )
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._serving = serving_pb2_grpc.FeatureServingStub(self._channel)
        self._ingestion = ingestion_pb2_grpc.FeatureIngestionStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.read_your_writes = read_your_writes
        self._lock = threading.Lock()
        self._token = 0
        self._views: Optional[dict[str, Any]] = None
        self._key_types: Optional[dict[str, str]] = None

    # -- lifecycle

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def consistency_token(self) -> int:
        """The newest consistency token of this client's writes (0 before any)."""
        return self._token

    def observe_token(self, token: int) -> None:
        """Takes a token from elsewhere (another client's write) for this client's reads."""
        with self._lock:
            self._token = max(self._token, int(token))

    # -- reads

    def get_table(
        self,
        features: Optional[Sequence[str]] = None,
        *,
        service: Optional[str] = None,
        entities: Mapping[str, Iterable[Any]],
        full_feature_names: bool = False,
        row_event_times: bool = False,
        include_freshness: bool = False,
        deadline: Optional[float] = None,
    ) -> pa.Table:
        """The lookup as a pyarrow Table: join keys, then per feature its value, ``__status`` and
        ``__event_time`` columns (see the README's "Arrow response and the Python client")."""
        if (features is None) == (service is None):
            raise ValueError("give either features or service")
        request = serving_pb2.GetOnlineFeaturesRequest(
            full_feature_names=full_feature_names,
            row_event_times=row_event_times,
            include_freshness=include_freshness,
        )
        if service is not None:
            request.feature_service = service
        else:
            request.features.val.extend(features or [])
        key_types = self._entity_types()
        for join_key, column in entities.items():
            key_type = key_types.get(join_key)
            if key_type is None:
                raise ValueError(f"entities: unknown join key {join_key!r}")
            values = request.entities[join_key].val
            for value in _python_values(column):
                values.append(entity_value(key_type, value))
        token = self._token if self.read_your_writes else 0
        if token:
            request.min_write_time = token
        response = self._call(self._serving.GetOnlineFeaturesArrow, request, deadline)
        return pa.ipc.open_stream(response.ipc_stream).read_all()

    def get(
        self,
        features: Optional[Sequence[str]] = None,
        *,
        service: Optional[str] = None,
        entities: Mapping[str, Iterable[Any]],
        format: str = "pandas",
        **options: Any,
    ) -> Any:
        """Looks features up for a batch of entity rows (``entities``: join key -> column).

        ``format``: ``"pandas"`` (a DataFrame), ``"numpy"`` (column name -> ndarray; a list feature
        becomes a 2-D array when its lists all have one length, else an object array), ``"dict"``
        (column name -> list of Python values), or ``"arrow"`` (the pyarrow Table).
        """
        table = self.get_table(features, service=service, entities=entities, **options)
        if format == "arrow":
            return table
        if format == "pandas":
            return table.to_pandas()
        if format == "dict":
            return table.to_pydict()
        if format == "numpy":
            return numpy_columns(table)
        raise ValueError(f"format: expected pandas, numpy, dict or arrow, got {format!r}")

    # -- writes

    def write(
        self,
        view: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        event_time: Any = None,
        deadline: Optional[float] = None,
    ) -> WriteResult:
        """Writes rows of feature view ``view``: each row maps its join keys and some of its features
        to values (None clears a feature), and may hold ``event_timestamp`` (a datetime, or seconds
        since the epoch; default ``event_time``, else now). Values are typed by the view's declared
        types, which the client reads from the server's registry once."""
        spec = self._view(view)
        key_types = {e.join_key: e.type for e in spec.entities}
        feature_types = {f.name: f.type for f in spec.features}
        request = ingestion_pb2.WriteFeaturesRequest(feature_view=view)
        for index, row in enumerate(rows):
            message = request.rows.add()
            for name, value in row.items():
                where = f"rows[{index}][{name!r}]"
                if name == "event_timestamp":
                    message.event_timestamp.CopyFrom(timestamp_of(value, where))
                elif name in key_types:
                    message.entity_keys[name].CopyFrom(entity_value(key_types[name], value, where))
                elif name in feature_types:
                    message.features[name].CopyFrom(feature_value(feature_types[name], value, where))
                else:
                    raise ValueError(f"{where}: feature view {view!r} has no join key or feature {name!r}")
            if not message.HasField("event_timestamp") and event_time is not None:
                message.event_timestamp.CopyFrom(timestamp_of(event_time, f"rows[{index}].event_timestamp"))
        response = self._call(self._ingestion.WriteFeatures, request, deadline)
        self.observe_token(response.consistency_token)
        return WriteResult(response.rows_written, response.rows_expired, response.consistency_token)

    # -- the registry, read once for value types

    def refresh_registry(self) -> None:
        """Reads the feature views' definitions again (after a `cassette apply` changed them)."""
        listing = self._call(self._registry.ListFeatureViews, registry_pb2.ListFeatureViewsRequest(), None)
        self._views = {view.name: view for view in listing.feature_views}
        self._key_types = {e.join_key: e.type for view in listing.feature_views for e in view.entities}

    def _view(self, name: str) -> Any:
        if self._views is None or name not in self._views:
            self.refresh_registry()
        assert self._views is not None
        if name not in self._views:
            raise ValueError(f"unknown feature view {name!r}")
        return self._views[name]

    def _entity_types(self) -> dict[str, str]:
        if self._key_types is None:
            self.refresh_registry()
        assert self._key_types is not None
        return self._key_types

    # -- calls

    def _call(self, method: Callable[..., T], request: Any, deadline: Optional[float]) -> T:
        budget = self.deadline if deadline is None else deadline
        end = time.monotonic() + budget
        pause = self.backoff
        attempt = 0
        while True:
            remaining = end - time.monotonic()
            try:
                return method(request, timeout=max(remaining, 0.001), metadata=self._metadata)
            except grpc.RpcError as error:
                code = error.code() if hasattr(error, "code") else None
                attempt += 1
                if code not in RETRIED_CODES or attempt > self.retries or _too_large(error):
                    raise
                # Full jitter: a fleet of clients retrying together spreads out.
                sleep = random.uniform(0, pause)
                if time.monotonic() + sleep >= end:
                    raise
                time.sleep(sleep)
                pause = min(pause * 2, self.max_backoff)


def _too_large(error: grpc.RpcError) -> bool:
    """A response over this client's receive limit (RESOURCE_EXHAUSTED too): retrying cannot help."""
    details = error.details() if hasattr(error, "details") else ""
    return "larger than max" in (details or "")


def _python_values(column: Iterable[Any]) -> Iterable[Any]:
    """A column of entity keys as Python values (NumPy and pandas columns too)."""
    to_list = getattr(column, "tolist", None)
    return to_list() if callable(to_list) else column


def numpy_columns(table: pa.Table) -> dict[str, Any]:
    """Column name -> NumPy array; a list column whose lists all have one length (an embedding)
    becomes one 2-D array over the flat values. The response is one record batch, so each column
    is one array and converts without concatenating chunks."""
    batches = table.to_batches()
    if len(batches) != 1:
        return {name: _numpy_column(table.column(name)) for name in table.column_names}
    batch = batches[0]
    rows = batch.num_rows
    arrays = {}
    for name, array in zip(batch.schema.names, batch.columns):
        if isinstance(array, pa.ListArray) and array.null_count == 0 and rows > 0:
            offsets = array.offsets.to_numpy()
            width = int(offsets[1] - offsets[0])
            if offsets[-1] - offsets[0] == width * rows and (np.diff(offsets) == width).all():
                flat = array.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
                arrays[name] = flat.reshape(rows, width)
                continue
        arrays[name] = array.to_numpy(zero_copy_only=False)
    return arrays


def _numpy_column(column: pa.ChunkedArray) -> Any:
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_list(array.type) and array.null_count == 0 and len(array) > 0:
        lengths = pyarrow.compute.list_value_length(array).to_numpy()
        if (lengths == lengths[0]).all():
            # Fixed-length lists (embeddings): one 2-D array over the flat values, no copy per row.
            flat = array.flatten().to_numpy(zero_copy_only=False)
            return flat.reshape(len(array), int(lengths[0]))
    return array.to_numpy(zero_copy_only=False)
