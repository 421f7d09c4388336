"""Server processes under the router: start-up failures, health, stop, restart, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import router_pb2
from tests.conftest import fault_server, time_server
from tests.harness import ServiceProcess, free_port, wait_serving


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def health_status(target: str, service: str) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return reply.status


async def test_server_exiting_at_start_leaves_others_serving(start_router):
    router = await start_router(
        {"time": time_server(), "broken": fault_server("--exit-at-start", "2", maxStartFailures=2, backoffInitialSeconds=0.1)},
        wait_for=["time"],
    )

    async def broken_is_fatal():
        server = await router.server("broken")
        return server if server.state == router_pb2.FATAL else None

    broken = await wait_until(broken_is_fatal)
    assert broken.last_exit_code == 2
    assert "missing API key FAULT_API_KEY" in broken.stderr_tail
    assert "missing API key FAULT_API_KEY" in broken.last_error
    assert broken.consecutive_failures == 2
    assert await health_status(router.target, "mcp_router.server.broken") == health_pb2.HealthCheckResponse.NOT_SERVING
    assert await health_status(router.target, "mcp_router.server.time") == health_pb2.HealthCheckResponse.SERVING

    reply = await router.call("time__get_current_time", {"timezone": "UTC"})
    assert reply.is_error is False

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("broken__echo")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "FATAL" in caught.value.details()


async def test_missing_command_is_reported(start_router):
    router = await start_router(
        {"ghost": {"command": "/nonexistent/mcp-server", "maxStartFailures": 1}, "time": time_server()}, wait_for=["time"]
    )

    async def ghost_is_fatal():
        server = await router.server("ghost")
        return server if server.state == router_pb2.FATAL else None

    ghost = await wait_until(ghost_is_fatal)
    assert "command not found: /nonexistent/mcp-server" in ghost.last_error


async def test_stop_start_restart_follow_health(start_router):
    router = await start_router({"fault": fault_server()})
    first_pid = (await router.server("fault")).pid

    stopped = await router.stub.StopServer(router_pb2.StopServerRequest(name="fault"), timeout=30)
    assert stopped.state == router_pb2.STOPPED
    assert stopped.pid == 0
    assert not process_alive(first_pid)
    assert await health_status(router.target, "mcp_router.server.fault") == health_pb2.HealthCheckResponse.NOT_SERVING
    listed = await router.stub.ListTools(router_pb2.ListToolsRequest(), timeout=10)
    assert [tool.qualified_name for tool in listed.tools] == []

    started = await router.stub.StartServer(router_pb2.StartServerRequest(name="fault"), timeout=30)
    assert started.state == router_pb2.RUNNING
    assert await health_status(router.target, "mcp_router.server.fault") == health_pb2.HealthCheckResponse.SERVING

    restarted = await router.stub.RestartServer(router_pb2.RestartServerRequest(name="fault"), timeout=30)
    assert restarted.state == router_pb2.RUNNING
    assert restarted.restarts == 1
    assert restarted.pid not in (0, started.pid)
    assert not process_alive(started.pid)


async def test_crashed_server_is_restarted(start_router):
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1)})
    before = await router.server("fault")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__crash", {"code": 70})
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "exited with code 70" in caught.value.details()
    assert "crashing on request" in caught.value.details()

    async def running_again():
        server = await router.server("fault")
        return server if server.state == router_pb2.RUNNING and server.pid != before.pid else None

    after = await wait_until(running_again)
    assert after.restarts == 1
    assert "exited with code 70" in after.last_restart_reason
    assert (await router.call("fault__echo", {"text": "back"})).is_error is False


async def test_sigterm_stops_router_and_grandchildren(tmp_path):
    grandchild_file = tmp_path / "grandchild.pid"
    server_file = tmp_path / "server.pid"
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {"fault": fault_server("--grandchild-pid-file", str(grandchild_file), "--pid-file", str(server_file))}}))
    target = f"127.0.0.1:{free_port()}"
    router = ServiceProcess("router-service", ["--config", str(config), "--listen", target])
    await router.start()
    await wait_serving(target, "mcp_router.server.fault")
    grandchild, server = int(grandchild_file.read_text()), int(server_file.read_text())
    assert process_alive(grandchild)
    assert process_alive(server)

    code = await router.stop()

    assert code == 0
    assert not process_alive(server)
    assert not process_alive(grandchild)


async def test_server_ignoring_eof_and_sigterm_is_killed(start_router, tmp_path):
    pid_file = tmp_path / "stubborn.pid"
    router = await start_router({"stubborn": fault_server("--ignore-sigterm", "--ignore-eof", "--pid-file", str(pid_file), stopTimeoutSeconds=0.5)})
    pid = int(pid_file.read_text())

    stopped = await router.stub.StopServer(router_pb2.StopServerRequest(name="stubborn"), timeout=30)

    assert stopped.state == router_pb2.STOPPED
    assert stopped.last_exit_code == -signal.SIGKILL
    assert not process_alive(pid)


async def test_health_lists_router_and_servers(start_router):
    router = await start_router({"time": time_server()})

    for service in ("", "mcp_router.v1.RouterService", "mcp_router.server.time"):
        assert await health_status(router.target, service) == health_pb2.HealthCheckResponse.SERVING


async def test_sigterm_gives_in_flight_calls_a_grace_period(start_router):
    router = await start_router({"fault": fault_server()})

    call = asyncio.create_task(router.call("fault__sleep", {"seconds": 1.0}))
    await asyncio.sleep(0.3)
    router.process.process.send_signal(signal.SIGTERM)

    reply = await call
    assert json.loads(reply.result_json)["content"][0]["text"] == "slept 1.0"
    assert await router.process.process.wait() == 0
