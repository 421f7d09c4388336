"""The stdio front: an MCP server on stdin and stdout that serves every router tool to a desktop host.

Claude Desktop, VS Code or Cursor start it as a local stdio server. It lists the router's tools
under their qualified names (`<server>__<tool>`), forwards each call through CallToolStream with
a deadline, relays the call's progress when the host sent a progress token, and sends
`notifications/tools/list_changed` when the router's tool list changes. Log messages of the
servers are not relayed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import sys
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mcp_router.logs import LOG_LEVELS, configure_logging
from mcp_router.v1 import router_pb2

from . import __version__
from .client import RouterClient
from .connection import RouterConnection, add_connection_options, connection_from_args
from .errors import CommandError, NotFound, Unimplemented, UsageError

log = logging.getLogger("routerctl.front")

FRONT_NAME = "mcp-router"
DEFAULT_CALL_TIMEOUT_SECONDS = 60.0
# Only for routers without WatchEvents: how often the front lists the tools to find changes.
DEFAULT_POLL_SECONDS = 10.0
# Wait between WatchEvents attempts while the router is unreachable, doubled up to the maximum.
WATCH_RETRY_INITIAL_SECONDS = 1.0
WATCH_RETRY_MAX_SECONDS = 30.0
# Events after which a tool list may differ without a `tools` event, such as a removed server.
RECHECK_EVENTS = ("state", "config")


def host_tool(tool: router_pb2.Tool) -> types.Tool | None:
    """Return the tool as the front lists it, under its qualified name, or None when its server sent an invalid tool."""
    try:
        entry = json.loads(tool.tool_json)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        entry = {"description": tool.description, "inputSchema": json.loads(tool.input_schema_json or "{}")}
    # NOTE: a qualified name longer than 64 characters is passed on as is, and hosts that
    # allow only ^[a-zA-Z0-9_-]{1,64}$ may then reject the tool or the whole list.
    entry["name"] = tool.qualified_name
    try:
        return types.Tool.model_validate(entry, by_name=False)
    except ValidationError as error:
        log.warning("tool=%s left out of tools/list: invalid tool object: %s", tool.qualified_name, error.errors()[0]["msg"])
        return None


def tools_fingerprint(tools: list[router_pb2.Tool]) -> str:
    digest = hashlib.sha256()
    for tool in sorted(tools, key=lambda item: item.qualified_name):
        digest.update(tool.qualified_name.encode() + b"\0" + tool.tool_json.encode() + b"\0")
    return digest.hexdigest()


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


class StdioFront:
    """One MCP server session with a desktop host, backed by one RouterClient."""

    def __init__(self, client: RouterClient, poll_interval: float) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self.server: Server[Any] = Server(
            FRONT_NAME,
            version=__version__,
            instructions="Tools of every MCP server behind the MCP Router, named <server>__<tool>.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )
        self.server.middleware.append(self._remember_host)
        # The host's session, once it has sent notifications/initialized.
        self._host: ServerSession | None = None
        # Fingerprint of the tool list the host saw last.
        self._known_tools: str | None = None

    async def serve(self) -> None:
        """Serve the host on stdin and stdout until it closes stdin."""
        options = self.server.create_initialization_options(NotificationOptions(tools_changed=True))
        async with stdio_server() as (read_stream, write_stream):
            follower = asyncio.create_task(self.follow_tool_changes())
            try:
                await self.server.run(read_stream, write_stream, options)
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)

    async def _remember_host(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized":
            self._host = ctx.session
        return result

    # Requests from the host

    async def list_tools(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        try:
            tools = await self.client.list_tools()
        except CommandError as error:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(error)) from None
        self._known_tools = tools_fingerprint(tools)
        listed = [host_tool(tool) for tool in tools]
        return types.ListToolsResult(tools=[tool for tool in listed if tool is not None])

    async def call_tool(self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult | dict[str, Any]:
        """Forward one call. Router failures become error results, so that the model can read them."""
        request = router_pb2.CallToolRequest(tool=params.name, arguments_json=json.dumps(params.arguments or {}, ensure_ascii=False))
        try:
            async for event in self.client.call_tool_stream(request):
                kind = event.WhichOneof("event")
                if kind == "progress":
                    progress = event.progress
                    total = progress.total if progress.HasField("total") else None
                    await ctx.session.report_progress(progress.progress, total, progress.message or None)
                elif kind == "result":
                    return json.loads(event.result.result_json)
        except (NotFound, UsageError) as error:
            # Unknown tools and invalid arguments are protocol errors in MCP.
            raise MCPError(code=types.INVALID_PARAMS, message=str(error)) from None
        except CommandError as error:
            log.warning("tool=%s call failed: %s", params.name, error)
            return error_result(str(error))
        return error_result(f"the router ended the call of {params.name} without a result")

    # Tool list changes

    async def follow_tool_changes(self) -> None:
        """Tell the host about tool list changes that WatchEvents reports, or re-list on a timer without it."""
        delay = WATCH_RETRY_INITIAL_SECONDS
        while True:
            try:
                async for event in self.client.watch_events(router_pb2.WatchEventsRequest(), timeout=None):
                    delay = WATCH_RETRY_INITIAL_SECONDS
                    kind = event.WhichOneof("event")
                    if kind == "tools":
                        await self.announce_tool_change()
                    elif kind in RECHECK_EVENTS:
                        await self.announce_if_tools_changed()
                log.warning("target=%s the router ended the event stream, subscribing again", self.client.target)
            except Unimplemented:
                await self.poll_tool_changes()
                return
            except CommandError as error:
                log.warning("target=%s event stream failed, retry in %gs: %s", self.client.target, delay, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, WATCH_RETRY_MAX_SECONDS)
            # Changes made while no stream was open produced no event.
            await self.announce_if_tools_changed()

    async def poll_tool_changes(self) -> None:
        if self.poll_interval <= 0:
            log.warning("target=%s the router has no WatchEvents and polling is off, so tool list changes are not followed", self.client.target)
            return
        log.warning("target=%s the router has no WatchEvents, so the front lists tools every %gs to find changes", self.client.target, self.poll_interval)
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.announce_if_tools_changed()

    async def announce_if_tools_changed(self) -> None:
        try:
            current = tools_fingerprint(await self.client.list_tools())
        except CommandError as error:
            log.debug("target=%s tool list check failed: %s", self.client.target, error)
            return
        if current != self._known_tools:
            self._known_tools = current
            await self.announce_tool_change()

    async def announce_tool_change(self) -> None:
        # A host that has not finished initializing lists the tools on its own.
        if self._host is None:
            return
        await self._host.send_tool_list_changed()
        log.info("target=%s tool list changed, sent notifications/tools/list_changed", self.client.target)


async def run_front(connection: RouterConnection, timeout: float | None, poll_interval: float) -> int:
    async with RouterClient(connection, timeout) as client:
        await StdioFront(client, poll_interval).serve()
    return 0


def add_front_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help="only for routers without WatchEvents: seconds between tool list checks, where 0 turns them off "
        f"(default: {DEFAULT_POLL_SECONDS:g})",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="log detail on stderr (default: info)")


def main(argv: list[str] | None = None) -> None:
    """`mcp-router-stdio`: serve the router's tools to a desktop MCP host over stdio."""
    parser = argparse.ArgumentParser(
        prog="mcp-router-stdio",
        description="An MCP server over stdio for Claude Desktop, VS Code or Cursor that serves every tool of "
        "the MCP Router under its qualified name <server>__<tool>. Logs go to stderr.",
    )
    add_connection_options(parser, suppress=False)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CALL_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"gRPC deadline of each tool call and tool listing (default: {DEFAULT_CALL_TIMEOUT_SECONDS:g})",
    )
    add_front_options(parser)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout: must be a positive number of seconds")
    try:
        connection = connection_from_args(args)
    except UsageError as error:
        parser.error(str(error))
    configure_logging(args.log_level)
    try:
        code = asyncio.run(run_front(connection, args.timeout, args.poll_interval))
    except CommandError as error:
        print(f"mcp-router-stdio: {error}", file=sys.stderr)
        code = error.exit_code
    sys.exit(code)


if __name__ == "__main__":
    main()
