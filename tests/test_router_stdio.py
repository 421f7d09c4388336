"""Stdio framing and message routing against servers that break the rules."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from mcp_router.v1 import router_pb2
from tests.conftest import fault_server
from tests.fixtures.fault_server import TOOLS
from tests.test_router_lifecycle import wait_until


def text_of(reply: router_pb2.CallToolResponse) -> str:
    return json.loads(reply.result_json)["content"][0]["text"]


async def test_noise_bom_and_invalid_utf8_are_survived(start_router):
    router = await start_router({"fault": fault_server()})

    reply = await router.call("fault__noise")
    server = await router.server("fault")

    assert text_of(reply) == "bad \ufffd\ufffd bytes"
    assert server.noise_lines == 1
    assert server.state == router_pb2.RUNNING
    assert text_of(await router.call("fault__echo", {"text": "still fine"})) == "still fine"


async def test_crlf_and_bom_on_every_line(start_router):
    router = await start_router({"fault": fault_server("--crlf", "--bom")})

    reply = await router.call("fault__echo", {"text": "windows"})

    assert text_of(reply) == "windows"
    assert (await router.server("fault")).noise_lines == 0


async def test_message_split_across_writes_keeps_multibyte_characters(start_router):
    router = await start_router({"fault": fault_server()})

    reply = await router.call("fault__split")

    assert text_of(reply) == "é" * 3000 + " split"


async def test_oversize_reply_fails_only_its_request(start_router):
    router = await start_router({"fault": fault_server(maxLineBytes=1024 * 1024)})

    slow = asyncio.create_task(router.call("fault__sleep", {"seconds": 0.5}))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__big", {"bytes": 20 * 1024 * 1024}, timeout=60)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxLineBytes=1048576" in caught.value.details()
    assert text_of(await slow) == "slept 0.5"
    assert text_of(await router.call("fault__echo", {"text": "after"})) == "after"
    assert (await router.server("fault")).restarts == 0


async def test_stderr_flood_does_not_block_the_server(start_router):
    router = await start_router({"fault": fault_server()})

    reply = await router.call("fault__stderr_flood", {"bytes": 8 * 1024 * 1024}, timeout=60)
    server = await router.server("fault")

    assert text_of(reply).startswith("wrote ")
    assert "flooding stderr" in server.stderr_tail
    assert len(server.stderr_tail) <= 8000


async def test_duplicate_reply_is_dropped(start_router):
    router = await start_router({"fault": fault_server()})

    first = await router.call("fault__duplicate", {"delay": 0.1})
    await asyncio.sleep(0.3)
    second = await router.call("fault__echo", {"text": "next"})

    assert text_of(first) == "first"
    assert text_of(second) == "next"


async def test_error_without_id_is_dropped(start_router):
    router = await start_router({"fault": fault_server("--error-on-unknown-notification")})

    # The router's own notifications/initialized made the server send an id-less error.
    reply = await router.call("fault__echo", {"text": "alive"})

    assert text_of(reply) == "alive"
    assert (await router.server("fault")).state == router_pb2.RUNNING


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("ping", None, {"result": {}}),
        ("roots/list", None, {"result": {"roots": [{"uri": "file:///work", "name": "work"}]}}),
        ("sampling/createMessage", {"messages": [], "maxTokens": 5}, {"error_code": -32601}),
        ("elicitation/create", {"message": "name?"}, {"error_code": -32601}),
        ("tools/unknown", None, {"error_code": -32601}),
    ],
)
async def test_server_requests_get_answers(start_router, method, params, expected):
    router = await start_router({"fault": fault_server(roots=[{"uri": "file:///work", "name": "work"}])})

    reply = await router.call("fault__ask_client", {"method": method, "params": params})
    answer = json.loads(text_of(reply))

    if "result" in expected:
        assert answer["result"] == expected["result"]
    else:
        assert answer["error"]["code"] == expected["error_code"]
        assert answer["error"]["message"]


async def test_tool_pages_are_followed_and_repeats_stop(start_router):
    router = await start_router({"paged": fault_server("--tool-pages", "4"), "looping": fault_server("--repeat-cursor")})

    paged = await router.stub.ListTools(router_pb2.ListToolsRequest(server="paged"), timeout=10)
    looping = await router.stub.ListTools(router_pb2.ListToolsRequest(server="looping"), timeout=10)

    assert "paged__echo_args" in {tool.qualified_name for tool in paged.tools}
    assert len(paged.tools) == len({tool.name for tool in paged.tools}) == len(TOOLS)
    assert len(looping.tools) == len(TOOLS)


async def test_unsupported_protocol_version_fails_start(start_router):
    router = await start_router(
        {"old": fault_server("--protocol", "1999-01-01", maxStartFailures=1), "fault": fault_server()}, wait_for=["fault"]
    )

    async def old_is_fatal():
        server = await router.server("old")
        return server if server.state == router_pb2.FATAL else None

    old = await wait_until(old_is_fatal)
    assert "unsupported protocol version '1999-01-01'" in old.last_error


async def test_slow_start_shows_starting_then_running(start_router):
    router = await start_router({"slow": fault_server("--slow-start", "2")}, wait_for=[])

    first = await router.server("slow")
    assert first.state == router_pb2.STARTING

    async def running():
        server = await router.server("slow")
        return server if server.state == router_pb2.RUNNING else None

    assert (await wait_until(running)).tool_count == len(TOOLS)


async def test_notification_bursts_and_unknown_progress_are_survived(start_router):
    router = await start_router({"fault": fault_server("--notify-before-initialize")})

    reply = await router.call("fault__burst", {"count": 2000})

    assert text_of(reply) == "burst sent"
    assert text_of(await router.call("fault__echo", {"text": "ok"})) == "ok"
