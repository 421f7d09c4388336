"""The stdio front with the official MCP SDK client as the desktop host: listing, calling,
progress, errors, cancellation and tool list changes, against real router processes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from mcp_router.v1 import router_pb2, router_pb2_grpc
from tests.conftest import everything_server, fault_server, time_server
from tests.fixtures.fault_server import TOOLS as FAULT_TOOLS
from tests.routerctl_support import ROUTERCTL, STDIO_FRONT, connect_host, eventually, routerctl, text_of, unused_target


def front(target: str, *options: str) -> tuple[str, list[str]]:
    return str(STDIO_FRONT), ["--target", target, *options]


async def test_host_lists_and_calls_tools(start_router):
    router = await start_router({"fault": fault_server(), "time": time_server()})

    async with connect_host(*front(router.target)) as host:
        info = host.session.initialize_result
        listed = await host.session.list_tools()
        echoed = await host.session.call_tool("fault__echo", {"text": "héllo ✓"})
        clock = await host.session.call_tool("time__get_current_time", {"timezone": "Europe/Paris"})

    assert info.server_info.name == "mcp-router"
    assert info.capabilities.tools.list_changed is True
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == {f"fault__{tool['name']}" for tool in FAULT_TOOLS} | {"time__get_current_time", "time__convert_time"}
    assert tools["fault__echo"].input_schema == {"type": "object", "properties": {"text": {"type": "string"}}}
    assert tools["fault__echo"].description == "Returns the text argument."
    assert echoed.is_error is False
    assert text_of(echoed) == "héllo ✓"
    assert json.loads(text_of(clock))["timezone"] == "Europe/Paris"


async def test_progress_relayed_to_host(start_router):
    router = await start_router({"fault": fault_server(), "everything": everything_server()})
    fault_steps: list[tuple[float, float | None, str | None]] = []
    everything_steps: list[tuple[float, float | None, str | None]] = []

    async def on_fault_progress(progress: float, total: float | None, message: str | None) -> None:
        fault_steps.append((progress, total, message))

    async def on_everything_progress(progress: float, total: float | None, message: str | None) -> None:
        everything_steps.append((progress, total, message))

    async with connect_host(*front(router.target)) as host:
        fault = await host.session.call_tool("fault__progress", {"steps": 3}, progress_callback=on_fault_progress)
        long_running = await host.session.call_tool(
            "everything__trigger-long-running-operation", {"duration": 1, "steps": 2}, progress_callback=on_everything_progress
        )
        seen_before_quiet = len(host.notifications)
        quiet = await host.session.call_tool("fault__progress", {"steps": 2})
        after_quiet = host.notifications[seen_before_quiet:]

    assert text_of(fault) == "done 3 steps"
    assert fault_steps == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert long_running.is_error is False
    assert [(progress, total) for progress, total, _ in everything_steps] == [(1, 2), (2, 2)]
    # Without a progress token from the host, the front sends no progress at all.
    assert text_of(quiet) == "done 2 steps"
    assert [item for item in after_quiet if isinstance(item, types.ProgressNotification)] == []


async def test_errors_reach_host(start_router):
    router = await start_router({"fault": fault_server()})

    async with connect_host(*front(router.target, "--timeout", "2")) as host:
        with pytest.raises(MCPError) as unknown:
            await host.session.call_tool("fault__nope", {})
        with pytest.raises(MCPError) as invalid:
            await host.session.call_tool("fault__rpc_error", {"code": -32602})
        failed = await host.session.call_tool("fault__tool_error", {})
        internal = await host.session.call_tool("fault__rpc_error", {"code": -32000})
        timed_out = await host.session.call_tool("fault__hang", {})

    assert unknown.value.code == types.INVALID_PARAMS
    assert "no server has a tool named 'fault__nope'" in unknown.value.message
    assert invalid.value.code == types.INVALID_PARAMS
    assert "invalid params on purpose" in invalid.value.message
    assert failed.is_error is True
    assert text_of(failed) == "the tool failed on purpose"
    assert internal.is_error is True
    assert "INTERNAL" in text_of(internal)
    assert timed_out.is_error is True
    assert "deadline of 2s" in text_of(timed_out)


async def test_host_cancel_reaches_server(start_router):
    router = await start_router({"fault": fault_server()})

    async with connect_host(*front(router.target)) as host:
        with pytest.raises(MCPError):
            await host.session.call_tool("fault__hang", {}, read_timeout_seconds=1)

        async def server_saw_cancel() -> list[Any]:
            reply = await router.call("fault__cancellations")
            return json.loads(json.loads(reply.result_json)["content"][0]["text"])

        cancelled = await eventually(server_saw_cancel)

    assert len(cancelled) == 1


async def test_tools_change_via_watch_events(start_router):
    router = await start_router({"base": fault_server(), "late": fault_server(enabled=False)}, wait_for=["base"])

    # Polling is off, so only WatchEvents can tell the front about the change.
    async with connect_host(*front(router.target, "--poll-interval", "0")) as host:
        before = {tool.name for tool in (await host.session.list_tools()).tools}
        await router.stub.StartServer(router_pb2.StartServerRequest(name="late"), timeout=60)
        await asyncio.wait_for(host.tools_changed.wait(), 30)
        after = {tool.name for tool in (await host.session.list_tools()).tools}

    assert "base__echo" in before
    assert not any(name.startswith("late__") for name in before)
    assert "late__echo" in after
    assert len(after) == 2 * len(FAULT_TOOLS)


class ListOnlyRouter(router_pb2_grpc.RouterServiceServicer):
    """A stand-in for a router older than WatchEvents: it lists tools and leaves every other RPC UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.tools = [self.tool("one")]

    @staticmethod
    def tool(name: str) -> router_pb2.Tool:
        entry = {"name": name, "description": f"tool {name}", "inputSchema": {"type": "object"}}
        return router_pb2.Tool(server="old", name=name, qualified_name=f"old__{name}", description=entry["description"], tool_json=json.dumps(entry))

    async def ListTools(self, request, context):
        return router_pb2.ListToolsResponse(tools=self.tools)


async def test_tools_change_via_polling():
    stand_in = ListOnlyRouter()
    server = grpc.aio.server()
    router_pb2_grpc.add_RouterServiceServicer_to_server(stand_in, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with connect_host(*front(f"127.0.0.1:{port}", "--poll-interval", "0.2")) as host:
            before = [tool.name for tool in (await host.session.list_tools()).tools]
            stand_in.tools.append(ListOnlyRouter.tool("two"))
            await asyncio.wait_for(host.tools_changed.wait(), 30)
            after = [tool.name for tool in (await host.session.list_tools()).tools]
            front_log = host.front_log()
    finally:
        await server.stop(None)

    assert before == ["old__one"]
    assert after == ["old__one", "old__two"]
    assert "has no WatchEvents" in front_log


async def test_claude_desktop_snippet_starts_front(start_router):
    router = await start_router({"fault": fault_server()})
    exported = await routerctl("--target", router.target, "config", "export", "--client", "claude-desktop")
    assert exported.code == 0, exported
    entry = exported.json()["mcpServers"]["mcp-router"]

    async with connect_host(entry["command"], entry["args"]) as host:
        listed = await host.session.list_tools()
        echoed = await host.session.call_tool("fault__echo", {"text": "from Claude Desktop"})

    assert "fault__echo" in {tool.name for tool in listed.tools}
    assert text_of(echoed) == "from Claude Desktop"


async def test_routerctl_connect_serves_tools(start_router):
    router = await start_router({"time": time_server()})

    async with connect_host(str(ROUTERCTL), ["--target", router.target, "connect"]) as host:
        listed = await host.session.list_tools()
        reply = await host.session.call_tool("time__get_current_time", {"timezone": "UTC"})

    assert {tool.name for tool in listed.tools} == {"time__get_current_time", "time__convert_time"}
    assert json.loads(text_of(reply))["timezone"] == "UTC"


async def test_unreachable_router_reported_to_host():
    target = unused_target()

    async with connect_host(*front(target)) as host:
        with pytest.raises(MCPError) as listing:
            await host.session.list_tools()
        reply = await host.session.call_tool("fault__echo", {"text": "hello"})

    assert f"cannot reach the router at {target}" in listing.value.message
    assert reply.is_error is True
    assert f"cannot reach the router at {target}" in text_of(reply)
