"""Operator RPCs on a real router: stats, events, config edits that lose nothing, hand edits."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal

import grpc
import pytest

from mcp_router.v1 import enhancer_pb2, router_pb2, router_pb2_grpc
from tests.conftest import fault_server, time_server
from tests.harness import ServiceProcess, free_port, wait_serving
from tests.test_router_lifecycle import process_alive, wait_until


async def get_stats(router) -> router_pb2.RouterStats:
    return await router.stub.GetStats(router_pb2.GetRouterStatsRequest(), timeout=10)


async def collect_events(stream, until, timeout: float = 30) -> list[router_pb2.RouterEvent]:
    """Read events until `until(events)` is true."""
    seen: list[router_pb2.RouterEvent] = []

    async def read():
        async for event in stream:
            seen.append(event)
            if until(seen):
                return

    await asyncio.wait_for(read(), timeout)
    return seen


async def test_stats_count_calls_errors_and_timeouts(start_router):
    router = await start_router({"fault": fault_server(), "time": time_server()})

    for _ in range(3):
        await router.call("fault__echo", {"text": "x"})
    await router.call("fault__tool_error")
    with pytest.raises(grpc.aio.AioRpcError):
        await router.call("fault__hang", timeout=0.5)
    with pytest.raises(grpc.aio.AioRpcError):
        await router.call("nope__echo")
    stats = await get_stats(router)

    fault = next(server for server in stats.servers if server.name == "fault")
    time_stats = next(server for server in stats.servers if server.name == "time")
    assert fault.calls == 5
    assert fault.errors == 1
    assert fault.timeouts == 1
    assert fault.state == router_pb2.RUNNING
    assert fault.breaker == router_pb2.CLOSED
    assert 0 < fault.p50_ms <= fault.p95_ms <= fault.p99_ms
    assert time_stats.calls == 0
    assert [(entry.tool, entry.status) for entry in stats.recent][-3:] == [
        ("fault__tool_error", "OK"),
        ("fault__hang", "DEADLINE_EXCEEDED"),
        ("nope__echo", "NOT_FOUND"),
    ]
    assert stats.uptime_seconds > 0


async def test_watch_sees_crash_restart_and_breaker(start_router):
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1, breaker={"failureThreshold": 1, "recoveryTimeoutSeconds": 60})})
    stream = router.stub.WatchEvents(router_pb2.WatchEventsRequest(server="fault", include_stderr=True))
    await asyncio.sleep(0.3)

    with pytest.raises(grpc.aio.AioRpcError):
        await router.call("fault__crash", {"code": 9})

    def restarted_and_running(events):
        kinds = [event.WhichOneof("event") for event in events]
        running = [e for e in events if e.HasField("state") and e.state.to_state == router_pb2.RUNNING]
        return "restart" in kinds and "breaker" in kinds and running

    events = await collect_events(stream, restarted_and_running)
    stream.cancel()

    restart = next(event.restart for event in events if event.HasField("restart"))
    breaker = next(event.breaker for event in events if event.HasField("breaker"))
    states = [(event.state.from_state, event.state.to_state) for event in events if event.HasField("state")]
    stderr = [event.stderr.line for event in events if event.HasField("stderr")]
    assert "exited with code 9" in restart.reason
    assert restart.restarts == 1
    assert (breaker.from_state, breaker.to_state) == (router_pb2.CLOSED, router_pb2.OPEN)
    assert (router_pb2.RUNNING, router_pb2.STOPPING) in states
    assert states[-1][1] == router_pb2.RUNNING
    assert "fault-server: crashing on request" in stderr
    assert all(event.server == "fault" for event in events)


async def test_add_server_is_off_by_default(start_router):
    router = await start_router({"time": time_server()})

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.AddServer(router_pb2.AddServerRequest(name="x", config_json=json.dumps(fault_server())), timeout=10)

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "--allow-server-management" in caught.value.details()
    assert "x" not in json.loads(router.config_path.read_text())["mcpServers"]


async def test_server_edits_persist_and_keep_unknown_fields(start_router):
    router = await start_router({"time": time_server(notes="kept by the router")}, extra_args=["--allow-server-management"])
    document = json.loads(router.config_path.read_text())
    document["x-team"] = {"owner": "ops"}
    router.config_path.write_text(json.dumps(document))
    before = router.config_path.read_text()

    added = await router.stub.AddServer(router_pb2.AddServerRequest(name="fault", config_json=json.dumps(fault_server(color="blue"))), timeout=30)
    saved = json.loads(router.config_path.read_text())

    assert added.state == router_pb2.RUNNING
    assert saved["mcpServers"]["fault"]["color"] == "blue"
    assert saved["mcpServers"]["time"]["notes"] == "kept by the router"
    assert saved["x-team"] == {"owner": "ops"}
    assert router.config_path.with_name(router.config_path.name + ".bak").read_text() == before
    assert oct(os.stat(router.config_path).st_mode & 0o777) == "0o600"
    assert (await router.call("fault__echo", {"text": "new"})).is_error is False

    old_pid = added.pid
    updated = await router.stub.UpdateServer(
        router_pb2.UpdateServerRequest(name="fault", config_json=json.dumps(fault_server("--banner", "2"))), timeout=30
    )
    assert updated.state == router_pb2.RUNNING
    assert updated.pid != old_pid
    assert updated.noise_lines == 2

    await router.stub.RemoveServer(router_pb2.RemoveServerRequest(name="fault"), timeout=30)
    assert "fault" not in json.loads(router.config_path.read_text())["mcpServers"]
    assert not process_alive(updated.pid)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.server("fault")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_invalid_edits_are_rejected_with_reasons(start_router):
    router = await start_router({"time": time_server()}, extra_args=["--allow-server-management"])
    cases = [
        (router.stub.AddServer, router_pb2.AddServerRequest(name="time", config_json=json.dumps(time_server())), grpc.StatusCode.ALREADY_EXISTS, "already exists"),
        (router.stub.AddServer, router_pb2.AddServerRequest(name="bad", config_json='{"args": []}'), grpc.StatusCode.INVALID_ARGUMENT, "mcpServers.bad.command"),
        (router.stub.AddServer, router_pb2.AddServerRequest(name="bad", config_json="{nope"), grpc.StatusCode.INVALID_ARGUMENT, "not valid JSON"),
        (router.stub.AddServer, router_pb2.AddServerRequest(name="../etc", config_json="{}"), grpc.StatusCode.INVALID_ARGUMENT, "invalid server name"),
        (router.stub.UpdateServer, router_pb2.UpdateServerRequest(name="ghost", config_json="{}"), grpc.StatusCode.NOT_FOUND, "ghost"),
        (router.stub.RemoveServer, router_pb2.RemoveServerRequest(name="ghost"), grpc.StatusCode.NOT_FOUND, "ghost"),
    ]
    before = router.config_path.read_text()

    for method, request, code, text in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await method(request, timeout=10)
        assert caught.value.code() == code, request
        assert text in caught.value.details()

    assert router.config_path.read_text() == before
    assert (await router.server("time")).state == router_pb2.RUNNING


async def test_concurrent_adds_are_all_persisted(start_router):
    router = await start_router({"time": time_server()}, extra_args=["--allow-server-management"])

    names = [f"echo{number}" for number in range(8)]
    await asyncio.gather(
        *(router.stub.AddServer(router_pb2.AddServerRequest(name=name, config_json=json.dumps(fault_server())), timeout=60) for name in names)
    )

    saved = json.loads(router.config_path.read_text())["mcpServers"]
    assert set(saved) == {"time", *names}
    listed = await router.stub.ListServers(router_pb2.ListServersRequest(), timeout=10)
    assert {server.name for server in listed.servers} == {"time", *names}


async def test_kill_9_during_writes_leaves_a_whole_file(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"router": {"allowServerManagement": True}, "mcpServers": {}}))
    rng = random.Random(7)

    for attempt in range(4):
        target = f"127.0.0.1:{free_port()}"
        router = ServiceProcess("router-service", ["--config", str(config), "--listen", target])
        await router.start()
        await wait_serving(target)
        async with grpc.aio.insecure_channel(target) as channel:
            client = router_pb2_grpc.RouterServiceStub(channel)
            calls = [
                asyncio.ensure_future(
                    client.AddServer(
                        router_pb2.AddServerRequest(name=f"s{attempt}x{number}", config_json=json.dumps({"command": "true", "enabled": False, "pad": "p" * 20000})),
                        timeout=30,
                    )
                )
                for number in range(20)
            ]
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            router.process.send_signal(signal.SIGKILL)
            await router.process.wait()
            await asyncio.gather(*calls, return_exceptions=True)

        document = json.loads(config.read_text())
        assert isinstance(document["mcpServers"], dict)
        for entry in document["mcpServers"].values():
            assert entry["pad"] == "p" * 20000


async def test_hand_edit_is_applied_live(start_router):
    router = await start_router(
        {"keep": fault_server(), "change": fault_server(), "drop": fault_server()}, extra_args=["--config-poll-seconds", "0.2"]
    )
    keep_pid = (await router.server("keep")).pid
    change_pid = (await router.server("change")).pid
    drop_pid = (await router.server("drop")).pid
    stream = router.stub.WatchEvents(router_pb2.WatchEventsRequest())
    await asyncio.sleep(0.3)

    document = json.loads(router.config_path.read_text())
    document["mcpServers"]["change"] = fault_server("--banner", "1")
    del document["mcpServers"]["drop"]
    document["mcpServers"]["new"] = fault_server()
    router.config_path.write_text(json.dumps(document))

    async def applied():
        listed = await router.stub.ListServers(router_pb2.ListServersRequest(), timeout=10)
        states = {server.name: server for server in listed.servers}
        ready = set(states) == {"keep", "change", "new"} and all(server.state == router_pb2.RUNNING for server in states.values())
        return states if ready and states["change"].pid != change_pid else None

    states = await wait_until(applied, timeout=60)
    assert states["keep"].pid == keep_pid
    assert states["change"].noise_lines == 1
    assert not process_alive(drop_pid)

    router.config_path.write_text('{"mcpServers": {"keep": {"args": []}}}')
    events = await collect_events(stream, lambda seen: any(e.HasField("config") and e.config.action == "rejected" for e in seen))
    stream.cancel()
    rejected = next(event.config for event in events if event.HasField("config") and event.config.action == "rejected")
    assert "mcpServers.keep.command" in rejected.detail
    assert any(event.HasField("config") and event.config.action == "reloaded" for event in events)
    assert (await router.server("keep")).pid == keep_pid
    assert (await router.server("new")).state == router_pb2.RUNNING


async def test_clear_cache_needs_an_enhancer(start_router):
    router = await start_router({"time": time_server()})

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.ClearEnhancerCache(enhancer_pb2.ClearCacheRequest(), timeout=10)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_watch_confirms_subscription_before_events(start_router):
    router = await start_router({"time": time_server()})
    stream = router.stub.WatchEvents(router_pb2.WatchEventsRequest())

    await asyncio.wait_for(stream.initial_metadata(), 10)
    await router.stub.RestartServer(router_pb2.RestartServerRequest(name="time"), timeout=30)
    events = await collect_events(stream, lambda seen: any(event.HasField("restart") for event in seen))
    stream.cancel()

    assert any(event.restart.reason == "restarted by request" for event in events)
