"""Tool calls through a real router: routing, concurrency, ids, payloads, deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import grpc
import pytest

from mcp_router.v1 import router_pb2
from tests.conftest import fault_server, time_server


async def test_time_server_tools_listed_and_called(start_router):
    router = await start_router({"time": time_server()})

    listed = await router.stub.ListTools(router_pb2.ListToolsRequest(), timeout=10)
    names = {tool.qualified_name for tool in listed.tools}
    assert "time__get_current_time" in names
    tool = next(tool for tool in listed.tools if tool.name == "get_current_time")
    assert tool.server == "time"
    assert json.loads(tool.input_schema_json)["type"] == "object"

    for server, name in (("", "time__get_current_time"), ("time", "get_current_time"), ("", "get_current_time")):
        reply = await router.call(name, {"timezone": "Europe/Paris"}, server=server)
        result = json.loads(reply.result_json)
        assert reply.server == "time"
        assert reply.tool == "get_current_time"
        assert reply.is_error is False
        assert "Europe/Paris" in result["content"][0]["text"]
        # The caller's 30 s deadline is below the server's 60 s request timeout, so it
        # sets the budget (gRPC rounds the deadline it sends up by a few milliseconds).
        assert 25_000 < reply.timeout_ms <= 31_000


async def test_status_codes_for_bad_requests(start_router):
    router = await start_router({"fault": fault_server()})

    cases = [
        (router_pb2.CallToolRequest(server="nope", tool="echo"), grpc.StatusCode.NOT_FOUND, "server 'nope'"),
        (router_pb2.CallToolRequest(server="fault", tool="nope"), grpc.StatusCode.NOT_FOUND, "no tool 'nope'"),
        (router_pb2.CallToolRequest(tool="nope"), grpc.StatusCode.NOT_FOUND, "no server has a tool named 'nope'"),
        (router_pb2.CallToolRequest(tool="fault__echo", arguments_json="[1, 2]"), grpc.StatusCode.INVALID_ARGUMENT, "must be a JSON object"),
        (router_pb2.CallToolRequest(tool="fault__echo", arguments_json="{bad"), grpc.StatusCode.INVALID_ARGUMENT, "not valid JSON"),
        (router_pb2.CallToolRequest(tool="fault__echo", arguments_json="[" * 100_000), grpc.StatusCode.INVALID_ARGUMENT, "arguments_json"),
        (router_pb2.CallToolRequest(tool="fault__rpc_error", arguments_json='{"code": -32602}'), grpc.StatusCode.INVALID_ARGUMENT, "-32602"),
    ]
    for request, code, text in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await router.stub.CallTool(request, timeout=10)
        assert caught.value.code() == code, request
        assert text in caught.value.details(), caught.value.details()

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.GetServer(router_pb2.GetServerRequest(name="nope"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    await router.stub.StopServer(router_pb2.StopServerRequest(name="fault"), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__echo", {"text": "hi"})
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "STOPPED" in caught.value.details()


async def test_tool_error_result_is_not_a_status_error(start_router):
    router = await start_router({"fault": fault_server()})

    reply = await router.call("fault__tool_error")

    assert reply.is_error is True
    assert json.loads(reply.result_json)["content"][0]["text"] == "the tool failed on purpose"


async def test_64_concurrent_calls_share_one_server(start_router):
    router = await start_router({"fault": fault_server()})

    # The barrier tool answers only when all 64 calls are in flight at once, so a
    # router that sent calls one at a time would run into the deadline instead.
    replies = await asyncio.gather(*(router.call("fault__barrier", {"count": 64, "text": f"call-{number}"}, timeout=60) for number in range(64)))

    texts = [json.loads(reply.result_json)["content"][0]["text"] for reply in replies]
    assert texts == [f"call-{number}" for number in range(64)]


async def test_forward_returns_each_caller_its_own_id(start_router):
    router = await start_router({"fault": fault_server()})

    async def forward(request_id, text: str) -> dict:
        request = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "sleep" if text == "slow" else "echo", "arguments": {"text": text, "seconds": 0.3}}}
        reply = await router.stub.Forward(router_pb2.ForwardRequest(server="fault", request_json=json.dumps(request)), timeout=10)
        return json.loads(reply.response_json)

    first, second = await asyncio.gather(forward(1, "slow"), forward(1, "fast"))
    assert first["id"] == 1
    assert second["id"] == 1
    assert first["result"]["content"][0]["text"] == "slept 0.3"
    assert second["result"]["content"][0]["text"] == "fast"

    for request_id in (0, "1", 1, "", 2**60 + 1):
        answer = await forward(request_id, f"id {request_id!r}")
        assert answer["id"] == request_id
        assert type(answer["id"]) is type(request_id)
        assert answer["result"]["content"][0]["text"] == f"id {request_id!r}"


async def test_forward_rejects_invalid_requests_with_jsonrpc_errors(start_router):
    router = await start_router({"fault": fault_server()})

    cases = [
        ("{not json", None, -32700),
        ('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', None, -32600),
        ('{"jsonrpc":"2.0","id":null,"method":"ping"}', None, -32600),
        ('{"jsonrpc":"2.0","method":"ping"}', None, -32600),
        ('{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}', 7, -32600),
        ('{"id":"x","method":"ping"}', "x", -32600),
        ('"just a string"', None, -32600),
        ('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', None, -32600),
    ]
    for text, expected_id, code in cases:
        reply = await router.stub.Forward(router_pb2.ForwardRequest(server="fault", request_json=text), timeout=10)
        answer = json.loads(reply.response_json)
        assert answer["id"] == expected_id, text
        assert answer["error"]["code"] == code, text

    ping = await router.stub.Forward(router_pb2.ForwardRequest(server="fault", request_json='{"jsonrpc":"2.0","id":"p","method":"ping"}'), timeout=10)
    assert json.loads(ping.response_json) == {"jsonrpc": "2.0", "id": "p", "result": {}}


async def test_payloads_stay_lossless(start_router):
    router = await start_router({"fault": fault_server()})
    arguments = '{"z": 18446744073709551617, "a": "\u00e9\u6f22\U0001f600", "m": [1.5, null, true]}'

    reply = await router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo_args", arguments_json=arguments), timeout=10)

    echoed = json.loads(reply.result_json)["content"][0]["text"]
    assert echoed == json.dumps(json.loads(arguments), ensure_ascii=False)
    assert list(json.loads(echoed)) == ["z", "a", "m"]
    assert json.loads(echoed)["z"] == 2**64 + 1


async def test_16_mib_result_passes(start_router):
    router = await start_router({"fault": fault_server()})
    size = 16 * 1024 * 1024

    reply = await router.call("fault__big", {"bytes": size}, timeout=60)

    assert len(json.loads(reply.result_json)["content"][0]["text"]) == size


async def test_banner_lines_before_initialize_are_ignored(start_router):
    router = await start_router({"fault": fault_server("--banner", "5")})

    server = await router.server("fault")
    reply = await router.call("fault__echo", {"text": "after banners"})

    assert server.state == router_pb2.RUNNING
    assert server.noise_lines == 5
    assert json.loads(reply.result_json)["content"][0]["text"] == "after banners"


async def test_kill_9_fails_pending_call(start_router):
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1)})
    server = await router.server("fault")

    call = asyncio.create_task(router.call("fault__hang", timeout=60))
    await asyncio.sleep(0.5)
    os.kill(server.pid, signal.SIGKILL)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    # DEADLINE_EXCEEDED here would mean the call waited for its 60 s deadline.
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "exited with code -9" in caught.value.details()


async def test_deadline_cancels_upstream_and_server_keeps_serving(start_router):
    router = await start_router({"fault": fault_server()})

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__hang", timeout=1.0)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    reply = await router.call("fault__cancellations")
    cancelled = json.loads(json.loads(reply.result_json)["content"][0]["text"])
    assert len(cancelled) == 1
    server = await router.server("fault")
    assert server.state == router_pb2.RUNNING
    assert server.restarts == 0


async def test_caller_cancel_is_sent_upstream(start_router):
    router = await start_router({"fault": fault_server()})

    call = router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__hang"), timeout=60)
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    for _ in range(50):
        reply = await router.call("fault__cancellations")
        if json.loads(json.loads(reply.result_json)["content"][0]["text"]):
            break
        await asyncio.sleep(0.1)
    assert len(json.loads(json.loads(reply.result_json)["content"][0]["text"])) == 1


async def test_router_timeout_applies_when_caller_sets_none(start_router):
    router = await start_router({"fault": fault_server(requestTimeoutSeconds=1)})

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__hang"))

    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "within 1000 ms" in caught.value.details()
