"""The callers that the load generator drives: one class per way of reaching an MCP tool.

Each client has `start()`, `call()` and `close()`; `call()` makes one request and
returns the number of result bytes received, so payload runs can report MB/s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import enhancer_pb2, enhancer_pb2_grpc, router_pb2, router_pb2_grpc

# The router's default message limit: a 16 MiB result with its JSON escaping fits.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "mcp-router-bench", "version": "0.1.0"}
CALL_TIMEOUT_SECONDS = 60.0


class CallFailed(Exception):
    """A call returned an error instead of a result."""


class RouterClient:
    """CallTool on router-service over one gRPC channel."""

    def __init__(self, target: str, tool: str, arguments: dict[str, Any]) -> None:
        self.target = target
        self.request = router_pb2.CallToolRequest(tool=tool, arguments_json=json.dumps(arguments))

    async def start(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self.stub = router_pb2_grpc.RouterServiceStub(self.channel)

    async def call(self) -> int:
        reply = await self.stub.CallTool(self.request, timeout=CALL_TIMEOUT_SECONDS)
        if reply.is_error:
            raise CallFailed(reply.result_json[:200])
        return len(reply.result_json)

    async def close(self) -> None:
        await self.channel.close()


class HealthClient:
    """A grpc.health.v1 Check: a unary call with no application work behind it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.request = health_pb2.HealthCheckRequest(service="")

    async def start(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self.stub = health_pb2_grpc.HealthStub(self.channel)

    async def call(self) -> int:
        reply = await self.stub.Check(self.request, timeout=CALL_TIMEOUT_SECONDS)
        return reply.ByteSize()

    async def close(self) -> None:
        await self.channel.close()


class EnhanceClient:
    """Enhance on router-service or directly on enhancer-service."""

    def __init__(self, target: str, prompt: str, via_router: bool, expect_reason: str) -> None:
        self.target = target
        self.via_router = via_router
        self.request = enhancer_pb2.EnhanceRequest(prompt=prompt)
        self.expect_reason = enhancer_pb2.EnhanceReason.Value(expect_reason) if expect_reason else None

    async def start(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        stub_class = router_pb2_grpc.RouterServiceStub if self.via_router else enhancer_pb2_grpc.EnhancerServiceStub
        self.stub = stub_class(self.channel)

    async def call(self) -> int:
        reply = await self.stub.Enhance(self.request, timeout=CALL_TIMEOUT_SECONDS)
        if self.expect_reason is not None and reply.reason != self.expect_reason:
            raise CallFailed(f"reason {enhancer_pb2.EnhanceReason.Name(reply.reason)}: {reply.detail[:200]}")
        return len(reply.enhanced)

    async def close(self) -> None:
        await self.channel.close()


class OllamaClient:
    """One non-streaming /api/chat request to an Ollama-compatible server."""

    def __init__(self, url: str, model: str, prompt: str) -> None:
        self.url = url.rstrip("/") + "/api/chat"
        self.body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False, "think": False}

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS)

    async def call(self) -> int:
        response = await self.http.post(self.url, json=self.body)
        response.raise_for_status()
        return len(response.content)

    async def close(self) -> None:
        await self.http.aclose()


class StdioClient:
    """A plain pipelined MCP client over a server's stdin and stdout, in this process.

    Every request gets its own id and future, and one reader task routes replies,
    so many calls are in flight at once on the one pipe.
    """

    def __init__(self, argv: list[str], tool: str, arguments: dict[str, Any]) -> None:
        self.argv = argv
        self.tool = tool
        self.arguments = arguments
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=MAX_MESSAGE_BYTES,
        )
        self._reader = asyncio.create_task(self._read_replies())
        params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
        await self.request("initialize", params)
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            await self.process.stdin.drain()
            reply = await asyncio.wait_for(future, CALL_TIMEOUT_SECONDS)
        finally:
            self._pending.pop(request_id, None)
        if "error" in reply:
            raise CallFailed(json.dumps(reply["error"])[:200])
        return reply["result"]

    async def call(self) -> int:
        result = await self.request("tools/call", {"name": self.tool, "arguments": self.arguments})
        if result.get("isError"):
            raise CallFailed(json.dumps(result)[:200])
        return sum(len(block.get("text", "")) for block in result.get("content", ()))

    async def close(self) -> None:
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()

    def _send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read_replies(self) -> None:
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            future = self._pending.get(message.get("id")) if "method" not in message else None
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallFailed("the server closed its stdout"))


class StreamableHttpClient:
    """An MCP client over streamable HTTP (one POST per JSON-RPC message), as mcp-proxy serves it."""

    def __init__(self, url: str, tool: str, arguments: dict[str, Any], concurrency: int) -> None:
        self.url = url
        self.tool = tool
        self.arguments = arguments
        self.limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._ids = itertools.count(1)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, limits=self.limits)
        params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
        response = await self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": "initialize", "params": params})
        session_id = response.headers.get("mcp-session-id")
        if session_id:
            self.headers["Mcp-Session-Id"] = session_id
        self.headers["Mcp-Protocol-Version"] = PROTOCOL_VERSION
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self) -> int:
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": "tools/call", "params": {"name": self.tool, "arguments": self.arguments}}
        response = await self._post(message)
        reply = _reply_from_body(response)
        if "error" in reply or reply["result"].get("isError"):
            raise CallFailed(response.text[:200])
        return sum(len(block.get("text", "")) for block in reply["result"].get("content", ()))

    async def close(self) -> None:
        await self.http.aclose()

    async def _post(self, message: dict[str, Any]) -> httpx.Response:
        response = await self.http.post(self.url, content=json.dumps(message), headers=self.headers)
        response.raise_for_status()
        return response


def _reply_from_body(response: httpx.Response) -> dict[str, Any]:
    """Return the JSON-RPC reply from a JSON body or from the last `data:` event of an SSE body."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        if not events:
            raise CallFailed("an event stream without data")
        return json.loads(events[-1])
    return response.json()
