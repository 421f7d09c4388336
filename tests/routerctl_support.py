"""Runs the installed routerctl and mcp-router-stdio scripts as a shell and a desktop host would, and reads what they print."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.harness import BIN, free_port

ROUTERCTL = BIN / "routerctl"
STDIO_FRONT = BIN / "mcp-router-stdio"


@dataclass
class Completed:
    """The exit code and output of one routerctl run."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def __str__(self) -> str:
        return f"routerctl {' '.join(self.args)} exited with {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without routerctl's variables, so that only the test chooses the router and token."""
    env = {key: value for key, value in os.environ.items() if key not in ("MCP_ROUTER_TARGET", "MCP_ROUTER_TOKEN")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **(extra or {})}


async def routerctl(*args: str, env: dict[str, str] | None = None, timeout: float = 90.0) -> Completed:
    """Run `routerctl ARGS...` to the end and return what it printed."""
    process = await asyncio.create_subprocess_exec(
        str(ROUTERCTL),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(env),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        raise AssertionError(f"routerctl {' '.join(args)} still ran after {timeout}s\nstdout:\n{stdout.decode()}\nstderr:\n{stderr.decode()}") from None
    return Completed(args, process.returncode, stdout.decode(), stderr.decode())


class Background:
    """A long-running routerctl process, such as `watch`, whose stdout lines the test reads as they come."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self) -> None:
        # Started with SIGINT ignored, as a shell starts background jobs, so the
        # interrupt tests prove that routerctl restores Ctrl-C handling itself.
        self.process = await asyncio.create_subprocess_exec(
            str(ROUTERCTL),
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=clean_env(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )

    async def read_line(self, timeout: float) -> str | None:
        """Return the next stdout line, or None when none came within `timeout` seconds or stdout ended."""
        assert self.process is not None and self.process.stdout is not None
        try:
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            return None
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def interrupt(self, timeout: float = 30.0) -> tuple[int, str]:
        """Send SIGINT, as Ctrl-C does, and return the exit code and the stderr text."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 30.0) -> tuple[int, str]:
        assert self.process is not None and self.process.stderr is not None
        try:
            rest, stderr = await asyncio.wait_for(self.process.communicate(), timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"routerctl {' '.join(self.args)} did not exit within {timeout}s") from None
        self.lines.extend(rest.decode().splitlines())
        return self.process.returncode, stderr.decode()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll `check` until it returns a truthy value, and fail with the last value after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    value = None
    while loop.time() < end:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


def unused_target() -> str:
    """An address on 127.0.0.1 where nothing listens, for unreachable-router cases."""
    return f"127.0.0.1:{free_port()}"


class Host:
    """A desktop host's view of one front: the SDK session and what the front sent besides replies."""

    def __init__(self, session: ClientSession, errlog: Path) -> None:
        self.session = session
        self.errlog = errlog
        self.notifications: list[Any] = []
        self.tools_changed = asyncio.Event()

    async def receive(self, message: Any) -> None:
        self.notifications.append(message)
        if isinstance(message, types.ToolListChangedNotification):
            self.tools_changed.set()

    def front_log(self) -> str:
        return self.errlog.read_text(errors="replace")


@asynccontextmanager
async def connect_host(command: str, args: list[str]) -> AsyncIterator[Host]:
    """Start the front as a desktop host does and complete the MCP handshake with it."""
    with tempfile.NamedTemporaryFile("w+", prefix="stdio-front-", suffix=".log") as errlog:
        parameters = StdioServerParameters(command=command, args=args, env=clean_env())
        host: Host | None = None

        async def receive(message: Any) -> None:
            if host is not None:
                await host.receive(message)

        async with stdio_client(parameters, errlog=errlog) as (read_stream, write_stream):
            async with ClientSession(read_stream, write_stream, message_handler=receive) as session:
                host = Host(session, Path(errlog.name))
                await session.initialize()
                yield host


def text_of(result: types.CallToolResult) -> str:
    return "".join(item.text for item in result.content if isinstance(item, types.TextContent))
