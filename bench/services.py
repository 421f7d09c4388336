"""Processes the benchmark starts on 127.0.0.1: routers, servers, proxies, and the load generator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import router_pb2, router_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
FAULT_SERVER = REPO / "tests" / "fixtures" / "fault_server.py"
EVERYTHING_SCRIPT = REPO / "tests" / ".npm" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
# A load run still going after this is stuck, because every run has its own time cap.
LOAD_PROCESS_TIMEOUT_SECONDS = 180.0
READY_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.005
TOKEN_VARIABLES = ("MCP_ROUTER_ADMIN_TOKEN", "MCP_ROUTER_CLIENT_TOKEN")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fault_server_argv() -> list[str]:
    return [PYTHON, str(FAULT_SERVER)]


def everything_argv() -> list[str] | None:
    """Return the argv of server-everything over stdio, or None without node or the npm install."""
    node = _which("node")
    if node is None or not EVERYTHING_SCRIPT.exists():
        return None
    return [node, str(EVERYTHING_SCRIPT), "stdio"]


def _which(command: str) -> str | None:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / command
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def rss_bytes(pid: int) -> int:
    """Return the resident set size of one process, without its children."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS line for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time one process has used so far, without its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Service:
    """One long-running process with its output in a log file; SIGTERM stops it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
        self.log_file = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None, "the service was not started"
        return self.process.pid

    async def start(self) -> None:
        self.started_at = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file, env=self.env
        )

    def log_tail(self, chars: int = 3000) -> str:
        return Path(self.log_file.name).read_text(errors="replace")[-chars:]

    async def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


async def wait_serving(target: str, service: str = "", timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll grpc.health.v1 Check until `service` is SERVING; raise TimeoutError after `timeout`."""
    deadline = time.perf_counter() + timeout
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.perf_counter() < deadline:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{target} service {service!r} was not SERVING within {timeout:.0f}s")


async def wait_http(url: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Wait until a TCP connection to the URL's port on 127.0.0.1 succeeds."""
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} accepted no connection within {timeout:.0f}s")


class Router(Service):
    """A router-service process with its config written to a temporary file."""

    def __init__(self, name: str, servers: dict[str, Any], router_options: dict[str, Any] | None = None, extra_args: list[str] | None = None) -> None:
        self.config_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")[1])
        self.config_path.write_text(json.dumps({"router": router_options or {}, "mcpServers": servers}))
        self.target = f"127.0.0.1:{free_port()}"
        argv = [str(BIN / "router-service"), "--config", str(self.config_path), "--listen", self.target, "--log-level", "info", *(extra_args or [])]
        super().__init__(name, argv)
        # Tokens from the caller's environment would make every call need one.
        for variable in TOKEN_VARIABLES:
            self.env.pop(variable, None)
        self.servers = list(servers)

    async def start_and_wait(self) -> None:
        await self.start()
        try:
            await wait_serving(self.target)
            for server in self.servers:
                await wait_serving(self.target, f"mcp_router.server.{server}")
        except TimeoutError as error:
            raise RuntimeError(f"{error}\nrouter log:\n{self.log_tail()}") from None

    async def seconds_to_running(self) -> float:
        """Poll ListServers until every server is RUNNING; return the seconds since the process started."""
        deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            while time.perf_counter() < deadline:
                try:
                    reply = await stub.ListServers(router_pb2.ListServersRequest(), timeout=1.0)
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                if self._all_running(reply):
                    return time.perf_counter() - self.started_at
                await asyncio.sleep(POLL_SECONDS)
        raise RuntimeError(f"{len(self.servers)} servers were not all RUNNING within {READY_TIMEOUT_SECONDS:.0f}s\n{self.log_tail()}")

    async def seconds_to_restart_all(self) -> float:
        """Stop every server, then start them all at once; return the seconds until all are RUNNING.

        StartServer returns once its server has left STARTING, so the time
        covers spawn, initialize and tools/list of every server, and none of
        the router's own start-up. A server that failed its start and waits in
        BACKOFF is waited for, so a failed start shows as a longer time.
        """
        deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            await asyncio.gather(*(stub.StopServer(router_pb2.StopServerRequest(name=name), timeout=60) for name in self.servers))
            started = time.perf_counter()
            await asyncio.gather(*(stub.StartServer(router_pb2.StartServerRequest(name=name), timeout=60) for name in self.servers))
            while time.perf_counter() < deadline:
                reply = await stub.ListServers(router_pb2.ListServersRequest(), timeout=10)
                if self._all_running(reply):
                    return time.perf_counter() - started
                await asyncio.sleep(POLL_SECONDS)
        raise RuntimeError(f"{len(self.servers)} servers were not all RUNNING within {READY_TIMEOUT_SECONDS:.0f}s of StartServer\n{self.log_tail()}")

    def _all_running(self, reply: router_pb2.ListServersResponse) -> bool:
        running = router_pb2.ServerState.Value("RUNNING")
        return len(reply.servers) == len(self.servers) and all(server.state == running for server in reply.servers)


async def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a new load-generator process and return its figures."""
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bench.load", json.dumps(spec), cwd=str(REPO), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), LOAD_PROCESS_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"load generator did not finish within {LOAD_PROCESS_TIMEOUT_SECONDS:.0f}s: {spec}") from None
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed with exit code {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return json.loads(stdout)
