"""The retry hint both services attach when a breaker is open."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

RETRY_AFTER_METADATA = "retry-after-ms"


def retry_trailers(code: grpc.StatusCode, message: str, retry_after: float) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata telling the caller when to retry: a google.rpc RetryInfo
    detail (read it with grpc_status.rpc_status.from_call) and `retry-after-ms`."""
    milliseconds = max(1, round(retry_after * 1000))
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(milliseconds)
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return (*rpc_status.to_status(status).trailing_metadata, (RETRY_AFTER_METADATA, str(milliseconds)))
