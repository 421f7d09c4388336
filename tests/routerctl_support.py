"""Runs the installed routerctl console script as a subprocess and reads what it printed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

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
    """The test's environment without MCP_ROUTER_TARGET, so that only the test chooses the router."""
    env = {key: value for key, value in os.environ.items() if key != "MCP_ROUTER_TARGET"}
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
        self.process = await asyncio.create_subprocess_exec(
            str(ROUTERCTL),
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=clean_env(),
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
