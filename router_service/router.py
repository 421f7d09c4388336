"""The router's domain facade: resolve a tool, pick its server, apply the deadline and breaker."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from mcp_router.breaker import CircuitOpenError, Outcome
from mcp_router.deadlines import call_budget
from mcp_router.v1 import enhancer_pb2

from . import jsonrpc
from .catalogue import Catalogue, ToolEntry
from .config import RouterConfig, ServerConfig
from .config_store import ConfigStore
from .enhancer_link import EnhancementReport, EnhancerLink, not_configured_report
from .errors import (
    EnhancerNotConfigured,
    InvalidRequest,
    LimitExceeded,
    ManagementDisabled,
    InvalidArguments,
    ServerNotFound,
    ServerUnavailable,
    ToolNotFound,
    UpstreamError,
    UpstreamTimeout,
    shown,
)
from .events import EventBus
from .jsonrpc import MessageError
from .stats import CallStats
from .session import LogCallback, ProgressCallback, SessionHooks
from .supervisor import ServerState, ServerSupervisor

log = logging.getLogger(__name__)

StateListener = Callable[[ServerSupervisor], Awaitable[None]]
T = TypeVar("T")
# A NOT_FOUND message names at most this many configured servers.
MAX_LISTED_SERVERS = 10
# A call cancelled this close to the end of its time budget ran out of time:
# gRPC cancels the handler when the caller's deadline passes, which may come a
# moment before the router's own upstream timer fires.
DEADLINE_TOLERANCE_SECONDS = 0.1


@dataclass(frozen=True)
class CallResult:
    """A finished tools/call: the result text exactly as the server sent it."""

    result_json: str
    is_error: bool
    server: str
    tool: str
    elapsed_ms: float
    timeout_ms: int
    enhancement: EnhancementReport | None = None


class Router:
    """Every configured server's supervisor, the tool catalogue they fill, and the enhancer link."""

    def __init__(self, config: RouterConfig, enhancer: EnhancerLink | None = None) -> None:
        self.config = config
        self.enhancer = enhancer
        self.catalogue = Catalogue()
        self.events = EventBus()
        self.stats = CallStats()
        self.started_at = time.monotonic()
        self._state_listeners: list[StateListener] = []
        self._store: ConfigStore | None = None
        self.supervisors: dict[str, ServerSupervisor] = {name: self._supervisor(server) for name, server in config.servers.items()}

    def _supervisor(self, server: ServerConfig) -> ServerSupervisor:
        return ServerSupervisor(server, self.catalogue, self._on_state, self._session_hooks(server.name), events=self.events)

    def _session_hooks(self, server: str) -> SessionHooks:
        """Return hooks that advertise and handle sampling only when an enhancer can produce completions."""
        if self.enhancer is None or not self.config.enhancer.sampling:
            return SessionHooks()
        enhancer = self.enhancer

        async def on_request(method: str, params: Any, deadline: float | None) -> str:
            if method != "sampling/createMessage":
                raise UpstreamError(f"{method} is not supported by this router", jsonrpc.METHOD_NOT_FOUND, "{}")
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            return await enhancer.sample(server, params, remaining)

        return SessionHooks(on_request=on_request, advertise_sampling=True)

    def add_state_listener(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    async def _on_state(self, supervisor: ServerSupervisor) -> None:
        for listener in self._state_listeners:
            await listener(supervisor)

    # Lifecycle

    async def start(self) -> None:
        """Start every enabled server; each starts on its own, so none waits for another."""
        for supervisor in self.supervisors.values():
            if supervisor.config.enabled:
                await supervisor.start()

    async def stop(self) -> None:
        """Stop every server concurrently."""
        await asyncio.gather(*(supervisor.stop() for supervisor in self.supervisors.values()), return_exceptions=True)

    # Config edits

    def use_store(self, store: ConfigStore) -> None:
        self._store = store

    async def add_server(self, name: str, entry_json: str) -> None:
        self._require_management("AddServer")
        await self._config_store().add_server(name, entry_json)

    async def update_server(self, name: str, entry_json: str) -> None:
        self._require_management("UpdateServer")
        self.server(name)
        await self._config_store().update_server(name, entry_json)

    async def remove_server(self, name: str) -> None:
        self.server(name)
        await self._config_store().remove_server(name)

    def _require_management(self, method: str) -> None:
        if not self.config.allow_server_management:
            raise ManagementDisabled(
                f"{method} is off because it starts arbitrary commands: start the router with "
                "--allow-server-management or set router.allowServerManagement to true"
            )

    def _config_store(self) -> ConfigStore:
        if self._store is None:
            raise InvalidRequest("this router has no config file to edit")
        return self._store

    async def apply_config(self, config: RouterConfig) -> None:
        """Bring the running set in line with `config`: start new servers, stop removed ones,
        restart changed ones, and leave unchanged ones alone."""
        old = self.supervisors
        removed = [name for name in old if name not in config.servers]
        added = [name for name in config.servers if name not in old]
        changed = [name for name in config.servers if name in old and old[name].config != config.servers[name]]
        self.config = dataclasses.replace(self.config, servers=config.servers, defaults=config.defaults)

        async def replace(name: str) -> None:
            if name in old:
                await old[name].stop()
                self.catalogue.remove(name)
            if name in config.servers:
                supervisor = self._supervisor(config.servers[name])
                self.supervisors[name] = supervisor
                await self._on_state(supervisor)
                if supervisor.config.enabled:
                    await supervisor.start()
            else:
                del self.supervisors[name]
                self.stats.forget(name)

        await asyncio.gather(*(replace(name) for name in [*removed, *added, *changed]))
        if removed or added or changed:
            log.info("config applied added=%s removed=%s changed=%s", added or "-", removed or "-", changed or "-")

    def server(self, name: str) -> ServerSupervisor:
        supervisor = self.supervisors.get(name)
        if supervisor is None:
            names = sorted(self.supervisors)
            known = ", ".join(names[:MAX_LISTED_SERVERS]) or "none"
            if len(names) > MAX_LISTED_SERVERS:
                known += f" and {len(names) - MAX_LISTED_SERVERS} more"
            raise ServerNotFound(f"server '{shown(name)}' is not configured (configured: {known})")
        return supervisor

    # Tools

    def list_tools(self, server: str = "") -> list[ToolEntry]:
        """Tools of running servers, or of one named server."""
        names = [self.server(server).name] if server else list(self.supervisors)
        tools: list[ToolEntry] = []
        for name in names:
            if self.supervisors[name].state is ServerState.RUNNING:
                tools.extend(self.catalogue.tools(name))
        return tools

    def resolve(self, server: str, tool: str) -> tuple[ServerSupervisor, ToolEntry]:
        if not tool:
            raise ToolNotFound("tool is empty: give a tool name, <server>__<tool>, or server and tool")
        if server:
            supervisor = self.server(server)
            supervisor.running_session()
            return supervisor, self.catalogue.resolve(server, tool, list(self.supervisors))
        try:
            entry = self.catalogue.resolve("", tool, list(self.supervisors))
        except ToolNotFound:
            # A qualified name of a server that is down is unavailable, not unknown.
            for name, supervisor in self.supervisors.items():
                if tool.startswith(name + "__"):
                    supervisor.running_session()
            raise
        return self.supervisors[entry.server], entry

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments_json: str,
        time_remaining: float | None,
        *,
        progress: ProgressCallback | None = None,
        on_log: LogCallback | None = None,
        enhance: bool = False,
        client: str = "",
    ) -> CallResult:
        """Call one tool under min(caller deadline, server request timeout).

        With `enhance`, the arguments named in the server's `enhance` config are
        first rewritten through the enhancer, failing open to the originals.
        """
        started = time.perf_counter()
        supervisor, entry = self.resolve(server, tool)
        limit = self.config.max_arguments_bytes
        if len(arguments_json) > limit or (len(arguments_json) * 4 > limit and len(arguments_json.encode("utf-8", "surrogatepass")) > limit):
            raise LimitExceeded(f"arguments_json is larger than maxArgumentsBytes={limit}")
        arguments_text = arguments_json.strip() or "{}"
        try:
            arguments = jsonrpc.parse_object_text(arguments_text, "arguments_json")
            jsonrpc.check_unicode(arguments_text, arguments, "arguments_json")
        except MessageError as error:
            raise InvalidArguments(str(error)) from None

        enhancement = None
        if enhance:
            arguments_text, enhancement = await self._enhance_arguments(supervisor, entry, arguments, arguments_text, client, time_remaining)
            if time_remaining is not None:
                time_remaining -= time.perf_counter() - started
        params = '{"name":%s,"arguments":%s}' % (jsonrpc.dumps(entry.name), jsonrpc.single_line(arguments_text))

        budget = call_budget(time_remaining, supervisor.settings.request_timeout)
        session = supervisor.running_session()
        if on_log is not None:
            session.add_log_listener(on_log)
        try:
            reply = await self._through_breaker(
                supervisor, lambda: session.request("tools/call", params, budget, progress=progress), budget
            )
        finally:
            if on_log is not None:
                session.remove_log_listener(on_log)

        result = reply.message.get("result")
        return CallResult(
            result_json=reply.result_text,
            is_error=isinstance(result, dict) and result.get("isError") is True,
            server=entry.server,
            tool=entry.name,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            timeout_ms=max(0, round(budget * 1000)),
            enhancement=enhancement,
        )

    async def _enhance_arguments(
        self,
        supervisor: ServerSupervisor,
        entry: ToolEntry,
        arguments: dict[str, Any],
        arguments_text: str,
        client: str,
        time_remaining: float | None,
    ) -> tuple[str, EnhancementReport]:
        names = supervisor.config.enhance.get(entry.name, ())
        if self.enhancer is None:
            return arguments_text, not_configured_report("the router has no enhancer configured")
        if not names:
            return arguments_text, not_configured_report(f"server '{entry.server}' names no arguments to enhance for tool '{entry.name}'")

        rewritten, report = await self.enhancer.enhance_arguments(arguments, names, client, time_remaining)
        log.info(
            "server=%s tool=%s enhancer applied=%s reason=%s ms=%.1f",
            entry.server, entry.name, report.applied, enhancer_pb2.EnhanceReason.Name(report.reason), report.elapsed_ms,
        )
        # Unchanged arguments keep their original text byte for byte.
        return (jsonrpc.dumps(rewritten) if report.applied else arguments_text), report

    async def clear_enhancer_cache(self, time_remaining: float | None) -> enhancer_pb2.ClearCacheResponse:
        if self.enhancer is None:
            raise EnhancerNotConfigured("no enhancer is configured: start the router with --enhancer HOST:PORT")
        return await self.enhancer.call("ClearCache", enhancer_pb2.ClearCacheRequest(), time_remaining)

    async def enhance(self, request: enhancer_pb2.EnhanceRequest, time_remaining: float | None) -> enhancer_pb2.EnhanceResponse:
        """Forward one Enhance call to the enhancer, failing open unless `require` is set."""
        if self.enhancer is None:
            raise EnhancerNotConfigured("enhancement is off: start the router with --enhancer HOST:PORT or set router.enhancer.address")
        response = await self.enhancer.enhance(request, time_remaining)
        log.info(
            "enhance client=%s applied=%s reason=%s ms=%.1f",
            request.client or "-", response.applied, enhancer_pb2.EnhanceReason.Name(response.reason), response.elapsed_ms,
        )
        return response

    async def forward(self, server: str, request_json: str, time_remaining: float | None) -> str:
        """Send one raw JSON-RPC request; return the reply verbatim with the caller's id.

        Requests that are not valid JSON-RPC come back as JSON-RPC errors
        (-32700, -32600) without reaching the server.
        """
        supervisor = self.server(server)
        session = supervisor.running_session()
        try:
            request = jsonrpc.parse_message(request_json)
        except MessageError as error:
            if request_json.lstrip().startswith("["):
                return jsonrpc.error_response("null", jsonrpc.INVALID_REQUEST, "JSON-RPC batches are not supported")
            if _is_json(request_json):
                return jsonrpc.error_response("null", jsonrpc.INVALID_REQUEST, "invalid request: a request must be a JSON object")
            return jsonrpc.error_response("null", jsonrpc.PARSE_ERROR, f"parse error: {error}")
        try:
            jsonrpc.check_unicode(request_json, {key: member.value for key, member in request.members.items()}, "the request")
        except MessageError as error:
            return jsonrpc.error_response("null", jsonrpc.INVALID_REQUEST, f"invalid request: {error}")

        problem = _forward_problem(request)
        if problem:
            caller_id = request.raw("id") if "id" in request and jsonrpc.is_valid_id(request.get("id")) else "null"
            return jsonrpc.error_response(caller_id, jsonrpc.INVALID_REQUEST, problem)

        budget = call_budget(time_remaining, supervisor.settings.request_timeout)
        return await self._through_breaker(supervisor, lambda: session.forward(request, budget), budget)

    async def _through_breaker(self, supervisor: ServerSupervisor, call: Callable[[], Awaitable[T]], budget: float) -> T:
        """Run one upstream call under the server's breaker, counting only transport failures.

        A call that runs out of its `budget` seconds counts as a timeout, whether
        the router's timer or the caller's gRPC deadline ends it first.
        """
        session = supervisor.session
        if session is not None and session.in_flight >= supervisor.settings.max_in_flight:
            raise LimitExceeded(
                f"server '{supervisor.name}' has {session.in_flight} calls in flight, its maxInFlight; retry later"
            )
        # NOTE: one crash fails every call in flight on the server, and each counts as
        # a failure, so a crash with failureThreshold calls pending opens the breaker.
        trial = self._admit(supervisor)
        outcome = Outcome.IGNORED
        detail = ""
        loop = asyncio.get_running_loop()
        expires = loop.time() + budget
        try:
            result = await call()
            outcome = Outcome.SUCCESS
            return result
        except UpstreamError:
            # The server responded, so its transport works, whatever the response contains.
            outcome = Outcome.SUCCESS
            raise
        except (UpstreamTimeout, ServerUnavailable) as error:
            outcome, detail = Outcome.FAILURE, str(error).splitlines()[0]
            raise
        except asyncio.CancelledError:
            # A caller that hung up early is ignored; one whose deadline passed saw a timeout.
            if loop.time() >= expires - DEADLINE_TOLERANCE_SECONDS:
                outcome, detail = Outcome.FAILURE, f"server '{supervisor.name}' did not answer within the caller's deadline"
            raise
        finally:
            supervisor.breaker.after_call(outcome, trial=trial, detail=detail)

    @staticmethod
    def _admit(supervisor: ServerSupervisor) -> bool:
        try:
            return supervisor.breaker.before_call()
        except CircuitOpenError as error:
            raise ServerUnavailable(
                f"server '{supervisor.name}' circuit breaker is open after repeated failures; retry after {error.retry_after:.1f}s",
                retry_after=error.retry_after,
            ) from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _forward_problem(request: jsonrpc.Message) -> str:
    """Return why a forwarded message is not an acceptable request, or ''."""
    if request.get("jsonrpc") != jsonrpc.JSONRPC_VERSION:
        return 'invalid request: "jsonrpc" must be "2.0"'
    method = request.get("method")
    if not isinstance(method, str) or not method:
        return 'invalid request: "method" must be a non-empty string'
    if "id" not in request:
        return "invalid request: Forward takes a request with an id; notifications are not forwarded"
    if not jsonrpc.is_valid_id(request.get("id")):
        return "invalid request: id must be a string or a number" + (", not null" if request.get("id") is None else "")
    if method == "initialize" or method.startswith("notifications/"):
        return f"invalid request: {method} is managed by the router and cannot be forwarded"
    if "params" in request and not isinstance(request.get("params"), (dict, list)):
        return 'invalid request: "params" must be an object or an array'
    return ""
