"""Supervision under faults: restart policies, backoff, FATAL, health and liveness pings."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import router_pb2
from router_service import supervisor as supervisor_module
from router_service.catalogue import Catalogue
from router_service.config import parse_config
from router_service.supervisor import ServerState, ServerSupervisor, backoff_delay
from tests.conftest import fault_server
from tests.test_router_lifecycle import health_status, process_alive, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def wait_state(router, name: str, state: int, timeout: float = 30.0) -> router_pb2.Server:
    async def reached():
        server = await router.server(name)
        return server if server.state == state else None

    return await wait_until(reached, timeout)


async def crash(router, name: str, code: int) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("crash", {"code": code}, server=name)
    return caught.value


async def test_restart_policy_follows_exit_code(start_router):
    quick = {"backoffInitialSeconds": 0.1, "maxStartFailures": 10}
    router = await start_router(
        {
            "always0": fault_server(restart="always", **quick),
            "onfailure0": fault_server(restart="on-failure", **quick),
            "onfailure70": fault_server(restart="on-failure", **quick),
            "never70": fault_server(restart="never", **quick),
        }
    )
    cases = [("always0", 0, True), ("onfailure0", 0, False), ("onfailure70", 70, True), ("never70", 70, False)]
    first_pids = {name: (await router.server(name)).pid for name, _, _ in cases}

    for name, code, _ in cases:
        error = await crash(router, name, code)
        assert error.code() == grpc.StatusCode.UNAVAILABLE, name
        assert f"exited with code {code}" in error.details(), name

    for name, code, restarted in cases:
        if restarted:
            server = await wait_until(lambda name=name: _running_with_new_pid(router, name, first_pids[name]))
            assert server.restarts == 1, name
            assert f"exited with code {code}" in server.last_restart_reason, name
            assert await health_status(router.target, f"mcp_router.server.{name}") == SERVING, name
        else:
            server = await wait_state(router, name, router_pb2.STOPPED)
            assert server.restarts == 0, name
            assert server.pid == 0, name
            assert server.last_exit_code == code, name
            assert f"exited with code {code}" in server.last_error, name
            assert await health_status(router.target, f"mcp_router.server.{name}") == NOT_SERVING, name
        assert not process_alive(first_pids[name]), name


async def _running_with_new_pid(router, name: str, old_pid: int) -> router_pb2.Server | None:
    server = await router.server(name)
    return server if server.state == router_pb2.RUNNING and server.pid not in (0, old_pid) else None


def test_backoff_delay_doubles_with_jitter():
    random.seed(5)
    for failures, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 10.0), (12, 10.0)):
        delays = [backoff_delay(failures, 0.5, 10.0) for _ in range(200)]
        assert min(delays) >= ceiling / 2, failures
        assert max(delays) <= ceiling, failures
        # Jitter: the delays spread over the range instead of repeating one value.
        assert len(set(delays)) > 100, failures


async def test_failed_starts_back_off_then_fatal(tmp_path, monkeypatch):
    starts_file = tmp_path / "starts"
    config = parse_config(
        json.dumps(
            {
                "mcpServers": {
                    "broken": fault_server(
                        "--exit-at-start", "2", "--starts-file", str(starts_file),
                        maxStartFailures=4, backoffInitialSeconds=0.5, backoffMaxSeconds=1.5,
                    )
                }
            }
        ),
        tmp_path / "router.json",
    )
    requested: list[tuple[int, float]] = []

    def recorded_delay(failures: int, initial: float, maximum: float) -> float:
        # The real delay is recorded, then shortened so the test does not wait it out.
        requested.append((failures, backoff_delay(failures, initial, maximum)))
        return 0.01

    monkeypatch.setattr(supervisor_module, "backoff_delay", recorded_delay)
    states: list[ServerState] = []

    async def on_state(supervisor: ServerSupervisor) -> None:
        states.append(supervisor.state)

    supervisor = ServerSupervisor(config.servers["broken"], Catalogue(), on_state)
    await supervisor.start()
    async with supervisor._changed:
        await asyncio.wait_for(supervisor._changed.wait_for(lambda: supervisor.state is ServerState.FATAL), 60)

    assert [failures for failures, _ in requested] == [1, 2, 3]
    assert 0.25 <= requested[0][1] <= 0.5
    assert 0.5 <= requested[1][1] <= 1.0
    assert 0.75 <= requested[2][1] <= 1.5
    assert states == [ServerState.STARTING, ServerState.BACKOFF] * 3 + [ServerState.STARTING, ServerState.FATAL]
    assert len(starts_file.read_text().split()) == 4
    assert supervisor.last_exit_code == 2
    assert "missing API key FAULT_API_KEY" in supervisor.last_stderr
    assert "missing API key FAULT_API_KEY" in supervisor.last_error
    assert supervisor.restarts == 0
    await supervisor.stop()


async def test_start_server_from_fatal_tries_again(start_router, tmp_path):
    fixed = tmp_path / "fixed"
    starts_file = tmp_path / "starts"
    router = await start_router(
        {
            "flaky": fault_server(
                "--exit-at-start", "2", "--only-while-missing", str(fixed), "--starts-file", str(starts_file),
                maxStartFailures=1,
            )
        },
        wait_for=[],
    )
    fatal = await wait_state(router, "flaky", router_pb2.FATAL)
    assert fatal.last_exit_code == 2
    assert "missing API key FAULT_API_KEY" in fatal.stderr_tail

    still_broken = await router.stub.StartServer(router_pb2.StartServerRequest(name="flaky"), timeout=30)
    assert still_broken.state == router_pb2.FATAL
    assert len(starts_file.read_text().split()) == 2

    fixed.touch()
    started = await router.stub.StartServer(router_pb2.StartServerRequest(name="flaky"), timeout=30)
    assert started.state == router_pb2.RUNNING
    assert started.consecutive_failures == 0
    assert len(starts_file.read_text().split()) == 3
    assert await health_status(router.target, "mcp_router.server.flaky") == SERVING
    assert (await router.call("flaky__echo", {"text": "fixed"})).is_error is False


async def test_crash_after_healthy_run_restarts(start_router):
    # maxStartFailures=1: a crash that counted as a failed start would end in FATAL.
    router = await start_router(
        {
            "healthy": fault_server(minUptimeSeconds=0.5, maxStartFailures=1),
            "early": fault_server(minUptimeSeconds=300, maxStartFailures=1),
        }
    )
    healthy_pid = (await router.server("healthy")).pid

    async def ran_past_min_uptime():
        server = await router.server("healthy")
        return server.uptime_seconds > 1.5

    await wait_until(ran_past_min_uptime)
    await crash(router, "healthy", 70)
    await crash(router, "early", 70)

    healthy = await wait_until(lambda: _running_with_new_pid(router, "healthy", healthy_pid))
    assert healthy.restarts == 1
    assert healthy.consecutive_failures == 0
    assert "exited with code 70" in healthy.last_restart_reason

    early = await wait_state(router, "early", router_pb2.FATAL)
    assert early.consecutive_failures == 1
    assert early.restarts == 0
    assert early.last_exit_code == 70
    assert "crashing on request" in early.stderr_tail
    assert "exited with code 70" in early.last_error


async def test_exit_right_after_initialize_is_a_failed_start(start_router):
    router = await start_router(
        {"quitter": fault_server("--exit-after-initialize", maxStartFailures=2, backoffInitialSeconds=0.1)}, wait_for=[]
    )

    quitter = await wait_state(router, "quitter", router_pb2.FATAL)

    assert quitter.consecutive_failures == 2
    assert quitter.last_exit_code == 3
    assert "exiting right after initialize" in quitter.stderr_tail
    assert quitter.pid == 0
    assert quitter.tool_count == 0


async def test_health_serving_only_when_running(start_router):
    router = await start_router(
        {
            "running": fault_server(),
            "starting": fault_server("--slow-start", "300"),
            "backoff": fault_server("--exit-at-start", "2", backoffInitialSeconds=300, backoffMaxSeconds=300),
            "fatal": fault_server("--exit-at-start", "2", maxStartFailures=1),
            "stopped": fault_server(enabled=False),
        },
        wait_for=["running"],
    )
    expected = {
        "running": router_pb2.RUNNING,
        "starting": router_pb2.STARTING,
        "backoff": router_pb2.BACKOFF,
        "fatal": router_pb2.FATAL,
        "stopped": router_pb2.STOPPED,
    }

    for name, state in expected.items():
        server = await wait_state(router, name, state)
        status = await health_status(router.target, f"mcp_router.server.{name}")
        assert status == (SERVING if state == router_pb2.RUNNING else NOT_SERVING), (name, server.state)


async def test_health_follows_crash_and_restart(start_router):
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1)})
    statuses: list[int] = []

    async def watch() -> None:
        async with grpc.aio.insecure_channel(router.target) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service="mcp_router.server.fault"), timeout=60)
            async for reply in stream:
                if not statuses or statuses[-1] != reply.status:
                    statuses.append(reply.status)
                if statuses[-3:] == [SERVING, NOT_SERVING, SERVING]:
                    return

    watcher = asyncio.create_task(watch())
    await wait_until(lambda: _has_status(statuses))
    await crash(router, "fault", 70)

    await asyncio.wait_for(watcher, 60)
    assert statuses == [SERVING, NOT_SERVING, SERVING]
    assert (await router.server("fault")).restarts == 1


async def _has_status(statuses: list[int]) -> bool:
    return bool(statuses)


async def test_failed_pings_degrade_without_restart(start_router):
    router = await start_router(
        {
            "fault": fault_server(
                pingIntervalSeconds=0.2, pingTimeoutSeconds=0.3, breaker={"failureThreshold": 3, "recoveryTimeoutSeconds": 300}
            )
        }
    )
    before = await router.server("fault")
    assert before.degraded is False

    await router.call("fault__stall_pings", {"seconds": 4})

    async def degraded_and_open():
        server = await router.server("fault")
        return server if server.degraded and server.breaker == router_pb2.OPEN else None

    during = await wait_until(degraded_and_open)
    assert during.state == router_pb2.RUNNING
    assert during.pid == before.pid
    assert during.restarts == 0
    assert await health_status(router.target, "mcp_router.server.fault") == SERVING
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__echo", {"text": "blocked"})
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit breaker is open" in caught.value.details()

    async def answering_pings_again():
        server = await router.server("fault")
        return server if not server.degraded else None

    after = await wait_until(answering_pings_again)
    assert after.pid == before.pid
    assert after.restarts == 0
    # Successful pings clear the degraded flag but leave the breaker to its own recovery.
    assert after.breaker == router_pb2.OPEN
    await router.stub.ResetBreakers(router_pb2.ResetBreakersRequest(name="fault"), timeout=10)
    reply = await router.call("fault__echo", {"text": "recovered"})
    assert json.loads(reply.result_json)["content"][0]["text"] == "recovered"
