"""One MCP server's operating-system process: spawn, stderr tail, staged stop.

Each server runs in its own process group (argv only, never a shell), so a stop
reaches every descendant such as the node process that npx starts.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import time
from typing import Callable

from .errors import StartupFailed

log = logging.getLogger(__name__)

# stderr is read in chunks this large; a line longer than this is cut in the tail.
STDERR_CHUNK_BYTES = 64 * 1024
MAX_STDERR_LINE_CHARS = 2000
# How often a stop polls for leftover processes in the group.
GROUP_POLL_SECONDS = 0.05
# How often wait() checks whether the process has exited.
EXIT_POLL_SECONDS = 0.05


class StderrTail:
    """The last lines a server wrote to stderr, bounded in count and line length.

    A bare carriage return ends a line too, so progress bars that redraw one
    line never grow a single unbounded line.
    """

    def __init__(self, max_lines: int) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._partial = bytearray()
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> list[str]:
        """Add raw bytes; return the complete lines they finished."""
        self.total_bytes += len(chunk)
        self._partial += chunk
        finished: list[str] = []
        data = bytes(self._partial).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *complete, rest = data.split(b"\n")
        for raw in complete:
            line = raw[: MAX_STDERR_LINE_CHARS * 4].decode("utf-8", "replace")[:MAX_STDERR_LINE_CHARS]
            if line.strip():
                self._lines.append(line)
                finished.append(line)
        # A line with no end in sight is kept only up to the display limit.
        self._partial = bytearray(rest[: MAX_STDERR_LINE_CHARS * 4])
        return finished

    def text(self) -> str:
        lines = list(self._lines)
        if self._partial:
            lines.append(bytes(self._partial).decode("utf-8", "replace")[:MAX_STDERR_LINE_CHARS])
        return "\n".join(lines)


class ServerProcess:
    """A spawned server process with piped stdio and a continuously drained stderr."""

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        stderr_tail_lines: int,
        on_stderr_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._on_stderr_line = on_stderr_line
        self._process = process
        self.pid = process.pid
        self.started_at = time.monotonic()
        self.stderr = StderrTail(stderr_tail_lines)
        self._stderr_task = asyncio.create_task(self._drain_stderr(), name=f"stderr-{name}")

    @classmethod
    async def spawn(
        cls,
        name: str,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        stderr_tail_lines: int,
        *,
        on_stderr_line: Callable[[str], None] | None = None,
    ) -> "ServerProcess":
        """Start `argv` in a new process group; raise StartupFailed if it cannot start."""
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as error:
            missing = argv[0] if error.filename in (None, argv[0]) else error.filename
            raise StartupFailed(f"command not found: {missing} (check the command and PATH, or give an absolute path)") from None
        except PermissionError:
            raise StartupFailed(f"permission denied running {argv[0]}") from None
        except NotADirectoryError:
            raise StartupFailed(f"cwd is not a directory: {cwd}") from None
        except OSError as error:
            raise StartupFailed(f"cannot start {argv[0]}: {error.strerror}") from None
        except (ValueError, UnicodeError) as error:
            # An embedded NUL byte, '=' in a variable name, or text that is not valid Unicode.
            raise StartupFailed(f"cannot start {argv[0]!r}: {error}") from None
        log.info("server=%s spawned pid=%s", name, process.pid)
        return cls(name, process, stderr_tail_lines, on_stderr_line)

    @property
    def stdin(self) -> asyncio.StreamWriter:
        assert self._process.stdin is not None  # Always piped by spawn().
        return self._process.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self._process.stdout is not None  # Always piped by spawn().
        return self._process.stdout

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        """Wait for the process to exit and return its exit code.

        asyncio's Process.wait() (CPython 3.11) returns only once every pipe is
        closed as well, so a descendant that inherited stdout would hide the
        exit for as long as it lives. The exit code is polled instead.
        """
        while self._process.returncode is None:
            await asyncio.sleep(EXIT_POLL_SECONDS)
        return self._process.returncode

    async def wait_stderr(self, timeout: float) -> None:
        """Give the stderr reader up to `timeout` seconds to take in the final output."""
        try:
            await asyncio.wait_for(asyncio.shield(self._stderr_task), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass

    async def _drain_stderr(self) -> None:
        assert self._process.stderr is not None
        reader = self._process.stderr
        while True:
            try:
                chunk = await reader.read(STDERR_CHUNK_BYTES)
            except (ConnectionError, OSError):
                return
            if not chunk:
                return
            for line in self.stderr.feed(chunk):
                log.debug("server=%s stderr: %s", self.name, line)
                if self._on_stderr_line is not None:
                    self._on_stderr_line(line)

    async def stop(self, stage_timeout: float) -> int | None:
        """Close stdin, wait; SIGTERM the group, wait; SIGKILL the group.

        Leftover processes of the group (a grandchild that outlived its parent)
        are ended the same way, so no descendant keeps running.
        """
        if self._process.returncode is None:
            self._close_stdin()
            if not await self._wait_exit(stage_timeout):
                self._signal_group(signal.SIGTERM)
                if not await self._wait_exit(stage_timeout):
                    self._signal_group(signal.SIGKILL)
                    await self.wait()
        await self.reap_group(stage_timeout)
        self._stderr_task.cancel()
        return self._process.returncode

    async def reap_group(self, stage_timeout: float) -> None:
        """End every process left in the server's group: SIGTERM, wait, SIGKILL."""
        if not self._group_alive():
            return
        log.info("server=%s ending leftover processes in group %s", self.name, self.pid)
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + stage_timeout
        while self._group_alive() and time.monotonic() < deadline:
            await asyncio.sleep(GROUP_POLL_SECONDS)
        if self._group_alive():
            self._signal_group(signal.SIGKILL)
            while self._group_alive() and time.monotonic() < deadline + stage_timeout:
                await asyncio.sleep(GROUP_POLL_SECONDS)

    def kill_now(self) -> None:
        """SIGKILL the whole group at once; for the router's own emergency exit."""
        self._signal_group(signal.SIGKILL)

    def _close_stdin(self) -> None:
        try:
            self.stdin.close()
        except (ConnectionError, OSError, RuntimeError):
            pass

    async def _wait_exit(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
