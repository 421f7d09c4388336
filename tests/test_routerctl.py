"""routerctl against a real router: status, tools, call, forward, servers start/stop/restart,
reset-breakers, and the exit codes of its errors."""

from __future__ import annotations

import json

import grpc
import pytest

from mcp_router.v1 import router_pb2
from tests.conftest import everything_server, fault_server, time_server
from tests.fixtures.fault_server import TOOLS as FAULT_TOOLS
from tests.routerctl_support import Background, eventually, routerctl, unused_target


@pytest.fixture
async def router(start_router):
    return await start_router({"fault": fault_server(), "time": time_server()})


def table(output: str) -> dict[str, list[str]]:
    """Split a routerctl table into rows keyed by their first cell, the header row included."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        rows[cells[0]] = cells
    return rows


# status


async def test_status_table_lists_every_server(router):
    fault = await router.server("fault")
    result = await routerctl("--target", router.target, "status")

    assert result.code == 0, result
    rows = table(result.stdout)
    assert rows["NAME"] == ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "BREAKER", "TOOLS", "P50"]
    assert rows["fault"][1:3] == ["RUNNING", str(fault.pid)]
    assert rows["fault"][4:7] == ["0", "CLOSED", str(len(FAULT_TOOLS))]
    assert rows["time"][1] == "RUNNING"
    assert rows["time"][6] == "2"


async def test_status_json_has_each_server(router):
    time = await router.server("time")
    result = await routerctl("status", "--json", "--target", router.target)

    assert result.code == 0, result
    servers = {server["name"]: server for server in result.json()["servers"]}
    assert set(servers) == {"fault", "time"}
    assert servers["time"]["state"] == "RUNNING"
    assert servers["time"]["pid"] == time.pid
    assert servers["time"]["tool_count"] == 2
    assert servers["time"]["breaker"] == "CLOSED"
    # JSON text fields arrive parsed, under the name without _json.
    assert servers["time"]["server_info"]["name"] == json.loads(time.server_info_json)["name"]


async def test_status_of_one_server_shows_detail(start_router):
    router = await start_router({"fault": fault_server()})
    await router.call("fault__stderr_flood", {"bytes": 2000})

    result = await routerctl("--target", router.target, "status", "fault")

    assert result.code == 0, result
    assert "state:" in result.stdout
    assert "RUNNING" in result.stdout
    assert f"pid:                    {(await router.server('fault')).pid}" in result.stdout
    assert "stderr tail:" in result.stdout
    assert "flooding stderr" in result.stdout


async def test_status_of_unknown_server_exits_4(router):
    result = await routerctl("--target", router.target, "status", "nope")

    assert result.code == 4, result
    assert result.stderr.startswith("routerctl: ")
    assert "nope" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# tools


async def test_tools_lists_qualified_names(router):
    result = await routerctl("--target", router.target, "tools", "--server", "time")

    assert result.code == 0, result
    rows = table(result.stdout)
    assert set(rows) == {"TOOL", "time__get_current_time", "time__convert_time"}


async def test_tools_json_parses_schemas(router):
    result = await routerctl("--target", router.target, "--json", "tools")

    assert result.code == 0, result
    tools = {tool["qualified_name"]: tool for tool in result.json()["tools"]}
    assert len(tools) == len(FAULT_TOOLS) + 2
    assert tools["fault__echo"]["server"] == "fault"
    assert tools["fault__echo"]["name"] == "echo"
    assert tools["fault__echo"]["input_schema"] == {"type": "object", "properties": {"text": {"type": "string"}}}
    assert tools["fault__echo"]["tool"]["description"] == "Returns the text argument."


async def test_tools_of_unknown_server_exits_4(router):
    result = await routerctl("--target", router.target, "tools", "--server", "nope")

    assert result.code == 4, result
    assert "nope" in result.stderr


# call


async def test_call_prints_text_result(router):
    result = await routerctl("--target", router.target, "call", "fault", "echo", "--args", '{"text": "héllo ✓ 9007199254740993"}')

    assert result.code == 0, result
    assert result.stdout == "héllo ✓ 9007199254740993\n"


async def test_call_json_has_result_and_timing(router):
    plain = await routerctl("--target", router.target, "call", "time", "get_current_time", "--args", '{"timezone": "Europe/Paris"}')
    result = await routerctl("--target", router.target, "--timeout", "30", "call", "time", "get_current_time", "--args", '{"timezone": "Europe/Paris"}', "--json")

    assert plain.code == 0, plain
    assert json.loads(plain.stdout)["timezone"] == "Europe/Paris"
    assert result.code == 0, result
    reply = result.json()
    assert reply["server"] == "time"
    assert reply["tool"] == "get_current_time"
    assert reply["is_error"] is False
    assert reply["timeout_ms"] <= 30_000
    assert json.loads(reply["result"]["content"][0]["text"])["timezone"] == "Europe/Paris"


async def test_call_shows_progress_and_logs_on_stderr(router):
    progress = await routerctl("--target", router.target, "call", "fault", "progress", "--args", '{"steps": 3}')
    logged = await routerctl("--target", router.target, "call", "fault", "log", "--args", '{"note": "disk almost full"}')

    assert progress.code == 0, progress
    assert progress.stdout == "done 3 steps\n"
    assert progress.stderr.splitlines() == ["progress 1/3: step 1", "progress 2/3: step 2", "progress 3/3: step 3"]
    assert logged.code == 0, logged
    assert logged.stdout == "logged\n"
    assert logged.stderr.splitlines() == ['log warning fault: {"note":"disk almost full"}']


async def test_call_long_running_operation_progress(start_router):
    router = await start_router({"everything": everything_server()})
    result = await routerctl("--target", router.target, "call", "everything", "trigger-long-running-operation", "--args", '{"duration": 1, "steps": 2}')

    assert result.code == 0, result
    assert result.stdout == "Long running operation completed. Duration: 1 seconds, Steps: 2.\n"
    assert result.stderr.splitlines() == ["progress 1/2", "progress 2/2"]


async def test_call_tool_error_exits_1(router):
    plain = await routerctl("--target", router.target, "call", "fault", "tool_error")
    as_json = await routerctl("--target", router.target, "--json", "call", "fault", "tool_error")

    assert plain.code == 1, plain
    assert plain.stdout == "the tool failed on purpose\n"
    assert "isError" in plain.stderr
    assert as_json.code == 1, as_json
    assert as_json.json()["is_error"] is True


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["call", "nope", "echo"], 4, "server 'nope'"),
        (["call", "fault", "nope"], 4, "no tool 'nope'"),
        (["call", "fault", "echo", "--args", "{text: 1}"], 2, "--args: invalid JSON"),
        (["call", "fault", "echo", "--args", "[1, 2]"], 2, "--args: expected a JSON object"),
        (["call", "fault", "echo", "--args", "[" * 5000 + "]" * 5000], 2, "--args: JSON nested too deeply"),
        (["call", "fault", "rpc_error", "--args", '{"code": -32602}'], 2, "invalid params on purpose"),
        (["call", "fault", "rpc_error", "--args", '{"code": -32000}'], 1, "INTERNAL"),
        (["--timeout", "1", "call", "fault", "hang"], 5, "deadline of 1s (--timeout)"),
    ],
)
async def test_call_errors_exit_with_their_code(router, args, code, expected):
    result = await routerctl("--target", router.target, *args)

    assert result.code == code, result
    assert result.stdout == ""
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_call_with_open_breaker_is_not_unreachable(start_router):
    router = await start_router({"fault": fault_server(breaker={"failureThreshold": 1, "recoveryTimeoutSeconds": 600})})
    timed_out = await routerctl("--target", router.target, "--timeout", "1", "call", "fault", "hang")
    refused = await routerctl("--target", router.target, "call", "fault", "echo")

    assert timed_out.code == 5, timed_out
    assert refused.code == 1, refused
    assert "circuit breaker is open" in refused.stderr


async def test_call_interrupted_exits_130(router):
    caller = Background("--target", router.target, "call", "fault", "hang")
    await caller.start()
    try:
        # The call is in flight once the router counts it.
        async def in_flight() -> bool:
            stats = await router.stub.GetStats(router_pb2.GetRouterStatsRequest(), timeout=10)
            return any(entry.name == "fault" and entry.in_flight == 1 for entry in stats.servers)

        await eventually(in_flight)
        code, stderr = await caller.interrupt()
    finally:
        await caller.stop()

    assert code == 130, stderr


# forward


async def test_forward_prints_response_verbatim(router):
    result = await routerctl("--target", router.target, "forward", "fault", '{"jsonrpc": "2.0", "id": "seven", "method": "ping"}')

    assert result.code == 0, result
    assert json.loads(result.stdout) == {"jsonrpc": "2.0", "id": "seven", "result": {}}


async def test_forward_error_response_exits_1(router):
    result = await routerctl("--target", router.target, "forward", "fault", '{"jsonrpc": "2.0", "id": 3, "method": "no/such"}')

    assert result.code == 1, result
    response = json.loads(result.stdout)
    assert response["id"] == 3
    assert response["error"]["code"] == -32601


async def test_forward_bad_json_names_argument(router):
    result = await routerctl("--target", router.target, "forward", "fault", "{not json")

    assert result.code == 2, result
    assert result.stderr.startswith("routerctl: REQUEST: invalid JSON")


# servers start, stop, restart


async def test_servers_stop_start_restart(router):
    old_pid = (await router.server("fault")).pid

    stopped = await routerctl("--target", router.target, "servers", "stop", "time")
    started = await routerctl("--target", router.target, "servers", "start", "time")
    restarted = await routerctl("--target", router.target, "--json", "servers", "restart", "fault")

    assert stopped.code == 0, stopped
    assert table(stopped.stdout)["time"][1:3] == ["STOPPED", "-"]
    assert started.code == 0, started
    assert table(started.stdout)["time"][1] == "RUNNING"
    assert restarted.code == 0, restarted
    reply = restarted.json()
    assert reply["state"] == "RUNNING"
    assert reply["restarts"] == 1
    assert reply["pid"] != old_pid
    assert (await router.server("fault")).pid == reply["pid"]


async def test_servers_start_failure_exits_1(start_router, tmp_path):
    router = await start_router(
        {"ok": fault_server(), "broken": fault_server("--exit-at-start", "3", enabled=False, maxStartFailures=1)},
        wait_for=["ok"],
    )
    result = await routerctl("--target", router.target, "servers", "start", "broken")

    assert result.code == 1, result
    assert "server broken is FATAL after start" in result.stderr
    assert table(result.stdout)["broken"][1] == "FATAL"


async def test_servers_unknown_name_exits_4(router):
    for action in ("start", "stop", "restart"):
        result = await routerctl("--target", router.target, "servers", action, "nope")
        assert result.code == 4, result
        assert "nope" in result.stderr


# reset-breakers


async def test_reset_breakers_closes_open_breaker(start_router):
    router = await start_router({"fault": fault_server(breaker={"failureThreshold": 1, "recoveryTimeoutSeconds": 600}), "time": time_server()})
    with pytest.raises(grpc.aio.AioRpcError):
        await router.call("fault__hang", timeout=0.5)
    assert (await router.server("fault")).breaker == router_pb2.OPEN

    one = await routerctl("--target", router.target, "reset-breakers", "fault")
    every = await routerctl("--target", router.target, "--json", "reset-breakers")
    unknown = await routerctl("--target", router.target, "reset-breakers", "nope")

    assert one.code == 0, one
    assert table(one.stdout)["fault"] == ["fault", "CLOSED"]
    assert (await router.server("fault")).breaker == router_pb2.CLOSED
    assert every.code == 0, every
    assert {server["name"]: server["breaker"] for server in every.json()["servers"]} == {"fault": "CLOSED", "time": "CLOSED"}
    assert unknown.code == 4, unknown


# Reaching the router, and usage errors


async def test_unreachable_router_exits_3_naming_target():
    target = unused_target()
    for args in (["status"], ["tools"], ["call", "fault", "echo"], ["watch", "--count", "1"], ["forward", "fault", '{"jsonrpc": "2.0", "id": 1, "method": "ping"}']):
        result = await routerctl("--target", target, *args)
        assert result.code == 3, result
        assert f"cannot reach the router at {target}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


async def test_target_from_environment(router):
    found = await routerctl("status", env={"MCP_ROUTER_TARGET": router.target})
    missing = await routerctl("status", env={"MCP_ROUTER_TARGET": unused_target()})
    overridden = await routerctl("--target", router.target, "status", env={"MCP_ROUTER_TARGET": unused_target()})

    assert found.code == 0, found
    assert "fault" in table(found.stdout)
    assert missing.code == 3, missing
    assert overridden.code == 0, overridden


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target", "no-port", "status"], "--target"),
        (["--timeout", "0", "status"], "--timeout"),
        (["--timeout", "soon", "status"], "--timeout"),
        ([], "COMMAND"),
        (["servers", "add", "x"], "--command"),
        (["servers", "add", "x", "--command", "a", "--json", "{}"], "cannot be combined with --command"),
        (["servers", "add", "x", "--command", "a", "--env", "NOEQUALS"], "--env 'NOEQUALS': expected KEY=VALUE"),
        (["servers", "add", "x", "--json", "[]"], "--json: expected a JSON object"),
        (["config", "export", "--client", "emacs"], "--client"),
    ],
)
async def test_usage_errors_exit_2(args, expected):
    result = await routerctl(*args)

    assert result.code == 2, result
    assert expected in result.stderr


async def test_help_lists_commands_and_exit_codes():
    overview = await routerctl("--help")
    call_help = await routerctl("call", "--help")

    assert overview.code == 0, overview
    for command in ("status", "tools", "call", "forward", "watch", "stats", "enhance", "servers", "reset-breakers", "clear-cache", "config", "connect"):
        assert f"    {command} " in overview.stdout
    assert "exit codes:" in overview.stdout
    assert "  7  the router rejected the call" in overview.stdout
    assert call_help.code == 0, call_help
    assert "--args JSON" in call_help.stdout
