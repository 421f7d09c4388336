"""An Ollama-compatible HTTP server for tests, with faults that tests switch on.

No real Ollama can be installed where the tests run, so this server speaks
Ollama's wire format instead: GET /api/version and /api/tags, POST /api/chat and
/api/generate, streaming (NDJSON over chunked transfer encoding) and not, and
`{"error": ...}` bodies. It records every request so tests can check what a
client sent, for example `think: false` and an explicit `stream`.

Its model "rewrites" a prompt deterministically: the answer is REWRITE_PREFIX
followed by the last user message, so tests can tell a rewrite from the original.

In-process use (tests):   server = FakeOllama(); await server.start(); server.faults.status = 503
Standalone (demos, other test suites):   python -m tests.fake_ollama --port 11434
A standalone server takes faults as JSON on POST /_fake/faults, returns the
recorded requests on GET /_fake/requests and clears both on POST /_fake/reset.
Requests to these /_fake/ paths are not recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

REWRITE_PREFIX = "Clear, specific version of: "
FAKE_VERSION = "0.12.6"
DEFAULT_MODELS = ("llama3.2:3b", "qwen2.5:7b-instruct", "tinyllama:latest")
THINKING_TEXT = "Let me think about how to rewrite this prompt."
MAX_HEADER_BYTES = 64 * 1024
# An odd size, so chunk borders fall inside lines and inside UTF-8 characters.
STREAM_CHUNK_BYTES = 37
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Faults:
    """Misbehaviour of /api/chat and /api/generate; the default is a healthy server."""

    # Seconds to wait before sending the status line and headers (a cold model load).
    header_delay: float = 0.0
    # Respond with this HTTP status and an `{"error": ...}` body instead of a result.
    status: int = 0
    # How many requests get `status` before the server is healthy again; 0 means all.
    status_count: int = 0
    # Streaming only: send an `{"error": ...}` line after this many content lines (status stays 200).
    stream_error_after: int = -1
    # Return empty content and put text in `thinking`, as thinking models do.
    empty_output: bool = False
    # Report at most this `prompt_eval_count`, as Ollama does when it cuts a prompt to num_ctx.
    truncate_prompt_to: int = 0
    # Seconds to wait between streamed chunks.
    chunk_delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeOllama:
    """An Ollama-compatible server on 127.0.0.1; `port=0` picks a free port."""

    port: int = 0
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    faults: Faults = field(default_factory=Faults)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._status_answers = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, "127.0.0.1", self.port, limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop open connections, so new connections are refused."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def reset(self) -> None:
        self.faults = Faults()
        self.requests.clear()
        self._status_answers = 0

    def chat_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path in ("/api/chat", "/api/generate")]

    # --- HTTP/1.1 plumbing -----------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _version = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw_body = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    body = json.loads(raw_body) if raw_body else None
                except ValueError:
                    body = None

                route = path.split("?")[0]
                if not route.startswith("/_fake/"):
                    self.requests.append(RecordedRequest(method=method, path=route, body=body, headers=headers))
                await self._route(method, route, body, writer)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Error')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()

    async def _send_chunk(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()

    # --- Ollama API ------------------------------------------------------------

    async def _route(self, method: str, path: str, body: Any, writer: asyncio.StreamWriter) -> None:
        if path == "/" and method in ("GET", "HEAD"):
            await self._send(writer, 200, b"Ollama is running", "text/plain; charset=utf-8")
        elif path == "/api/version" and method == "GET":
            await self._send(writer, 200, {"version": FAKE_VERSION})
        elif path == "/api/tags" and method == "GET":
            await self._send(writer, 200, {"models": [_tag_entry(name) for name in self.models]})
        elif path in ("/api/chat", "/api/generate") and method == "POST":
            await self._generate(path, body if isinstance(body, dict) else {}, writer)
        elif path == "/_fake/faults" and method == "POST":
            self.faults = dataclasses.replace(self.faults, **(body or {}))
            await self._send(writer, 200, dataclasses.asdict(self.faults))
        elif path == "/_fake/requests" and method == "GET":
            await self._send(writer, 200, [dataclasses.asdict(request) for request in self.requests])
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
            await self._send(writer, 200, {})
        else:
            await self._send(writer, 404, b"404 page not found", "text/plain")

    async def _generate(self, path: str, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        if self.faults.header_delay:
            await asyncio.sleep(self.faults.header_delay)

        fault_status = self._take_fault_status()
        if fault_status:
            await self._send(writer, fault_status, {"error": _fault_message(fault_status)})
            return
        model = str(body.get("model") or "")
        if not model:
            await self._send(writer, 400, {"error": "model is required"})
            return
        if _with_tag(model) not in {_with_tag(name) for name in self.models}:
            await self._send(writer, 404, {"error": f'model "{model}" not found, try pulling it first'})
            return

        is_chat = path == "/api/chat"
        if is_chat:
            messages = body.get("messages") or []
            user_texts = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
            prompt_texts = [str(m.get("content") or "") for m in messages]
        else:
            user_texts = [str(body.get("prompt") or "")]
            prompt_texts = [str(body.get("system") or ""), user_texts[0]]
        answer = REWRITE_PREFIX + (user_texts[-1] if user_texts else "")
        prompt_eval_count = sum(math.ceil(len(text) / 3.5) + 5 for text in prompt_texts)
        if self.faults.truncate_prompt_to:
            prompt_eval_count = min(prompt_eval_count, self.faults.truncate_prompt_to)
        final = {
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_200_000,
            "load_duration": 100_000,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": 300_000,
            "eval_count": len(answer.split()),
            "eval_duration": 800_000,
        }

        # Ollama's default is to stream when `stream` is absent.
        if body.get("stream", True) is False:
            await self._send(writer, 200, {**self._piece(model, is_chat, answer, thinking=True), **final})
            return

        lines = []
        pieces = [word + " " for word in answer.split(" ")]
        pieces[-1] = pieces[-1].rstrip(" ")
        for index, piece in enumerate(pieces):
            if index == self.faults.stream_error_after:
                lines.append({"error": "an error was encountered while running the model: unexpected EOF"})
                break
            lines.append({**self._piece(model, is_chat, piece, thinking=index == 0), "done": False})
        else:
            lines.append({**self._piece(model, is_chat, "", thinking=False), **final})
        # A blank line after every third line, and chunks that cut through lines and
        # UTF-8 characters, as streams can arrive through proxies and TCP segmentation.
        stream = b"".join(
            json.dumps(line, ensure_ascii=False).encode() + b"\n" + (b"\n" if number % 3 == 2 else b"") for number, line in enumerate(lines)
        )

        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
        for offset in range(0, len(stream), STREAM_CHUNK_BYTES):
            await self._send_chunk(writer, stream[offset : offset + STREAM_CHUNK_BYTES])
            if self.faults.chunk_delay:
                await asyncio.sleep(self.faults.chunk_delay)
        await self._send_chunk(writer, b"")

    def _piece(self, model: str, is_chat: bool, text: str, *, thinking: bool) -> dict[str, Any]:
        content = "" if self.faults.empty_output else text
        entry: dict[str, Any] = {"model": model, "created_at": _now()}
        if is_chat:
            entry["message"] = {"role": "assistant", "content": content}
            if self.faults.empty_output and thinking:
                entry["message"]["thinking"] = THINKING_TEXT
        else:
            entry["response"] = content
            if self.faults.empty_output and thinking:
                entry["thinking"] = THINKING_TEXT
        return entry

    def _take_fault_status(self) -> int:
        if not self.faults.status:
            return 0
        if self.faults.status_count and self._status_answers >= self.faults.status_count:
            return 0
        self._status_answers += 1
        return self.faults.status


def _with_tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _fault_message(status: int) -> str:
    return {
        404: "model not found, try pulling it first",
        429: "too many requests",
        500: "llama runner process has terminated: exit status 2",
        503: "server busy, please try again. maximum pending requests exceeded",
    }.get(status, f"fake error {status}")


def _tag_entry(name: str) -> dict[str, Any]:
    family = name.split(":")[0].rstrip("0123456789.")
    return {
        "name": _with_tag(name),
        "model": _with_tag(name),
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 2_019_393_189,
        "digest": f"{abs(hash(name)):064x}"[:64],
        "details": {"format": "gguf", "family": family, "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def _run_standalone(port: int, models: list[str]) -> None:
    server = FakeOllama(port=port, models=models)
    await server.start()
    print(f"fake Ollama listening on {server.url} with models {', '.join(server.models)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Ollama-compatible test server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=11434, help="TCP port to listen on (0 picks a free one)")
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated model names that /api/tags lists"
    )
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(_run_standalone(args.port, [name for name in args.models.split(",") if name]))
    print(f"fake Ollama stopped after {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
