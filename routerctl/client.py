"""RouterService over one gRPC channel, with a deadline on every call and one translation of status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

import grpc

from mcp_router.v1 import enhancer_pb2, router_pb2, router_pb2_grpc

from .connection import TARGET_ENV, TOKEN_ENV, RouterConnection
from .errors import (
    AlreadyExists,
    CommandError,
    DeadlineExceeded,
    Denied,
    NotFound,
    RouterUnreachable,
    Unimplemented,
    UsageError,
)

# Status codes whose router message names the server, tool or value at fault, so it is shown as is.
_ERRORS: dict[grpc.StatusCode, type[CommandError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: UsageError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
}
# Codes that a channel reports by itself when it has no connection to the router.
_CONNECTION_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class RouterClient:
    """A RouterService stub whose calls raise CommandError subclasses instead of gRPC errors.

    `timeout` is the deadline in seconds of each call, and None means no deadline. The
    channel opens when the client is entered with `async with`.
    """

    def __init__(self, connection: RouterConnection, timeout: float | None) -> None:
        self.connection = connection
        self.target = connection.target
        self.timeout = timeout
        self._metadata = connection.metadata
        self._channel: grpc.aio.Channel | None = None
        self._stub: router_pb2_grpc.RouterServiceStub | None = None

    async def __aenter__(self) -> RouterClient:
        self._channel = await self.connection.open_channel()
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._channel is not None:
            await self._channel.close()

    def error(self, rpc: str, error: grpc.aio.AioRpcError) -> CommandError:
        """Translate a failed RPC into the CommandError that carries its exit code."""
        code = error.code()
        details = (error.details() or "").strip() or code.name
        # The router itself returns UNAVAILABLE for a stopped server, so only a
        # channel that is not connected means that the router is out of reach.
        if code in _CONNECTION_CODES and self._channel.get_state() is not grpc.ChannelConnectivity.READY:
            return RouterUnreachable(
                f"cannot reach the router at {self.target} ({details}). Check that router-service runs there, "
                f"or pass --target or set {TARGET_ENV}"
            )
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            limit = f" of {self.timeout:g}s (--timeout)" if self.timeout is not None else ""
            return DeadlineExceeded(f"{rpc} did not finish within its deadline{limit}: {details}")
        if code is grpc.StatusCode.UNAUTHENTICATED:
            return Denied(f"{rpc} was rejected: {code.name}: {details}. Pass --token-file FILE or set {TOKEN_ENV}")
        if code is grpc.StatusCode.PERMISSION_DENIED:
            return Denied(f"{rpc} was rejected: {code.name}: {details}")
        if code is grpc.StatusCode.UNIMPLEMENTED:
            return Unimplemented(f"the router at {self.target} does not implement {rpc} ({details}), because it is older than this routerctl")
        if code in _ERRORS:
            return _ERRORS[code](details)
        return CommandError(f"{rpc} failed: {code.name}: {details}")

    async def _unary(self, rpc: str, request):
        method = getattr(self._stub, rpc)
        try:
            return await method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise self.error(rpc, error) from None

    # Servers

    async def list_servers(self) -> list[router_pb2.Server]:
        reply = await self._unary("ListServers", router_pb2.ListServersRequest())
        return list(reply.servers)

    async def get_server(self, name: str) -> router_pb2.Server:
        return await self._unary("GetServer", router_pb2.GetServerRequest(name=name))

    async def start_server(self, name: str) -> router_pb2.Server:
        return await self._unary("StartServer", router_pb2.StartServerRequest(name=name))

    async def stop_server(self, name: str) -> router_pb2.Server:
        return await self._unary("StopServer", router_pb2.StopServerRequest(name=name))

    async def restart_server(self, name: str) -> router_pb2.Server:
        return await self._unary("RestartServer", router_pb2.RestartServerRequest(name=name))

    async def add_server(self, name: str, config_json: str) -> router_pb2.Server:
        return await self._unary("AddServer", router_pb2.AddServerRequest(name=name, config_json=config_json))

    async def update_server(self, name: str, config_json: str) -> router_pb2.Server:
        return await self._unary("UpdateServer", router_pb2.UpdateServerRequest(name=name, config_json=config_json))

    async def remove_server(self, name: str) -> router_pb2.RemoveServerResponse:
        return await self._unary("RemoveServer", router_pb2.RemoveServerRequest(name=name))

    async def reset_breakers(self, name: str) -> list[router_pb2.Server]:
        reply = await self._unary("ResetBreakers", router_pb2.ResetBreakersRequest(name=name))
        return list(reply.servers)

    # Tools

    async def list_tools(self, server: str = "") -> list[router_pb2.Tool]:
        reply = await self._unary("ListTools", router_pb2.ListToolsRequest(server=server))
        return list(reply.tools)

    async def call_tool_stream(self, request: router_pb2.CallToolRequest) -> AsyncIterator[router_pb2.CallToolEvent]:
        """Yield the call's progress and log events, then the event that carries the result."""
        call = self._stub.CallToolStream(request, timeout=self.timeout, metadata=self._metadata)
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as error:
            raise self.error("CallToolStream", error) from None
        finally:
            # A consumer that stops early cancels the call, and the router cancels it upstream.
            call.cancel()

    async def forward(self, server: str, request_json: str) -> str:
        reply = await self._unary("Forward", router_pb2.ForwardRequest(server=server, request_json=request_json))
        return reply.response_json

    # Operations

    async def get_stats(self) -> router_pb2.RouterStats:
        return await self._unary("GetStats", router_pb2.GetRouterStatsRequest())

    async def enhance(self, request: enhancer_pb2.EnhanceRequest) -> enhancer_pb2.EnhanceResponse:
        return await self._unary("Enhance", request)

    async def clear_enhancer_cache(self) -> enhancer_pb2.ClearCacheResponse:
        return await self._unary("ClearEnhancerCache", enhancer_pb2.ClearCacheRequest())

    async def watch_events(self, request: router_pb2.WatchEventsRequest, timeout: float | None) -> AsyncIterator[router_pb2.RouterEvent]:
        """Yield router events until `timeout` seconds pass, or without a timeout until the caller stops or the router ends the stream.

        Reaching `timeout` ends the iteration normally, because it is the watch's planned length.
        """
        call = self._stub.WatchEvents(request, timeout=timeout, metadata=self._metadata)
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as error:
            planned_end = timeout is not None and error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            if not planned_end or self._channel.get_state() is not grpc.ChannelConnectivity.READY:
                raise self.error("WatchEvents", error) from None
        finally:
            call.cancel()
