"""Fixtures that start real router processes with real MCP servers on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
import pytest

from mcp_router.v1 import router_pb2, router_pb2_grpc
from tests.harness import BIN, CHANNEL_OPTIONS, NPM_BIN, TESTS, ServiceProcess, free_port, wait_serving

FAULT_SERVER = TESTS / "fixtures" / "fault_server.py"
EVERYTHING_SCRIPT = TESTS / ".npm" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


def fault_server(*args: str, **options: Any) -> dict[str, Any]:
    """A config entry for the fault-injection server with start-up flags and router options."""
    return {"command": sys.executable, "args": [str(FAULT_SERVER), *args], **options}


def time_server(**options: Any) -> dict[str, Any]:
    return {"command": str(BIN / "mcp-server-time"), "args": ["--local-timezone", "UTC"], **options}


def everything_server(**options: Any) -> dict[str, Any]:
    if not EVERYTHING_SCRIPT.exists():
        pytest.fail(f"{EVERYTHING_SCRIPT} is missing: run `make test`, which installs @modelcontextprotocol/server-everything into tests/.npm")
    return {"command": "node", "args": [str(EVERYTHING_SCRIPT), "stdio"], **options}


@dataclass
class RunningRouter:
    """A router-service process and a stub connected to it."""

    process: ServiceProcess
    target: str
    config_path: Path
    channel: grpc.aio.Channel
    stub: router_pb2_grpc.RouterServiceStub

    async def server(self, name: str) -> router_pb2.Server:
        return await self.stub.GetServer(router_pb2.GetServerRequest(name=name), timeout=10)

    async def call(self, tool: str, arguments: dict[str, Any] | None = None, *, server: str = "", timeout: float = 30) -> router_pb2.CallToolResponse:
        request = router_pb2.CallToolRequest(server=server, tool=tool, arguments_json=json.dumps(arguments or {}))
        return await self.stub.CallTool(request, timeout=timeout)


RouterFactory = Callable[..., Awaitable[RunningRouter]]


@pytest.fixture
async def start_router(tmp_path: Path) -> AsyncIterator[RouterFactory]:
    """Start router-service with the given mcpServers; wait until the listed servers serve."""
    started: list[RunningRouter] = []

    async def start(servers: dict[str, Any], *, router_options: dict[str, Any] | None = None, wait_for: list[str] | None = None, extra_args: list[str] | None = None) -> RunningRouter:
        config_path = tmp_path / f"router-{len(started)}.json"
        config_path.write_text(json.dumps({"router": router_options or {}, "mcpServers": servers}))
        target = f"127.0.0.1:{free_port()}"
        process = ServiceProcess("router-service", ["--config", str(config_path), "--listen", target, "--log-level", "debug", *(extra_args or [])])
        await process.start()
        try:
            await wait_serving(target, "")
            for name in servers if wait_for is None else wait_for:
                await wait_serving(target, f"mcp_router.server.{name}", timeout=60)
        except TimeoutError as error:
            await process.stop()
            raise AssertionError(f"{error}\nrouter log:\n{process.log_text()[-6000:]}") from None
        channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        running = RunningRouter(process, target, config_path, channel, router_pb2_grpc.RouterServiceStub(channel))
        started.append(running)
        return running

    yield start

    for running in started:
        await running.channel.close()
        code = await running.process.stop()
        assert code == 0, f"router-service exited with {code}:\n{running.process.log_text()[-4000:]}"
