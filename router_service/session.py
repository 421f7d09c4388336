"""One MCP session over a server's stdin and stdout.

Many requests are in flight at once: the session assigns its own upstream ids,
keeps one future per id, and a single reader task routes every stdout line to
the request, notification handler or server-to-client request it belongs to.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from . import jsonrpc
from .errors import MessageTooLarge, SessionClosed, StartupFailed, UpstreamError, UpstreamTimeout
from .jsonrpc import Message, MessageError
from .process import ServerProcess

log = logging.getLogger(__name__)

# Protocol revisions this router speaks, newest first; the first is offered.
SUPPORTED_PROTOCOL_VERSIONS = ("2025-06-18", "2025-11-25", "2025-03-26", "2024-11-05")
CLIENT_INFO = {"name": "mcp-router", "version": "0.1.0"}
READ_CHUNK_BYTES = 256 * 1024
# Kept from an over-limit line to find its id at either end.
OVERSIZE_PROBE_BYTES = 4096
# How long a session that saw EOF waits for the exit code and last stderr output.
EXIT_REPORT_SECONDS = 0.5
# The first few noise lines of a session are logged; the rest are only counted.
NOISE_LOG_LIMIT = 20

_UTF8_BOM = b"\xef\xbb\xbf"
_HEAD_ID = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(\d+)\s*[,}]')
_TAIL_ID = re.compile(rb'[,{]\s*"id"\s*:\s*(\d+)\s*\}\s*$')

ProgressCallback = Callable[[dict[str, Any]], None]
LogCallback = Callable[[dict[str, Any]], None]
RequestHandler = Callable[[str, Any, float | None], Awaitable[str]]


@dataclass
class SessionCounters:
    """Counts of stdout lines that were not normal messages, for GetServer and stats."""

    noise_lines: int = 0
    blank_lines: int = 0
    invalid_utf8_lines: int = 0
    oversize_messages: int = 0
    late_replies: int = 0
    orphan_errors: int = 0
    server_requests: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """A response line from the server, parsed, with its `result` or `error`."""

    message: Message

    @property
    def result_text(self) -> str:
        return self.message.raw("result")


@dataclass(frozen=True)
class InitializeResult:
    protocol_version: str
    server_info_json: str
    capabilities: dict[str, Any]
    instructions: str


@dataclass
class SessionHooks:
    """Callbacks from the reader into the layer above; all optional."""

    on_tools_changed: Callable[[], None] | None = None
    on_log: LogCallback | None = None
    # Handles sampling/createMessage and elicitation/create; returns the result JSON text.
    on_request: RequestHandler | None = None
    roots: tuple[dict[str, Any], ...] = ()
    advertise_sampling: bool = False


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Reply]
    method: str
    deadline: float | None = None
    progress: ProgressCallback | None = None


class McpSession:
    """The client side of one MCP connection over a server process's stdio."""

    def __init__(self, name: str, process: ServerProcess, max_line_bytes: int, hooks: SessionHooks | None = None) -> None:
        self.name = name
        self.process = process
        self.max_line_bytes = max_line_bytes
        self.hooks = hooks or SessionHooks()
        self.counters = SessionCounters()
        self.initialize_result: InitializeResult | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._log_listeners: set[LogCallback] = set()
        self._closed: SessionClosed | None = None
        self._closed_event = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._reader = asyncio.create_task(self._read_loop(), name=f"stdout-{name}")

    # Lifecycle

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def close_reason(self) -> str:
        return str(self._closed) if self._closed else ""

    async def wait_closed(self) -> None:
        await self._closed_event.wait()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def initialize(self, timeout: float) -> InitializeResult:
        """Run the MCP handshake: initialize, then notifications/initialized."""
        capabilities: dict[str, Any] = {"roots": {"listChanged": False}}
        if self.hooks.advertise_sampling:
            capabilities["sampling"] = {}
        params = {
            "protocolVersion": SUPPORTED_PROTOCOL_VERSIONS[0],
            "capabilities": capabilities,
            "clientInfo": CLIENT_INFO,
        }
        try:
            reply = await self.request("initialize", jsonrpc.dumps(params), timeout, cancel_on_timeout=False)
        except UpstreamTimeout:
            raise StartupFailed(f"no initialize reply within {timeout:.0f}s (raise startupTimeoutSeconds for slow first starts)") from None
        except SessionClosed as error:
            raise StartupFailed(f"exited during the handshake: {error}") from None
        except UpstreamError as error:
            raise StartupFailed(f"initialize failed: {error}") from None

        result = reply.message.get("result")
        if not isinstance(result, dict):
            raise StartupFailed("initialize result is not an object")
        version = result.get("protocolVersion")
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise StartupFailed(f"unsupported protocol version {version!r}; this router speaks {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}")
        server_info = result.get("serverInfo", {})
        self.initialize_result = InitializeResult(
            protocol_version=version,
            server_info_json=jsonrpc.dumps(server_info),
            capabilities=result.get("capabilities") if isinstance(result.get("capabilities"), dict) else {},
            instructions=result.get("instructions") if isinstance(result.get("instructions"), str) else "",
        )
        await self.notify("notifications/initialized", None)
        return self.initialize_result

    async def close(self, reason: str) -> None:
        """Fail every pending request and stop the reader; the process is stopped by its owner."""
        self._fail_all(SessionClosed(reason))
        self._reader.cancel()
        for task in list(self._background):
            task.cancel()

    # Requests

    async def request(
        self,
        method: str,
        params_text: str | None,
        timeout: float,
        *,
        progress: ProgressCallback | None = None,
        cancel_on_timeout: bool = True,
    ) -> Reply:
        """Send one request and wait up to `timeout` seconds for its reply.

        With `progress`, a progress token is attached and the server's progress
        notifications for it are passed to the callback. A JSON-RPC error reply
        raises UpstreamError.
        """
        request_id = next(self._ids)
        if progress is not None:
            params_text = _with_progress_token(params_text, request_id)
        line = '{"jsonrpc":"2.0","id":%d,"method":%s%s}' % (
            request_id,
            jsonrpc.dumps(method),
            "" if params_text is None else ',"params":' + params_text,
        )
        reply = await self._round_trip(request_id, method, line, timeout, progress, cancel_on_timeout)
        if "error" in reply.message:
            raise _upstream_error(self.name, method, reply.message)
        if "result" not in reply.message:
            raise UpstreamError(f"server '{self.name}' sent a reply to {method} with neither result nor error", jsonrpc.INTERNAL_ERROR, "{}")
        return reply

    async def forward(self, request: Message, timeout: float) -> str:
        """Send a caller's request under a fresh upstream id; return the reply text with the caller's id."""
        request_id = next(self._ids)
        caller_id = request.raw("id")
        line = jsonrpc.single_line(request.with_raw("id", str(request_id)))
        reply = await self._round_trip(request_id, str(request.get("method")), line, timeout, None, True)
        return reply.message.with_raw("id", caller_id)

    async def notify(self, method: str, params: Any) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._write(jsonrpc.dumps(message))

    def add_log_listener(self, listener: LogCallback) -> None:
        self._log_listeners.add(listener)

    def remove_log_listener(self, listener: LogCallback) -> None:
        self._log_listeners.discard(listener)

    async def _round_trip(
        self,
        request_id: int,
        method: str,
        line: str,
        timeout: float,
        progress: ProgressCallback | None,
        cancel_on_timeout: bool,
    ) -> Reply:
        if self._closed is not None:
            raise self._closed
        if timeout <= 0:
            raise UpstreamTimeout(f"server '{self.name}' {method}: the deadline had already passed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._pending[request_id] = _Pending(future, method, deadline=loop.time() + timeout, progress=progress)
        try:
            await self._write(line)
            # A timer on the future is cheaper per call than asyncio.timeout,
            # which reschedules and uncancels the calling task.
            timer = loop.call_later(timeout, _expire, future)
            try:
                return await future
            finally:
                timer.cancel()
        except TimeoutError:
            if cancel_on_timeout:
                await self._cancel_upstream(request_id, f"timed out after {timeout:.3f}s")
            raise UpstreamTimeout(f"server '{self.name}' did not respond to {method} within {timeout * 1000:.0f} ms") from None
        except asyncio.CancelledError:
            # The caller went away (cancelled RPC); tell the server to stop working on it.
            if cancel_on_timeout and self._closed is None:
                self._spawn(self._cancel_upstream(request_id, "the caller cancelled the request"))
            raise
        finally:
            self._pending.pop(request_id, None)

    async def _cancel_upstream(self, request_id: int, reason: str) -> None:
        if self._closed is not None:
            return
        try:
            await self.notify("notifications/cancelled", {"requestId": request_id, "reason": reason})
        except SessionClosed:
            pass

    async def _write(self, line: str) -> None:
        if self._closed is not None:
            raise self._closed
        stdin = self.process.stdin
        if stdin.is_closing():
            raise self._close(f"stdin of server '{self.name}' is closed")
        try:
            # One write call per line: asyncio buffers it whole, so concurrent
            # writers never interleave bytes of different messages.
            stdin.write(line.encode("utf-8", "surrogatepass") + b"\n")
            await stdin.drain()
        except (ConnectionError, OSError) as error:
            raise self._close(f"write to stdin failed: {error}") from None

    # Reading

    async def _read_loop(self) -> None:
        stdout = self.process.stdout
        buffer = bytearray()
        searched = 0  # Bytes of `buffer` already known to hold no newline.
        oversize: _OversizeLine | None = None
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK_BYTES)
                if not chunk:
                    break
                if oversize is not None:
                    newline = chunk.find(b"\n")
                    if newline < 0:
                        oversize.add(chunk)
                        continue
                    oversize.add(chunk[:newline])
                    self._on_oversize(oversize)
                    oversize = None
                    chunk = chunk[newline + 1 :]
                buffer += chunk
                start = 0
                while True:
                    newline = buffer.find(b"\n", max(start, searched))
                    if newline < 0:
                        break
                    self._on_line(buffer[start:newline])
                    start = newline + 1
                    searched = start
                if start:
                    del buffer[:start]
                searched = len(buffer)
                if len(buffer) > self.max_line_bytes:
                    oversize = _OversizeLine(bytes(buffer))
                    buffer.clear()
                    searched = 0
        except (ConnectionError, OSError) as error:
            log.warning("server=%s stdout read failed: %s", self.name, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("server=%s stdout reader failed", self.name)
        if buffer.strip():
            self._on_line(bytes(buffer))
        await self._report_exit()

    async def _report_exit(self) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), EXIT_REPORT_SECONDS)
        except asyncio.TimeoutError:
            pass
        await self.process.wait_stderr(EXIT_REPORT_SECONDS)
        self._close(self.exit_detail())

    def exit_detail(self) -> str:
        """Describe how the server's process ended, with its stderr tail."""
        code = self.process.returncode
        reason = "closed its stdout" if code is None else f"exited with code {code}"
        tail = self.process.stderr.text()[-2000:]
        return f"server '{self.name}' {reason}" + (f"; stderr tail:\n{tail}" if tail else "")

    def _on_line(self, raw: bytes | bytearray) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if raw.startswith(_UTF8_BOM):
            raw = raw[len(_UTF8_BOM) :]
        # isspace() scans without copying, unlike strip() on a bytearray.
        if not raw or raw.isspace():
            self.counters.blank_lines += 1
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Replacement characters keep the message usable; the reader goes on.
            self.counters.invalid_utf8_lines += 1
            text = raw.decode("utf-8", "replace")
        stripped = text.lstrip()
        if stripped.startswith("["):
            self._on_batch(text)
            return
        if not stripped.startswith("{"):
            if stripped.lower().startswith("content-length:"):
                self._close(f"server '{self.name}' uses Content-Length framing; MCP over stdio needs one JSON message per line")
                return
            self._on_noise(text, "not JSON")
            return
        try:
            message = jsonrpc.parse_message(text)
        except MessageError as error:
            self._on_noise(text, str(error))
            return

        if "method" in message:
            if "id" in message:
                self._on_server_request(message)
            else:
                self._on_notification(message)
        elif "id" in message:
            self._on_response(message)
        else:
            self._on_noise(text, "a JSON object that is not a JSON-RPC message")

    def _on_response(self, message: Message) -> None:
        request_id = message.get("id")
        if request_id is None:
            # An error without an id, e.g. a reply to a notification the server did not know.
            self.counters.orphan_errors += 1
            log.info("server=%s sent an error without an id, dropped: %s", self.name, message.text[:500])
            return
        pending = self._pending.get(request_id) if type(request_id) is int else None
        if pending is None or pending.future.done():
            # A reply to a request that timed out or was cancelled, or a duplicate.
            self.counters.late_replies += 1
            log.debug("server=%s late or unknown reply id=%s dropped", self.name, message.raw("id"))
            return
        pending.future.set_result(Reply(message))

    def _on_notification(self, message: Message) -> None:
        method = message.get("method")
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if method == "notifications/progress":
            token = params.get("progressToken")
            pending = self._pending.get(token) if type(token) is int else None
            if pending is not None and pending.progress is not None:
                pending.progress(params)
            else:
                log.debug("server=%s progress for unknown token %r dropped", self.name, token)
        elif method == "notifications/message":
            self._on_log(params)
        elif method == "notifications/tools/list_changed":
            log.info("server=%s tool list changed", self.name)
            if self.hooks.on_tools_changed is not None:
                self.hooks.on_tools_changed()
        else:
            log.debug("server=%s notification %s", self.name, method)

    def _on_log(self, params: dict[str, Any]) -> None:
        level = params.get("level", "info")
        python_level = logging.WARNING if level in ("warning", "error", "critical", "alert", "emergency") else logging.DEBUG
        log.log(python_level, "server=%s log level=%s logger=%s", self.name, level, params.get("logger", ""))
        if self.hooks.on_log is not None:
            self.hooks.on_log(params)
        for listener in list(self._log_listeners):
            listener(params)

    def _on_server_request(self, message: Message) -> None:
        self.counters.server_requests += 1
        request_id = message.get("id")
        if not jsonrpc.is_valid_id(request_id):
            self._spawn(self._write(jsonrpc.error_response("null", jsonrpc.INVALID_REQUEST, "request id must be a string or a number")))
            return
        self._spawn(self._answer_server_request(message))

    async def _answer_server_request(self, message: Message) -> None:
        method = message.get("method")
        request_id = message.raw("id")
        params = message.get("params")
        try:
            if method == "ping":
                reply = jsonrpc.result_response(request_id, "{}")
            elif method == "roots/list":
                reply = jsonrpc.result_response(request_id, jsonrpc.dumps({"roots": list(self.hooks.roots)}))
            elif method in ("sampling/createMessage", "elicitation/create") and self.hooks.on_request is not None:
                result = await self.hooks.on_request(method, params, self._earliest_deadline())
                reply = jsonrpc.result_response(request_id, result)
            elif method == "sampling/createMessage":
                reply = jsonrpc.error_response(request_id, jsonrpc.METHOD_NOT_FOUND, "sampling is not available: the router has no enhancer configured")
            elif method == "elicitation/create":
                reply = jsonrpc.error_response(request_id, jsonrpc.METHOD_NOT_FOUND, "elicitation is not supported by this router")
            else:
                reply = jsonrpc.error_response(request_id, jsonrpc.METHOD_NOT_FOUND, f"method not found: {method}")
        except UpstreamError as error:
            reply = jsonrpc.error_response(request_id, error.code, str(error))
        except Exception as error:  # Every server request gets an answer, even when the handler fails.
            log.warning("server=%s %s handler failed: %s", self.name, method, error)
            reply = jsonrpc.error_response(request_id, jsonrpc.INTERNAL_ERROR, f"{method} failed: {error}")
        try:
            await self._write(reply)
        except SessionClosed:
            pass

    def _earliest_deadline(self) -> float | None:
        """Return the event-loop time by which the earliest pending request must finish."""
        deadlines = [pending.deadline for pending in self._pending.values() if pending.deadline is not None]
        return min(deadlines) if deadlines else None

    def _on_batch(self, text: str) -> None:
        self.counters.noise_lines += 1
        log.warning("server=%s sent a JSON-RPC batch, which MCP does not allow; replied with -32600", self.name)
        self._spawn(self._write(jsonrpc.error_response("null", jsonrpc.INVALID_REQUEST, "JSON-RPC batches are not supported")))

    def _on_noise(self, text: str, reason: str) -> None:
        self.counters.noise_lines += 1
        if self.counters.noise_lines <= NOISE_LOG_LIMIT:
            log.info("server=%s ignored a stdout line (%s): %.200s", self.name, reason, text)
        elif self.counters.noise_lines == NOISE_LOG_LIMIT + 1:
            log.info("server=%s more ignored stdout lines are only counted", self.name)

    def _on_oversize(self, line: "_OversizeLine") -> None:
        self.counters.oversize_messages += 1
        request_id = line.find_id()
        log.warning(
            "server=%s message of %d bytes exceeds maxLineBytes=%d; dropped (request id %s)",
            self.name, line.size, self.max_line_bytes, request_id,
        )
        pending = self._pending.get(request_id) if request_id is not None else None
        if pending is not None and not pending.future.done():
            pending.future.set_exception(
                MessageTooLarge(f"server '{self.name}' reply is {line.size} bytes, above maxLineBytes={self.max_line_bytes}")
            )

    # Shared plumbing

    def _close(self, reason: str) -> SessionClosed:
        if self._closed is None:
            self._closed = SessionClosed(reason)
            log.info("server=%s session closed: %s", self.name, reason.splitlines()[0])
            self._fail_all(self._closed)
            self._closed_event.set()
        return self._closed

    def _fail_all(self, error: SessionClosed) -> None:
        if self._closed is None:
            self._closed = error
            self._closed_event.set()
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(error)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class _OversizeLine:
    """An over-limit line being skipped: only its size and both ends are kept."""

    def __init__(self, first: bytes) -> None:
        self.head = first[:OVERSIZE_PROBE_BYTES]
        self.tail = first[-OVERSIZE_PROBE_BYTES:]
        self.size = len(first)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.tail = (self.tail + chunk)[-OVERSIZE_PROBE_BYTES:]

    def find_id(self) -> int | None:
        # NOTE: the id is found only where servers usually put it, first or last in
        # the object. A reply with its id elsewhere is dropped, so its call times out.
        for pattern, text in ((_HEAD_ID, self.head), (_TAIL_ID, self.tail.rstrip(b"\r"))):
            match = pattern.search(text)
            if match:
                return int(match.group(1))
        return None


def _expire(future: asyncio.Future[Reply]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _with_progress_token(params_text: str | None, token: int) -> str:
    """Add `_meta.progressToken` to a params object given as JSON text."""
    params = jsonrpc.parse_message(params_text or "{}")
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    meta_text = jsonrpc.dumps({**meta, "progressToken": token})
    if "_meta" in params:
        return params.with_raw("_meta", meta_text)
    if not params.members:
        return '{"_meta":%s}' % meta_text
    return '{"_meta":%s,%s' % (meta_text, params.text.lstrip()[1:])


def _upstream_error(name: str, method: str, message: Message) -> UpstreamError:
    error = message.get("error")
    code = error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), int) else jsonrpc.INTERNAL_ERROR
    text = error.get("message") if isinstance(error, dict) else None
    return UpstreamError(f"server '{name}' returned JSON-RPC error {code} for {method}: {text or 'no message'}", code, message.raw("error"))
