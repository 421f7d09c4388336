"""routerctl's operator commands against a real router: watch, servers add/update/remove, stats,
and the latency column of status."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

import grpc
import pytest

from mcp_router.v1 import router_pb2
from tests.conftest import fault_server, time_server
from tests.harness import BIN
from tests.routerctl_support import Background, eventually, routerctl

MANAGED = {"allowServerManagement": True}
EVENT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+Z (\S+) (.*)$")


def table(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in output.splitlines() if line.strip()}


async def restart(router, name: str) -> None:
    await router.stub.RestartServer(router_pb2.RestartServerRequest(name=name), timeout=60)


async def wait_for_line(watcher: Background, matches: Callable[[str], bool], trigger: Callable[[], Awaitable[None]] | None = None, timeout: float = 60) -> str:
    """Read watch output until a line matches, and run `trigger` before each read until then."""
    async def next_match() -> str | None:
        if trigger is not None:
            await trigger()
        line = await watcher.read_line(2)
        return line if line is not None and matches(line) else None

    return await eventually(next_match, timeout=timeout, interval=0)


# watch


async def test_watch_prints_restart_of_one_server(start_router):
    router = await start_router({"fault": fault_server(), "other": fault_server()})
    watcher = Background("--target", router.target, "watch", "--server", "fault")
    await watcher.start()
    try:
        # The watch is live once a restart shows up, so each attempt until then restarts both servers.
        async def restart_both() -> None:
            await restart(router, "other")
            await restart(router, "fault")

        await wait_for_line(watcher, lambda line: "restarted" in line, trigger=restart_both)
        await router.call("fault__stderr_flood", {"bytes": 2000})
        await wait_for_line(watcher, lambda line: "state STARTING -> RUNNING" in line)
        code, stderr = await watcher.interrupt()
    finally:
        await watcher.stop()

    assert code == 0, stderr
    servers = {EVENT_LINE.match(line).group(1) for line in watcher.lines}
    assert servers == {"fault"}
    assert any(re.search(r" fault restarted \(restart \d+\): \S", line) for line in watcher.lines)
    assert any(line.endswith("fault state RUNNING -> STOPPING") for line in watcher.lines)
    # Without --stderr, the server's stderr lines stay out of the watch.
    assert not any(" stderr: " in line for line in watcher.lines)


async def test_watch_json_sees_crash_restart_and_breaker(start_router):
    router = await start_router(
        {"fault": fault_server(backoffInitialSeconds=0.1, breaker={"failureThreshold": 1, "recoveryTimeoutSeconds": 600}), "probe": fault_server()}
    )
    watcher = Background("--target", router.target, "--json", "watch")
    await watcher.start()
    try:
        await wait_for_line(watcher, lambda line: json.loads(line)["server"] == "probe", trigger=lambda: restart(router, "probe"))
        with pytest.raises(grpc.aio.AioRpcError):
            await router.call("fault__crash", {"code": 70})

        def fault_events(kind: str) -> list[dict]:
            events = [json.loads(line) for line in watcher.lines]
            return [event for event in events if event["server"] == "fault" and kind in event]

        # The breaker opens when the call fails and the restart follows, so read until both arrived.
        await wait_for_line(watcher, lambda _line: bool(fault_events("restart") and fault_events("breaker")))
        restarted = fault_events("restart")[0]
        breaker = fault_events("breaker")[0]
        code, stderr = await watcher.interrupt()
    finally:
        await watcher.stop()

    assert code == 0, stderr
    assert restarted["restart"]["restarts"] == 1
    assert "70" in restarted["restart"]["reason"]
    assert breaker["breaker"]["from_state"] == "CLOSED"
    assert breaker["breaker"]["to_state"] == "OPEN"
    assert re.match(r"^\d{4}-\d\d-\d\dT", breaker["at"])


async def test_watch_stderr_shows_server_lines(start_router):
    router = await start_router({"fault": fault_server()})
    watcher = Background("--target", router.target, "watch", "--stderr", "--server", "fault")
    await watcher.start()
    try:
        await wait_for_line(watcher, lambda line: "restarted" in line, trigger=lambda: restart(router, "fault"))
        await router.call("fault__stderr_flood", {"bytes": 2000})
        line = await wait_for_line(watcher, lambda line: " stderr: " in line)
    finally:
        await watcher.stop()

    assert EVENT_LINE.match(line).group(1) == "fault"
    assert "flooding stderr" in line


async def test_watch_count_ends_after_n_events(start_router):
    router = await start_router({"fault": fault_server()})
    watcher = Background("--target", router.target, "watch", "--count", "2")
    await watcher.start()
    try:
        async def exited() -> bool:
            await restart(router, "fault")
            try:
                await asyncio.wait_for(asyncio.shield(watcher.process.wait()), 2)
            except asyncio.TimeoutError:
                return False
            return True

        await eventually(exited, timeout=60, interval=0)
        code, stderr = await watcher.wait()
    finally:
        await watcher.stop()

    assert code == 0, stderr
    assert len(watcher.lines) == 2


async def test_watch_timeout_ends_quietly(start_router):
    router = await start_router({"fault": fault_server()})
    result = await routerctl("--target", router.target, "--timeout", "2", "watch", "--server", "fault")

    assert result.code == 0, result
    assert result.stdout == ""
    assert result.stderr == ""


# servers add, update, remove


async def test_servers_add_update_remove(start_router):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    command = str(BIN / "mcp-server-time")

    added = await routerctl("--target", router.target, "servers", "add", "clock", "--command", command, "--arg=--local-timezone", "--arg", "UTC")
    tools = await routerctl("--target", router.target, "tools", "--server", "clock")
    saved_after_add = json.loads(router.config_path.read_text())["mcpServers"]
    again = await routerctl("--target", router.target, "servers", "add", "clock", "--command", command)
    entry = {"command": command, "args": ["--local-timezone", "Europe/Paris"], "env": {"CLOCK_NOTE": "updated"}}
    updated = await routerctl("--target", router.target, "--json", "servers", "update", "clock", "--json", json.dumps(entry))
    saved_after_update = json.loads(router.config_path.read_text())["mcpServers"]
    removed = await routerctl("--target", router.target, "servers", "remove", "clock")
    status = await routerctl("--target", router.target, "status")
    saved_after_remove = json.loads(router.config_path.read_text())["mcpServers"]
    removed_again = await routerctl("--target", router.target, "servers", "remove", "clock")

    assert added.code == 0, added
    assert table(added.stdout)["clock"][1] == "RUNNING"
    assert set(table(tools.stdout)) == {"TOOL", "clock__get_current_time", "clock__convert_time"}
    assert saved_after_add["clock"] == {"command": command, "args": ["--local-timezone", "UTC"]}
    assert again.code == 6, again
    assert "clock" in again.stderr
    assert updated.code == 0, updated
    assert updated.json()["state"] == "RUNNING"
    assert updated.json()["command"] == f"{command} --local-timezone Europe/Paris"
    assert saved_after_update["clock"] == entry
    assert removed.code == 0, removed
    assert removed.stdout == "removed clock\n"
    assert set(table(status.stdout)) == {"NAME", "fault"}
    assert set(saved_after_remove) == {"fault"}
    assert removed_again.code == 4, removed_again


async def test_servers_add_env_and_cwd(start_router, tmp_path):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)

    added = await routerctl(
        "--target", router.target, "--json", "servers", "add", "echoer",
        "--command", str(BIN / "python"), "--arg", str(fault_server()["args"][0]),
        "--env", "FIRST=1", "--env", "SECOND=a=b", "--cwd", str(tmp_path),
    )

    assert added.code == 0, added
    assert added.json()["state"] == "RUNNING"
    saved = json.loads(router.config_path.read_text())["mcpServers"]["echoer"]
    assert saved["env"] == {"FIRST": "1", "SECOND": "a=b"}
    assert saved["cwd"] == str(tmp_path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["servers", "add", "bad", "--json", '{"command": "x", "args": "not a list"}'], "args"),
        (["servers", "add", "bad name", "--command", "x"], "bad name"),
        (["servers", "update", "fault", "--json", '{"args": []}'], "command"),
    ],
)
async def test_servers_invalid_entry_exits_2(start_router, args, expected):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    result = await routerctl("--target", router.target, *args)

    assert result.code == 2, result
    assert expected in result.stderr
    assert set(json.loads(router.config_path.read_text())["mcpServers"]) == {"fault"}


async def test_servers_update_unknown_exits_4(start_router):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    result = await routerctl("--target", router.target, "servers", "update", "nope", "--command", "x")

    assert result.code == 4, result
    assert "nope" in result.stderr


async def test_servers_add_without_management_exits_7(start_router):
    router = await start_router({"fault": fault_server()})
    result = await routerctl("--target", router.target, "servers", "add", "clock", "--command", str(BIN / "mcp-server-time"))

    assert result.code == 7, result
    assert "PERMISSION_DENIED" in result.stderr
    assert "clock" not in json.loads(router.config_path.read_text())["mcpServers"]


# stats and latency


async def test_stats_shows_calls_and_recent_requests(start_router):
    router = await start_router({"fault": fault_server(), "time": time_server()})
    for arguments in ({"text": "one"}, {"text": "two"}):
        await router.call("fault__echo", arguments)
    await router.call("fault__tool_error")

    plain = await routerctl("--target", router.target, "stats")
    as_json = await routerctl("--target", router.target, "stats", "--json")

    assert plain.code == 0, plain
    rows = table(plain.stdout)
    assert rows["SERVER"] == ["SERVER", "STATE", "BREAKER", "CALLS", "ERRORS", "TIMEOUTS", "IN-FLIGHT", "P50", "P95", "P99"]
    assert rows["fault"][1:7] == ["RUNNING", "CLOSED", "3", "0", "0", "0"]
    assert rows["time"][3] == "0"
    assert "recent requests, oldest first:" in plain.stdout
    assert "enhancer: not configured" in plain.stdout
    assert as_json.code == 0, as_json
    stats = as_json.json()
    fault = next(entry for entry in stats["servers"] if entry["name"] == "fault")
    assert fault["calls"] == 3
    assert fault["p50_ms"] > 0
    # The tool may be recorded as called (qualified) or as the server names it.
    assert [(item["server"], item["tool"].split("__")[-1], item["status"]) for item in stats["recent"]] == [
        ("fault", "echo", "OK"),
        ("fault", "echo", "OK"),
        ("fault", "tool_error", "OK"),
    ]


async def test_status_shows_p50_after_calls(start_router):
    router = await start_router({"fault": fault_server(), "time": time_server()})
    await router.call("fault__echo", {"text": "timed"})

    plain = await routerctl("--target", router.target, "status")
    as_json = await routerctl("--target", router.target, "--json", "status")

    assert plain.code == 0, plain
    rows = table(plain.stdout)
    assert re.fullmatch(r"\d+\.\dms", rows["fault"][7])
    assert rows["time"][7] == "-"
    servers = {server["name"]: server for server in as_json.json()["servers"]}
    assert servers["fault"]["stats"]["calls"] == 1
    assert servers["time"]["stats"]["calls"] == 0
