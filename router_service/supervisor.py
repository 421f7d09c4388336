"""Supervision of one MCP server: start, handshake, watch, restart with backoff.

States follow supervisord's: STOPPED, STARTING, RUNNING, BACKOFF, STOPPING and
FATAL. Unlike supervisord, a server that crashes after a healthy run (longer
than `min_uptime`) restarts without counting as a failed start.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import random
import time
from typing import Awaitable, Callable, Mapping

from mcp_router.breaker import BreakerState, CircuitBreaker

from . import events
from .catalogue import Catalogue, ToolEntry, fetch_tools
from .config import ServerConfig
from .errors import RouterError, ServerUnavailable
from .events import EventBus
from .process import ServerProcess
from .session import EXIT_REPORT_SECONDS, McpSession, SessionHooks

log = logging.getLogger(__name__)


class ServerState(enum.Enum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    FATAL = "FATAL"


StateListener = Callable[["ServerSupervisor"], Awaitable[None]]
ToolsListener = Callable[["ServerSupervisor"], Awaitable[None]]


# The router's own secrets: servers are third-party code and never inherit them
# (a server's `env` may still set one explicitly).
SECRET_VARIABLES = ("MCP_ROUTER_ADMIN_TOKEN", "MCP_ROUTER_CLIENT_TOKEN", "MCP_ROUTER_ENHANCER_TOKEN", "MCP_ROUTER_TOKEN")


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the router's environment without its secrets, for a server process."""
    return {key: value for key, value in environ.items() if key not in SECRET_VARIABLES}


def backoff_delay(failures: int, initial: float, maximum: float) -> float:
    """Exponential backoff with equal jitter: a delay in [d/2, d], d = initial * 2^(failures-1)."""
    delay = min(maximum, initial * (2 ** max(0, failures - 1)))
    return random.uniform(delay / 2, delay)


class ServerSupervisor:
    """Owns one server's process and session and keeps it running by its restart policy."""

    def __init__(
        self,
        config: ServerConfig,
        catalogue: Catalogue,
        on_state: StateListener,
        hooks: SessionHooks | None = None,
        on_tools: ToolsListener | None = None,
        *,
        events: EventBus | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.settings = config.settings
        self.catalogue = catalogue
        self.breaker = CircuitBreaker(f"server:{config.name}", self.settings.breaker)
        self.state = ServerState.STOPPED
        self.session: McpSession | None = None
        self.process: ServerProcess | None = None
        self.restarts = 0
        self.last_restart_reason = ""
        self.last_error = ""
        self.last_exit_code: int | None = None
        self.last_stderr = ""
        self.consecutive_failures = 0
        self.running_since: float | None = None
        self.degraded = False
        self._hooks = hooks or SessionHooks()
        self._hooks.roots = self.settings.roots
        self._hooks.on_tools_changed = self._on_tools_changed
        self._on_state = on_state
        self._on_tools = on_tools
        self._runner: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._refresh_again = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._events = events or EventBus()
        self.breaker.add_listener(self._on_breaker_transition)

    # Commands

    async def start(self) -> None:
        """Start the server unless it is already starting or running; wake it from BACKOFF."""
        async with self._lock:
            if self._runner is not None and not self._runner.done():
                self._wake.set()
                return
            self.consecutive_failures = 0
            # STARTING at once, so a caller that waits for the start to settle
            # never sees the previous STOPPED or FATAL state.
            await self._set_state(ServerState.STARTING)
            self._runner = asyncio.create_task(self._run(), name=f"supervise-{self.name}")

    async def stop(self) -> None:
        """Stop the server and every process of its group; it stays STOPPED."""
        async with self._lock:
            runner = self._runner
            if runner is not None and not runner.done():
                await self._set_state(ServerState.STOPPING)
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            self._runner = None
            await self._teardown("stopped by request")
            await self._set_state(ServerState.STOPPED)

    async def restart(self) -> None:
        await self.stop()
        self._count_restart("restarted by request")
        await self.start()

    async def wait_settled(self, timeout: float) -> None:
        """Wait up to `timeout` seconds while the server is STARTING."""
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.state is not ServerState.STARTING), timeout)
        except asyncio.TimeoutError:
            pass

    def running_session(self) -> McpSession:
        """Return the live session or raise ServerUnavailable describing why there is none."""
        session = self.session
        if self.state is ServerState.RUNNING and session is not None and not session.closed:
            return session
        detail = f"; last error: {self.last_error}" if self.last_error else ""
        raise ServerUnavailable(f"server '{self.name}' is not running (state {self.state.value}){detail}")

    # The supervision loop

    async def _run(self) -> None:
        try:
            while True:
                if await self._start_once():
                    restart = await self._watch_running()
                else:
                    restart = await self._after_failed_start()
                if not restart:
                    return
        finally:
            await self._teardown("supervision ended")

    async def _start_once(self) -> bool:
        await self._set_state(ServerState.STARTING)
        settings = self.settings
        try:
            env = {**child_environment(os.environ), **self.config.env}
            self.last_stderr = ""
            self.process = await ServerProcess.spawn(
                self.name, self.config.argv, env, self.config.cwd, settings.stderr_tail_lines, on_stderr_line=self._on_stderr_line
            )
            self.session = McpSession(self.name, self.process, settings.max_line_bytes, self._hooks)
            async with asyncio.timeout(settings.startup_timeout):
                await self.session.initialize(settings.startup_timeout)
                tools = await fetch_tools(self.session, settings.startup_timeout)
        except TimeoutError:
            return await self._start_failed(f"handshake and tools/list did not finish within startupTimeoutSeconds={settings.startup_timeout:g}")
        except RouterError as error:
            return await self._start_failed(str(error))
        except Exception as error:  # A bug must fail this start, never leave the server stuck in STARTING.
            log.exception("server=%s start failed unexpectedly", self.name)
            return await self._start_failed(f"unexpected error during start: {error!r}")

        self._replace_tools(tools)
        self.running_since = time.monotonic()
        self.degraded = False
        self.last_error = ""
        info = self.session.initialize_result
        log.info(
            "server=%s state=RUNNING pid=%s protocol=%s tools=%d restarts=%d",
            self.name, self.process.pid, info.protocol_version if info else "?", len(tools), self.restarts,
        )
        await self._set_state(ServerState.RUNNING)
        if self._on_tools is not None:
            await self._on_tools(self)
        return True

    async def _start_failed(self, reason: str) -> bool:
        await self._teardown(reason)
        tail = self.last_stderr[-2000:]
        if tail and "stderr tail" not in reason:
            reason = f"{reason}; stderr tail:\n{tail}"
        self.last_error = reason
        log.warning("server=%s start failed: %s", self.name, reason.splitlines()[0])
        return False

    async def _after_failed_start(self) -> bool:
        self.consecutive_failures += 1
        if await self._give_up_if_exhausted():
            return False
        await self._back_off()
        return True

    async def _give_up_if_exhausted(self) -> bool:
        """Enter FATAL and return True once the failed starts in a row reach the limit."""
        if self.consecutive_failures < self.settings.max_start_failures:
            return False
        log.error("server=%s state=FATAL failed_starts=%d exit_code=%s", self.name, self.consecutive_failures, self.last_exit_code)
        await self._set_state(ServerState.FATAL)
        return True

    async def _back_off(self) -> None:
        """Wait in BACKOFF before the next start; no wait after a healthy run."""
        settings = self.settings
        if self.consecutive_failures == 0:
            return
        delay = backoff_delay(self.consecutive_failures, settings.backoff_initial, settings.backoff_max)
        log.info("server=%s state=BACKOFF delay=%.2fs failed_starts=%d", self.name, delay, self.consecutive_failures)
        await self._set_state(ServerState.BACKOFF)
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _watch_running(self) -> bool:
        """Wait until the session ends; return True when the server should start again."""
        session, process = self.session, self.process
        assert session is not None and process is not None
        closed = asyncio.create_task(session.wait_closed())
        exited = asyncio.create_task(process.wait())
        pinger = asyncio.create_task(self._ping_loop(session)) if self.settings.ping_interval > 0 else None
        try:
            done, _ = await asyncio.wait({closed, exited}, timeout=self.settings.min_uptime, return_when=asyncio.FIRST_COMPLETED)
            healthy_run = not done
            if healthy_run:
                # The start counts as successful once the process stayed up min_uptime.
                self.consecutive_failures = 0
                await asyncio.wait({closed, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (closed, exited, pinger):
                if task is not None:
                    task.cancel()

        # Not RUNNING from the moment the exit is seen, so health turns
        # NOT_SERVING while the rest of the process group is ended.
        await self._set_state(ServerState.STOPPING)
        if not session.closed:
            # The reader reports the exit with the stderr tail once it sees EOF; a
            # descendant that still holds stdout open delays EOF, so wait only briefly.
            try:
                await asyncio.wait_for(session.wait_closed(), EXIT_REPORT_SECONDS * 2)
            except asyncio.TimeoutError:
                await session.close(session.exit_detail())
        reason = session.close_reason
        # A process the router had to end (its session broke while it still
        # ran) did not exit cleanly, whatever code the stop produced.
        exited_on_its_own = process.returncode is not None
        await self._teardown(reason)
        exit_code = self.last_exit_code
        self.last_error = reason

        policy = self.settings.restart
        clean_exit = exited_on_its_own and exit_code == 0
        if policy == "never" or (policy == "on-failure" and clean_exit):
            log.info("server=%s exited code=%s restart=%s; not restarting", self.name, exit_code, policy)
            await self._set_state(ServerState.STOPPED)
            return False

        if not healthy_run:
            self.consecutive_failures += 1
        if await self._give_up_if_exhausted():
            return False
        self._count_restart(reason.splitlines()[0].removesuffix("; stderr tail:"))
        log.warning("server=%s restarting reason=%s restarts=%d", self.name, self.last_restart_reason, self.restarts)
        await self._back_off()
        return True

    async def _ping_loop(self, session: McpSession) -> None:
        """Ping periodically; failures mark the server degraded and count toward its breaker.

        Pings never restart the server: only a real exit or EOF does that.
        """
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            try:
                await session.request("ping", None, self.settings.ping_timeout)
                self.degraded = False
            except RouterError as error:
                self.degraded = True
                self.breaker.record_failure(f"ping failed: {error}")
                log.warning("server=%s ping failed: %s", self.name, error)

    async def _teardown(self, reason: str) -> None:
        session, process = self.session, self.process
        self.session = None
        self.running_since = None
        self.degraded = False
        if session is not None:
            await session.close(reason)
        if process is not None:
            self.process = None
            self.last_exit_code = await process.stop(self.settings.stop_timeout)
            self.last_stderr = process.stderr.text()
            log.info("server=%s process ended pid=%s exit_code=%s", self.name, process.pid, self.last_exit_code)

    async def _set_state(self, state: ServerState) -> None:
        if state is self.state:
            return
        previous, self.state = self.state, state
        reason = self.last_error.splitlines()[0] if self.last_error and state is not ServerState.RUNNING else ""
        self._events.publish(events.STATE, self.name, from_state=previous, to_state=state, reason=reason)
        async with self._changed:
            self._changed.notify_all()
        await self._on_state(self)

    def _count_restart(self, reason: str) -> None:
        self.restarts += 1
        self.last_restart_reason = reason
        self._events.publish(events.RESTART, self.name, reason=reason, restarts=self.restarts)

    def _replace_tools(self, tools: list[ToolEntry]) -> None:
        before = {tool.name for tool in self.catalogue.tools(self.name)}
        after = {tool.name for tool in tools}
        self.catalogue.replace(self.name, tools)
        if before != after:
            self._events.publish(events.TOOLS, self.name, tool_count=len(tools), added=sorted(after - before), removed=sorted(before - after))

    def _on_breaker_transition(self, _name: str, old: BreakerState, new: BreakerState, reason: str) -> None:
        self._events.publish(events.BREAKER, self.name, from_state=old, to_state=new, reason=reason)

    def _on_stderr_line(self, line: str) -> None:
        if self._events.wants_stderr:
            self._events.publish(events.STDERR, self.name, line=line)

    # Tool list refresh

    def _on_tools_changed(self) -> None:
        # Lists announced before the handshake ends are covered by the first fetch.
        if self.state is not ServerState.RUNNING:
            return
        if self._refresh is not None and not self._refresh.done():
            self._refresh_again = True
            return
        self._refresh = asyncio.create_task(self._refresh_tools())

    async def _refresh_tools(self) -> None:
        while True:
            self._refresh_again = False
            session = self.session
            if session is None:
                return
            try:
                tools = await fetch_tools(session, self.settings.request_timeout)
            except RouterError as error:
                log.warning("server=%s tool list refresh failed: %s", self.name, error)
                return
            self._replace_tools(tools)
            log.info("server=%s tool list refreshed tools=%d", self.name, len(tools))
            if self._on_tools is not None:
                await self._on_tools(self)
            if not self._refresh_again:
                return
