"""gRPC server wiring shared by both services: limits, health, reflection, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import AsyncIterator, Iterable, Sequence

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger(__name__)

# 64 MiB: a 16 MiB tool result plus its JSON escaping fits with room to spare.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

# Probes poll every few seconds; this pause lets them see NOT_SERVING before
# the port closes.
HEALTH_DRAIN_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class ServerLimits:
    """Message size limits applied to a server and to the channels that call it."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # What a server accepts from its callers; 0 means the same as max_message_bytes.
    max_request_bytes: int = 0

    def options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]

    def server_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", self.max_request_bytes or self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]


def split_host_port(address: str) -> tuple[str, int]:
    """Split HOST:PORT (or [IPv6]:PORT) and raise ValueError naming what is wrong."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise ValueError(f"invalid address {address!r}: expected HOST:PORT, for example 127.0.0.1:50051")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"invalid port in {address!r}: expected a number from 0 to 65535")
    return host.strip("[]"), int(port_text)


class ServiceHost:
    """Owns one grpc.aio server together with its health and reflection services."""

    def __init__(
        self,
        listen: str,
        limits: ServerLimits,
        service_names: Iterable[str],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        split_host_port(listen)
        self.listen = listen
        self.server = grpc.aio.server(options=limits.server_options(), interceptors=list(interceptors))
        self.health = health.aio.HealthServicer()
        self.port = 0
        self._service_names = list(service_names)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )

    def add_service(self, servicer: object, service: ServiceDescriptor) -> None:
        """Serve `servicer`'s methods for `service`, answering undecodable requests with INVALID_ARGUMENT.

        The generated add_*_to_server functions let a request that fails to
        decode (corrupt bytes, invalid UTF-8 in a string field) end as INTERNAL
        with no detail; this registration names the problem instead.
        """
        handlers = {method.name: _method_handler(servicer, method) for method in service.methods}
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))

    async def start(self, credentials: grpc.ServerCredentials | None = None) -> None:
        """Bind the listen address (with TLS when `credentials` is given) and start serving.

        Raises OSError if it cannot bind.
        """
        try:
            if credentials is not None:
                self.port = self.server.add_secure_port(self.listen, credentials)
            else:
                self.port = self.server.add_insecure_port(self.listen)
        except RuntimeError as error:
            raise OSError(f"cannot listen on {self.listen}: {error}; is another process using the port?") from error
        if self.port == 0:
            raise OSError(f"cannot listen on {self.listen}: the address is in use or not available")
        await self.server.start()
        log.info("listening address=%s port=%s tls=%s", self.listen, self.port, credentials is not None)

    async def set_serving(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        await self.health.set(service, status)

    async def shut_down(self, grace: float) -> None:
        """Mark every service NOT_SERVING, give in-flight calls `grace` seconds, then stop."""
        await self.health.enter_graceful_shutdown()
        await asyncio.sleep(HEALTH_DRAIN_PAUSE_SECONDS)
        await self.server.stop(grace)
        log.info("stopped address=%s", self.listen)


def install_stop_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


class _UndecodableRequest:
    """Stands in for a request whose bytes did not decode, so the handler can reject it."""

    def __init__(self, message: str) -> None:
        self.message = message


def _method_handler(servicer: object, method: MethodDescriptor) -> grpc.RpcMethodHandler:
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    behavior = getattr(servicer, method.name)

    def deserialize(data: bytes) -> object:
        try:
            return request_class.FromString(data)
        except DecodeError as error:
            return _UndecodableRequest(f"invalid request: {error}")

    if method.client_streaming:
        raise NotImplementedError(f"{method.full_name}: client-streaming methods are not supported")

    if method.server_streaming:

        async def stream(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
            if isinstance(request, _UndecodableRequest):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            async for response in behavior(request, context):
                yield response

        return grpc.unary_stream_rpc_method_handler(stream, request_deserializer=deserialize, response_serializer=response_class.SerializeToString)

    async def unary(request: object, context: grpc.aio.ServicerContext) -> object:
        if isinstance(request, _UndecodableRequest):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await behavior(request, context)

    return grpc.unary_unary_rpc_method_handler(unary, request_deserializer=deserialize, response_serializer=response_class.SerializeToString)
