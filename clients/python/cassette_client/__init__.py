"""Cassette's Python client. See Client."""

from .client import DEFAULT_MAX_RECEIVE_BYTES, RETRIED_CODES, STATUS, Client, WriteResult

__all__ = ["Client", "WriteResult", "STATUS", "RETRIED_CODES", "DEFAULT_MAX_RECEIVE_BYTES"]
