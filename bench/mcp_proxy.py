"""mcp-proxy from PyPI in a virtualenv of its own under bench/, because it pins an older `mcp`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.services import REPO, Service, free_port, wait_http

MCP_PROXY_VERSION = "0.13.0"
VENV = REPO / "bench" / ".mcp-proxy-venv"
STAMP = VENV / f".installed-{MCP_PROXY_VERSION}"
INSTALL_TIMEOUT_SECONDS = 300.0


async def _run(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), INSTALL_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"timed out after {INSTALL_TIMEOUT_SECONDS:.0f}s"
    return process.returncode or 0, output.decode(errors="replace")


async def ensure_installed() -> tuple[Path | None, str]:
    """Create the virtualenv and install mcp-proxy once; return (its executable, '') or (None, why not)."""
    executable = VENV / "bin" / "mcp-proxy"
    if STAMP.exists() and executable.exists():
        return executable, ""
    if not (VENV / "bin" / "python").exists():
        code, output = await _run(sys.executable, "-m", "venv", str(VENV))
        if code != 0:
            return None, f"creating {VENV} failed: {output.strip()[-500:]}"
    code, output = await _run(str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"mcp-proxy=={MCP_PROXY_VERSION}")
    if code != 0 or not executable.exists():
        return None, f"pip install mcp-proxy=={MCP_PROXY_VERSION} failed: {output.strip()[-500:]}"
    STAMP.touch()
    return executable, ""


class McpProxy(Service):
    """mcp-proxy serving one stdio server over streamable HTTP at /mcp on 127.0.0.1."""

    def __init__(self, executable: Path, server_argv: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        argv = [str(executable), "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "WARNING", "--", *server_argv]
        super().__init__("mcp-proxy", argv)

    async def start_and_wait(self) -> None:
        await self.start()
        await wait_http(self.url)
