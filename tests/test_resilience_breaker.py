"""Per-server circuit breakers: what they count, how they open, fail fast, recover and reset."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mcp_router.breaker import BreakerSettings, BreakerState, CircuitBreaker, CircuitOpenError, Outcome
from mcp_router.v1 import router_pb2
from tests.conftest import fault_server
from tests.test_router_lifecycle import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text_of(reply: router_pb2.CallToolResponse) -> str:
    return json.loads(reply.result_json)["content"][0]["text"]


async def call_error(router, tool: str, arguments: dict | None = None, *, timeout: float = 30) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call(tool, arguments, timeout=timeout)
    return caught.value


# The breaker on its own, with a clock the test moves


def test_breaker_opens_after_threshold():
    clock = FakeClock()
    breaker = CircuitBreaker("unit", BreakerSettings(failure_threshold=3, recovery_timeout=10), clock=clock)

    for _ in range(2):
        breaker.after_call(Outcome.FAILURE, trial=breaker.before_call(), detail="timeout")
    breaker.after_call(Outcome.SUCCESS, trial=breaker.before_call())
    for _ in range(2):
        breaker.after_call(Outcome.FAILURE, trial=breaker.before_call(), detail="timeout")
    breaker.after_call(Outcome.IGNORED, trial=breaker.before_call())
    assert breaker.state is BreakerState.CLOSED

    breaker.after_call(Outcome.FAILURE, trial=breaker.before_call(), detail="crash")
    assert breaker.state is BreakerState.OPEN
    clock.now += 4
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(6.0)
    assert breaker.snapshot().last_failure == "crash"
    assert breaker.snapshot().opened_count == 1


def test_half_open_admits_limited_trials():
    clock = FakeClock()
    breaker = CircuitBreaker("unit", BreakerSettings(failure_threshold=1, recovery_timeout=5, half_open_max_calls=2), clock=clock)
    breaker.record_failure("ping timed out")
    clock.now += 5

    assert breaker.state is BreakerState.HALF_OPEN
    first, second = breaker.before_call(), breaker.before_call()
    assert first is True
    assert second is True
    with pytest.raises(CircuitOpenError):
        breaker.before_call()

    # An ignored outcome (a caller error) frees its trial slot without deciding.
    breaker.after_call(Outcome.IGNORED, trial=first)
    assert breaker.state is BreakerState.HALF_OPEN
    third = breaker.before_call()
    breaker.after_call(Outcome.FAILURE, trial=third, detail="timeout")
    assert breaker.state is BreakerState.OPEN

    clock.now += 5
    trial = breaker.before_call()
    breaker.after_call(Outcome.SUCCESS, trial=trial)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.before_call() is False


def test_reset_closes_an_open_breaker():
    breaker = CircuitBreaker("unit", BreakerSettings(failure_threshold=1, recovery_timeout=60))
    breaker.record_failure("crash")
    assert breaker.state is BreakerState.OPEN

    breaker.reset()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().consecutive_failures == 0
    assert breaker.before_call() is False


# Breakers of real servers behind a real router


async def test_timeouts_open_breaker_with_retry_info(start_router, tmp_path: Path):
    router = await start_router({"fault": fault_server(breaker={"failureThreshold": 2, "recoveryTimeoutSeconds": 120})})
    pid = (await router.server("fault")).pid

    for _ in range(2):
        assert (await call_error(router, "fault__hang", timeout=0.5)).code() == grpc.StatusCode.DEADLINE_EXCEEDED
    server = await router.server("fault")
    assert server.breaker == router_pb2.OPEN
    assert server.state == router_pb2.RUNNING
    assert server.pid == pid
    assert server.restarts == 0

    arrived = tmp_path / "arrived"
    arrived.mkdir()
    error = await call_error(router, "fault__gate", {"arrived_dir": str(arrived), "release": str(tmp_path)})
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit breaker is open" in error.details()
    # Failing fast means the call never reached the server.
    assert list(arrived.iterdir()) == []
    status = rpc_status.from_call(error)
    assert status is not None
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info)
    retry_ms = retry_info.retry_delay.ToMilliseconds()
    assert 0 < retry_ms <= 120_000
    trailing = dict(error.trailing_metadata())
    assert 0 < int(trailing["retry-after-ms"]) <= 120_000


async def test_tool_errors_never_open_breaker(start_router):
    router = await start_router({"fault": fault_server(breaker={"failureThreshold": 2})})

    for _ in range(5):
        assert (await router.call("fault__tool_error")).is_error is True
        error = await call_error(router, "fault__rpc_error", {"code": -32602})
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        error = await call_error(router, "fault__rpc_error", {"code": -32601})
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED

    server = await router.server("fault")
    assert server.breaker == router_pb2.CLOSED
    assert text_of(await router.call("fault__echo", {"text": "still closed"})) == "still closed"


async def test_crashes_mid_call_open_breaker(start_router):
    router = await start_router(
        {"fault": fault_server(backoffInitialSeconds=0.1, maxStartFailures=10, breaker={"failureThreshold": 2, "recoveryTimeoutSeconds": 120})}
    )

    for _ in range(2):
        pid = (await router.server("fault")).pid
        error = await call_error(router, "fault__crash", {"code": 70})
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "exited with code 70" in error.details()

        async def running_again(pid=pid):
            server = await router.server("fault")
            return server if server.state == router_pb2.RUNNING and server.pid not in (0, pid) else None

        server = await wait_until(running_again)

    assert server.breaker == router_pb2.OPEN
    assert server.restarts == 2
    error = await call_error(router, "fault__echo", {"text": "refused"})
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit breaker is open" in error.details()


async def test_half_open_limits_trial_calls(start_router, tmp_path: Path):
    router = await start_router(
        {"fault": fault_server(breaker={"failureThreshold": 1, "recoveryTimeoutSeconds": 1, "halfOpenMaxCalls": 2})}
    )
    assert (await call_error(router, "fault__hang", timeout=0.5)).code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (await router.server("fault")).breaker == router_pb2.OPEN

    async def half_open():
        return (await router.server("fault")).breaker == router_pb2.HALF_OPEN

    await wait_until(half_open)
    arrived, release = tmp_path / "arrived", tmp_path / "release"
    arrived.mkdir()
    gate = {"arrived_dir": str(arrived), "release": str(release)}
    trials = [asyncio.create_task(router.call("fault__gate", {**gate, "text": f"trial {number}"}, timeout=60)) for number in range(2)]

    async def both_trials_in_server():
        return len(list(arrived.iterdir())) == 2

    await wait_until(both_trials_in_server)
    error = await call_error(router, "fault__echo", {"text": "third"})
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit breaker is open" in error.details()
    assert "retry-after-ms" in dict(error.trailing_metadata())

    release.touch()
    assert sorted(text_of(reply) for reply in await asyncio.gather(*trials)) == ["trial 0", "trial 1"]
    assert (await router.server("fault")).breaker == router_pb2.CLOSED
    assert text_of(await router.call("fault__echo", {"text": "closed"})) == "closed"


async def test_one_timeout_never_fails_concurrent_calls(start_router):
    router = await start_router({"fault": fault_server()})
    pid = (await router.server("fault")).pid

    others = [asyncio.create_task(router.call("fault__sleep", {"seconds": 1.5}, timeout=60)) for _ in range(10)]
    timed_out = await call_error(router, "fault__hang", timeout=0.5)
    replies = await asyncio.gather(*others)

    assert timed_out.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert [text_of(reply) for reply in replies] == ["slept 1.5"] * 10
    server = await router.server("fault")
    assert server.pid == pid
    assert server.restarts == 0
    assert server.state == router_pb2.RUNNING
    assert server.breaker == router_pb2.CLOSED


async def test_reset_breakers_resets_one_or_all(start_router):
    breaker = {"failureThreshold": 1, "recoveryTimeoutSeconds": 300}
    router = await start_router({"a": fault_server(breaker=breaker), "b": fault_server(breaker=breaker)})
    for name in ("a", "b"):
        assert (await call_error(router, f"{name}__hang", timeout=0.5)).code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert (await router.server(name)).breaker == router_pb2.OPEN

    one = await router.stub.ResetBreakers(router_pb2.ResetBreakersRequest(name="a"), timeout=10)
    assert [(server.name, server.breaker) for server in one.servers] == [("a", router_pb2.CLOSED)]
    assert (await router.server("b")).breaker == router_pb2.OPEN
    assert text_of(await router.call("a__echo", {"text": "a works"})) == "a works"

    assert (await call_error(router, "a__hang", timeout=0.5)).code() == grpc.StatusCode.DEADLINE_EXCEEDED
    every = await router.stub.ResetBreakers(router_pb2.ResetBreakersRequest(), timeout=10)
    assert sorted((server.name, server.breaker) for server in every.servers) == [("a", router_pb2.CLOSED), ("b", router_pb2.CLOSED)]
    assert text_of(await router.call("b__echo", {"text": "b works"})) == "b works"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.ResetBreakers(router_pb2.ResetBreakersRequest(name="nope"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
