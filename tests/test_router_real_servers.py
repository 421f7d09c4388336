"""The router with the npm reference server, progress streaming, and the grpcurl binary."""

from __future__ import annotations

import asyncio
import json

from mcp_router.v1 import router_pb2
from tests.conftest import everything_server, fault_server, time_server
from tests.harness import BIN
from tests.test_router_lifecycle import wait_until


async def stream_events(router, tool: str, arguments: dict, timeout: float = 30) -> list[router_pb2.CallToolEvent]:
    request = router_pb2.CallToolRequest(tool=tool, arguments_json=json.dumps(arguments))
    return [event async for event in router.stub.CallToolStream(request, timeout=timeout)]


async def test_everything_server_tools_follow_list_changed(start_router):
    router = await start_router({"everything": everything_server(roots=[{"uri": "file:///srv/project", "name": "project"}])})

    # The server registers get-roots-list only after the handshake and announces it
    # with notifications/tools/list_changed, so it appears after a catalogue refresh.
    async def roots_tool_listed():
        listed = await router.stub.ListTools(router_pb2.ListToolsRequest(server="everything"), timeout=10)
        return "everything__get-roots-list" in {tool.qualified_name for tool in listed.tools}

    await wait_until(roots_tool_listed)
    echo = await router.call("everything__echo", {"message": "héllo"})
    assert "héllo" in json.loads(echo.result_json)["content"][0]["text"]

    roots = await router.call("everything__get-roots-list")
    assert "file:///srv/project" in roots.result_json


async def test_stream_relays_everything_server_progress(start_router):
    router = await start_router({"everything": everything_server()})

    events = await stream_events(router, "everything__trigger-long-running-operation", {"duration": 1, "steps": 3})

    progress = [event.progress for event in events if event.HasField("progress")]
    assert [step.progress for step in progress] == [1, 2, 3]
    assert all(step.total == 3 for step in progress)
    assert events[-1].HasField("result")
    assert events[-1].result.is_error is False
    assert "Long running operation completed" in json.loads(events[-1].result.result_json)["content"][0]["text"]


async def test_stream_relays_progress_and_logs_in_order(start_router):
    router = await start_router({"fault": fault_server()})

    progress_events = await stream_events(router, "fault__progress", {"steps": 4})
    log_events = await stream_events(router, "fault__log", {"note": "disk almost full"})

    assert [event.progress.message for event in progress_events[:-1]] == ["step 1", "step 2", "step 3", "step 4"]
    assert json.loads(progress_events[-1].result.result_json)["content"][0]["text"] == "done 4 steps"
    assert log_events[0].log.level == "warning"
    assert json.loads(log_events[0].log.data_json) == {"note": "disk almost full"}
    assert log_events[-1].HasField("result")


async def test_grpcurl_lists_checks_and_calls(start_router):
    router = await start_router({"time": time_server()})
    grpcurl = str(BIN / "grpcurl")

    async def run(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            grpcurl, "-plaintext", "-max-time", "20", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    services = (await run(router.target, "list")).split()
    health = json.loads(await run("-d", '{"service":"mcp_router.server.time"}', router.target, "grpc.health.v1.Health/Check"))
    tools = json.loads(await run("-d", '{"server":"time"}', router.target, "mcp_router.v1.RouterService/ListTools"))
    call = json.loads(
        await run(
            "-d",
            '{"tool":"time__get_current_time","arguments_json":"{\\"timezone\\":\\"Asia/Tokyo\\"}"}',
            router.target,
            "mcp_router.v1.RouterService/CallTool",
        )
    )

    assert "mcp_router.v1.RouterService" in services
    assert "grpc.health.v1.Health" in services
    assert health == {"status": "SERVING"}
    assert "time__convert_time" in {tool["qualified_name"] for tool in tools["tools"]}
    assert call["server"] == "time"
    assert "Asia/Tokyo" in json.loads(call["result_json"])["content"][0]["text"]
