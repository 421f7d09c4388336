"""Starts the real services as child processes for tests, on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TESTS = Path(__file__).resolve().parent
NPM_BIN = TESTS / ".npm" / "node_modules" / ".bin"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_serving(target: str, service: str = "", timeout: float = 30.0, metadata: tuple[tuple[str, str], ...] | None = None) -> None:
    """Poll grpc.health.v1 Check until `service` is SERVING or `timeout` passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    last = "no answer"
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while loop.time() < end:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0, metadata=metadata)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as error:
                last = f"{error.code().name}: {error.details()}"
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{target} service {service!r} not SERVING after {timeout}s (last: {last})")


class ServiceProcess:
    """One service process (router-service or enhancer-service) with its stderr in a file."""

    def __init__(self, script: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.script = script
        self.args = args
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_file = tempfile.NamedTemporaryFile(prefix=f"{script}-", suffix=".log", delete=False)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            str(BIN / self.script),
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.stderr_file,
            stderr=self.stderr_file,
            env=self.env,
        )

    def log_text(self) -> str:
        return Path(self.stderr_file.name).read_text(errors="replace")

    async def stop(self, timeout: float = 20.0) -> int:
        """Send SIGTERM and return the exit code; SIGKILL if it does not exit in time."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"{self.script} did not exit within {timeout}s of SIGTERM:\n{self.log_text()[-4000:]}")
