"""routerctl: the operator's command line for the MCP Router, and its stdio front for desktop MCP hosts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcp-router")
except PackageNotFoundError:
    __version__ = "0.0.0"
