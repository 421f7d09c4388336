"""RouterService over gRPC: protobuf in, domain calls, protobuf or a status code out."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from datetime import datetime
from typing import Any, AsyncIterator

import grpc

from mcp_router.auth import Authenticator, Role
from mcp_router.breaker import BreakerState
from mcp_router.retry_hint import retry_trailers
from mcp_router.v1 import enhancer_pb2, router_pb2, router_pb2_grpc

from . import jsonrpc
from .errors import (
    AmbiguousTool,
    EnhancerFailed,
    EnhancerNotConfigured,
    ManagementDisabled,
    InvalidArguments,
    InvalidRequest,
    LimitExceeded,
    MessageTooLarge,
    RouterError,
    ServerExists,
    ServerNotFound,
    ServerUnavailable,
    StartupFailed,
    ToolNotFound,
    UpstreamError,
    UpstreamTimeout,
)
from . import events
from .enhancer_link import CLIENT_METADATA_KEY, EnhancementReport
from .events import RouterEvent
from .router import CallResult, Router
from .supervisor import ServerState, ServerSupervisor

log = logging.getLogger(__name__)

SERVICE_DESCRIPTOR = router_pb2.DESCRIPTOR.services_by_name["RouterService"]
SERVICE_NAME = SERVICE_DESCRIPTOR.full_name
_CLIENT_METHODS = ("ListServers", "GetServer", "ListTools", "CallTool", "CallToolStream", "Forward", "Enhance", "GetStats", "WatchEvents")
# Methods a client token may call when tokens are configured; every other method needs an admin token.
METHOD_ROLES: dict[str, Role] = {f"/{SERVICE_NAME}/{method}": Role.CLIENT for method in _CLIENT_METHODS}
SERVER_HEALTH_PREFIX = "mcp_router.server."
REDACTED = "<redacted>"
# gRPC reports "no deadline" as a time far in the future.
NO_DEADLINE_SECONDS = 10**8

# The one place where router errors become gRPC status codes; the README lists it too.
STATUS_CODES: dict[type[RouterError], grpc.StatusCode] = {
    ServerNotFound: grpc.StatusCode.NOT_FOUND,
    ToolNotFound: grpc.StatusCode.NOT_FOUND,
    AmbiguousTool: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidArguments: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    ServerUnavailable: grpc.StatusCode.UNAVAILABLE,
    StartupFailed: grpc.StatusCode.UNAVAILABLE,
    UpstreamTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    MessageTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UpstreamError: grpc.StatusCode.INTERNAL,
    EnhancerNotConfigured: grpc.StatusCode.FAILED_PRECONDITION,
    ServerExists: grpc.StatusCode.ALREADY_EXISTS,
    ManagementDisabled: grpc.StatusCode.PERMISSION_DENIED,
    # EnhancerFailed carries the enhancer's own status code, passed through.
}
# JSON-RPC error codes from a server that mean the caller's request was at fault.
UPSTREAM_ERROR_CODES = {
    jsonrpc.INVALID_PARAMS: grpc.StatusCode.INVALID_ARGUMENT,
    jsonrpc.METHOD_NOT_FOUND: grpc.StatusCode.UNIMPLEMENTED,
}

_STATES = {state: router_pb2.ServerState.Value(state.value) for state in ServerState}
_BREAKER_STATES = {state: router_pb2.BreakerState.Value(state.value) for state in BreakerState}


def status_code(error: RouterError) -> grpc.StatusCode:
    if isinstance(error, EnhancerFailed) and isinstance(error.code, grpc.StatusCode):
        return error.code
    if isinstance(error, UpstreamError):
        return UPSTREAM_ERROR_CODES.get(error.code, grpc.StatusCode.INTERNAL)
    for kind in type(error).__mro__:
        if kind in STATUS_CODES:
            return STATUS_CODES[kind]
    return grpc.StatusCode.INTERNAL


async def abort(context: grpc.aio.ServicerContext, error: RouterError) -> None:
    """End the RPC with the status code for `error`, its message and any retry hint."""
    code = status_code(error)
    message = str(error)
    trailing: list[tuple[str, str | bytes]] = []
    if isinstance(error, ServerUnavailable) and error.retry_after is not None:
        trailing.extend(retry_trailers(code, message, error.retry_after))
    if isinstance(error, UpstreamError):
        trailing.append(("mcp-error-bin", error.error_json.encode("utf-8")))
    log.info("rpc failed code=%s error=%s", code.name, message.splitlines()[0])
    await context.abort(code, message, tuple(trailing))


def time_remaining(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE_SECONDS:
        return None
    return remaining


def server_message(supervisor: ServerSupervisor) -> router_pb2.Server:
    session = supervisor.session
    info = session.initialize_result if session is not None else None
    process = supervisor.process
    message = router_pb2.Server(
        name=supervisor.name,
        state=_STATES[supervisor.state],
        pid=process.pid if process is not None else 0,
        restarts=supervisor.restarts,
        last_restart_reason=supervisor.last_restart_reason,
        last_error=supervisor.last_error,
        stderr_tail=(process.stderr.text() if process is not None else supervisor.last_stderr)[-8000:],
        protocol_version=info.protocol_version if info else "",
        server_info_json=info.server_info_json if info else "",
        tool_count=supervisor.catalogue.count(supervisor.name),
        consecutive_failures=supervisor.consecutive_failures,
        uptime_seconds=time.monotonic() - supervisor.running_since if supervisor.running_since else 0.0,
        breaker=_BREAKER_STATES[supervisor.breaker.state],
        noise_lines=session.counters.noise_lines if session is not None else 0,
        command=" ".join(supervisor.config.argv),
        degraded=supervisor.degraded,
        env={key: REDACTED for key in supervisor.config.env},
    )
    if supervisor.last_exit_code is not None:
        message.last_exit_code = supervisor.last_exit_code
    return message


def call_response(result: CallResult) -> router_pb2.CallToolResponse:
    response = router_pb2.CallToolResponse(
        result_json=result.result_json,
        is_error=result.is_error,
        server=result.server,
        tool=result.tool,
        elapsed_ms=result.elapsed_ms,
        timeout_ms=result.timeout_ms,
    )
    if result.enhancement is not None:
        response.enhancement.CopyFrom(enhancement_message(result.enhancement))
    return response


def enhancement_message(report: EnhancementReport) -> router_pb2.Enhancement:
    return router_pb2.Enhancement(
        applied=report.applied,
        reason=report.reason,
        detail=report.detail,
        elapsed_ms=report.elapsed_ms,
        arguments=[
            router_pb2.EnhancedArgument(name=item.name, applied=item.applied, reason=item.reason, detail=item.detail, cached=item.cached)
            for item in report.arguments
        ],
    )


def client_name(request_client: str, context: grpc.aio.ServicerContext) -> str:
    """Return the request's client, else the `x-client-name` metadata, else ''."""
    if request_client:
        return request_client
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_METADATA_KEY and isinstance(value, str):
            return value
    return ""


def progress_event(params: dict[str, Any]) -> router_pb2.CallToolEvent:
    progress = router_pb2.Progress(message=str(params.get("message", "")))
    if isinstance(params.get("progress"), (int, float)):
        progress.progress = float(params["progress"])
    if isinstance(params.get("total"), (int, float)):
        progress.total = float(params["total"])
    return router_pb2.CallToolEvent(progress=progress)


def log_event(params: dict[str, Any]) -> router_pb2.CallToolEvent:
    return router_pb2.CallToolEvent(
        log=router_pb2.LogMessage(
            level=str(params.get("level", "")),
            logger=str(params.get("logger", "")),
            data_json=jsonrpc.dumps(params.get("data")),
        )
    )


class _CallRecord:
    """The outcome of one call, filled in as the call goes."""

    def __init__(self, server: str, context: grpc.aio.ServicerContext) -> None:
        self.server = server
        self.status = "OK"
        self._context = context

    def fail(self, error: RouterError) -> None:
        self.status = status_code(error).name

    def cancelled(self) -> None:
        # gRPC cancels the handler both when the caller hangs up and when its deadline passes.
        remaining = self._context.time_remaining()
        self.status = "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router, authenticator: Authenticator | None = None) -> None:
        self.router = router
        self.authenticator = authenticator or Authenticator(())
        self._client_calls: collections.Counter[str] = collections.Counter()

    async def ListServers(self, request, context):
        return router_pb2.ListServersResponse(servers=[server_message(s) for s in self.router.supervisors.values()])

    async def GetServer(self, request, context):
        try:
            return server_message(self.router.server(request.name))
        except RouterError as error:
            await abort(context, error)

    async def StartServer(self, request, context):
        supervisor = await self._supervisor(request.name, context)
        await supervisor.start()
        await supervisor.wait_settled(_settle_time(supervisor, context))
        return server_message(supervisor)

    async def StopServer(self, request, context):
        supervisor = await self._supervisor(request.name, context)
        await supervisor.stop()
        return server_message(supervisor)

    async def RestartServer(self, request, context):
        supervisor = await self._supervisor(request.name, context)
        await supervisor.restart()
        await supervisor.wait_settled(_settle_time(supervisor, context))
        return server_message(supervisor)

    async def _supervisor(self, name: str, context: grpc.aio.ServicerContext) -> ServerSupervisor:
        """Return the named server's supervisor, or end the RPC with NOT_FOUND."""
        try:
            return self.router.server(name)
        except RouterError as error:
            await abort(context, error)
            raise

    async def ListTools(self, request, context):
        try:
            tools = self.router.list_tools(request.server)
        except RouterError as error:
            await abort(context, error)
        return router_pb2.ListToolsResponse(
            tools=[
                router_pb2.Tool(
                    server=tool.server,
                    name=tool.name,
                    qualified_name=tool.qualified_name,
                    description=tool.description,
                    input_schema_json=tool.input_schema_json,
                    tool_json=tool.tool_json,
                )
                for tool in tools
            ]
        )

    async def CallTool(self, request, context):
        client = client_name(request.client, context)
        async with self._recording(request.server, request.tool, client, context) as record:
            try:
                result = await self.router.call_tool(
                    request.server,
                    request.tool,
                    request.arguments_json,
                    time_remaining(context),
                    enhance=request.enhance,
                    client=client,
                )
            except RouterError as error:
                record.fail(error)
                await abort(context, error)
            record.server = result.server
        return call_response(result)

    async def CallToolStream(self, request, context) -> AsyncIterator[router_pb2.CallToolEvent]:
        client = client_name(request.client, context)
        async with self._recording(request.server, request.tool, client, context) as record:
            async for event in self._stream_call(request, context, client, record):
                yield event

    async def _stream_call(self, request, context, client: str, record: "_CallRecord") -> AsyncIterator[router_pb2.CallToolEvent]:
        events: asyncio.Queue[router_pb2.CallToolEvent] = asyncio.Queue()
        call = asyncio.create_task(
            self.router.call_tool(
                request.server,
                request.tool,
                request.arguments_json,
                time_remaining(context),
                progress=lambda params: events.put_nowait(progress_event(params)),
                on_log=lambda params: events.put_nowait(log_event(params)),
                enhance=request.enhance,
                client=client,
            )
        )
        try:
            while not call.done():
                next_event = asyncio.ensure_future(events.get())
                await asyncio.wait({call, next_event}, return_when=asyncio.FIRST_COMPLETED)
                if next_event.done():
                    yield next_event.result()
                else:
                    next_event.cancel()
            while not events.empty():
                yield events.get_nowait()
            try:
                result = call.result()
            except RouterError as error:
                record.fail(error)
                await abort(context, error)
                return
            record.server = result.server
            yield router_pb2.CallToolEvent(result=call_response(result))
        finally:
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)

    async def Forward(self, request, context):
        async with self._recording(request.server, "forward", client_name("", context), context) as record:
            try:
                response = await self.router.forward(request.server, request.request_json, time_remaining(context))
            except RouterError as error:
                record.fail(error)
                await abort(context, error)
        return router_pb2.ForwardResponse(response_json=response)

    @contextlib.asynccontextmanager
    async def _recording(self, server: str, tool: str, client: str, context: grpc.aio.ServicerContext) -> AsyncIterator["_CallRecord"]:
        """Admit the call under the caller's in-flight limit and record it in the stats when it ends."""
        record = _CallRecord(server or self._qualifier(tool), context)
        started = time.perf_counter()
        caller = self._caller(client, context)
        if self._client_calls[caller] >= self.router.config.max_in_flight_per_client:
            record.status = grpc.StatusCode.RESOURCE_EXHAUSTED.name
            self.router.stats.record("", tool, client, record.status, 0.0)
            limit = LimitExceeded(f"caller '{caller[:100]}' has {self._client_calls[caller]} calls in flight, its maxInFlightPerClient; retry later")
            await abort(context, limit)
        self._client_calls[caller] += 1
        try:
            yield record
        except asyncio.CancelledError:
            record.cancelled()
            raise
        finally:
            self._client_calls[caller] -= 1
            if not self._client_calls[caller]:
                del self._client_calls[caller]
            self.router.stats.record(
                record.server if record.server in self.router.supervisors else "", tool, client, record.status, (time.perf_counter() - started) * 1000
            )

    def _caller(self, client: str, context: grpc.aio.ServicerContext) -> str:
        """Who the call counts against: its token, else its client name, else its connection."""
        if self.authenticator.enabled:
            token = self.authenticator.identify(context.invocation_metadata())
            if token is not None:
                return f"token:{token.name}"
        return f"client:{client}" if client else f"peer:{context.peer()}"

    def _qualifier(self, tool: str) -> str:
        server, separator, _ = tool.partition("__")
        return server if separator else ""

    async def ResetBreakers(self, request, context):
        try:
            targets = [self.router.server(request.name)] if request.name else list(self.router.supervisors.values())
        except RouterError as error:
            await abort(context, error)
        for supervisor in targets:
            supervisor.breaker.reset()
        return router_pb2.ResetBreakersResponse(servers=[server_message(s) for s in targets])

    async def Enhance(self, request, context):
        if not request.client:
            request.client = client_name("", context)
        try:
            return await self.router.enhance(request, time_remaining(context))
        except RouterError as error:
            await abort(context, error)

    async def GetStats(self, request, context):
        stats = router_pb2.RouterStats(uptime_seconds=time.monotonic() - self.router.started_at)
        for name, supervisor in self.router.supervisors.items():
            counters = self.router.stats.servers.get(name)
            session = supervisor.session
            entry = router_pb2.ServerStats(
                name=name,
                state=_STATES[supervisor.state],
                breaker=_BREAKER_STATES[supervisor.breaker.state],
                in_flight=session.in_flight if session is not None else 0,
            )
            if counters is not None:
                entry.calls, entry.errors, entry.timeouts = counters.calls, counters.errors, counters.timeouts
                entry.p50_ms, entry.p95_ms, entry.p99_ms = counters.percentiles(0.50, 0.95, 0.99)
            stats.servers.append(entry)
        for recent in self.router.stats.recent:
            stats.recent.append(
                router_pb2.RecentRequest(
                    at=_timestamp(recent.at),
                    server=recent.server,
                    tool=recent.tool,
                    client=recent.client,
                    status=recent.status,
                    elapsed_ms=recent.elapsed_ms,
                )
            )
        link = self.router.enhancer
        if link is None:
            return stats
        snapshot = link.breaker.snapshot()
        stats.enhancer.CopyFrom(
            router_pb2.EnhancerLinkStats(
                address=link.address,
                breaker=_BREAKER_STATES[snapshot.state],
                consecutive_failures=snapshot.consecutive_failures,
                retry_after_seconds=snapshot.retry_after,
                health=link.health,
                calls=link.counters.calls,
                failures=link.counters.failures,
                skipped_breaker_open=link.counters.skipped_breaker_open,
            )
        )
        enhancer_stats, error = await link.stats(time_remaining(context))
        if enhancer_stats is not None:
            stats.enhancer.enhancer.CopyFrom(enhancer_stats)
        stats.enhancer.enhancer_error = error
        return stats

    async def ClearEnhancerCache(self, request, context):
        try:
            return await self.router.clear_enhancer_cache(time_remaining(context))
        except RouterError as error:
            await abort(context, error)

    async def WatchEvents(self, request, context) -> AsyncIterator[router_pb2.RouterEvent]:
        if request.server:
            try:
                self.router.server(request.server)
            except RouterError as error:
                await abort(context, error)
        subscription = self.router.events.subscribe(request.server, request.include_stderr)
        try:
            # Headers go out at once, so a watcher knows it is subscribed before the first event.
            await context.send_initial_metadata(())
            while True:
                yield event_message(await subscription.queue.get())
        finally:
            subscription.close()

    async def AddServer(self, request, context):
        try:
            await self.router.add_server(request.name, request.config_json)
            supervisor = self.router.server(request.name)
        except RouterError as error:
            await abort(context, error)
        await supervisor.wait_settled(_settle_time(supervisor, context))
        return server_message(supervisor)

    async def UpdateServer(self, request, context):
        try:
            await self.router.update_server(request.name, request.config_json)
            supervisor = self.router.server(request.name)
        except RouterError as error:
            await abort(context, error)
        await supervisor.wait_settled(_settle_time(supervisor, context))
        return server_message(supervisor)

    async def RemoveServer(self, request, context):
        try:
            await self.router.remove_server(request.name)
        except RouterError as error:
            await abort(context, error)
        return router_pb2.RemoveServerResponse(name=request.name)


def _settle_time(supervisor: ServerSupervisor, context: grpc.aio.ServicerContext) -> float:
    """Return the seconds a server-changing RPC waits for the server to leave STARTING."""
    remaining = time_remaining(context)
    limit = supervisor.settings.startup_timeout if remaining is None else min(remaining - 0.05, supervisor.settings.startup_timeout)
    return max(0.0, limit)


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_message(event: RouterEvent) -> router_pb2.RouterEvent:
    message = router_pb2.RouterEvent(at=_timestamp(event.at), server=event.server)
    fields = event.fields
    if event.kind == events.STATE:
        message.state.CopyFrom(
            router_pb2.StateChanged(from_state=_STATES[fields["from_state"]], to_state=_STATES[fields["to_state"]], reason=fields["reason"])
        )
    elif event.kind == events.RESTART:
        message.restart.CopyFrom(router_pb2.ServerRestarted(reason=fields["reason"], restarts=fields["restarts"]))
    elif event.kind == events.BREAKER:
        message.breaker.CopyFrom(
            router_pb2.BreakerChanged(
                from_state=_BREAKER_STATES[fields["from_state"]], to_state=_BREAKER_STATES[fields["to_state"]], reason=fields["reason"]
            )
        )
    elif event.kind == events.TOOLS:
        message.tools.CopyFrom(router_pb2.ToolsChanged(tool_count=fields["tool_count"], added=fields["added"], removed=fields["removed"]))
    elif event.kind == events.STDERR:
        message.stderr.CopyFrom(router_pb2.StderrLine(line=fields["line"]))
    elif event.kind == events.CONFIG:
        message.config.CopyFrom(router_pb2.ConfigChanged(action=fields["action"], detail=fields["detail"]))
    return message
