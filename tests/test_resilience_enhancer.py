"""The enhancer's Ollama breaker under refused connections, 5xx answers and slow answers, then recovery."""

from __future__ import annotations

import pytest

from mcp_router.v1 import enhancer_pb2
from mcp_router.v1.router_pb2 import CLOSED, HALF_OPEN, OPEN
from tests.enhancer_support import eventually, fake_ollama, start_enhancer  # noqa: F401  (pytest fixtures)
from tests.fake_ollama import FakeOllama

Reason = enhancer_pb2.EnhanceReason


async def breaker_state(enhancer) -> int:
    return (await enhancer.stats()).breaker.state


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("refused", "ENHANCE_REASON_OLLAMA_UNREACHABLE"),
        ("status_503", "ENHANCE_REASON_OLLAMA_ERROR"),
        ("slow", "ENHANCE_REASON_TIMEOUT"),
    ],
)
async def test_ollama_breaker_opens_and_recovers(fake_ollama: FakeOllama, start_enhancer, fault, reason):  # noqa: F811
    enhancer = await start_enhancer(
        fake_ollama.url, "--breaker-failures", "2", "--breaker-recovery", "1", "--probe-interval", "60", "--budget", "1", "--busy-attempts", "1"
    )
    port = fake_ollama.port
    if fault == "refused":
        await fake_ollama.stop()
    elif fault == "status_503":
        fake_ollama.faults.status = 503
    else:
        fake_ollama.faults.header_delay = 5.0

    failures = [await enhancer.enhance(f"prompt {number}") for number in range(2)]
    opened = await breaker_state(enhancer)
    skipped = await enhancer.enhance("while open")

    assert [reply.reason for reply in failures] == [Reason.Value(reason)] * 2
    assert all(reply.enhanced == reply.original for reply in failures)
    assert opened == OPEN
    assert skipped.reason == Reason.Value("ENHANCE_REASON_CIRCUIT_OPEN")

    if fault == "refused":
        recovered_server = FakeOllama(port=port)
        await recovered_server.start()
    else:
        fake_ollama.reset()
    try:
        await eventually(lambda: _state_is(enhancer, HALF_OPEN), timeout=20)
        recovered = await enhancer.enhance("after recovery")
        assert recovered.reason == Reason.Value("ENHANCE_REASON_APPLIED")
        assert await breaker_state(enhancer) == CLOSED
    finally:
        if fault == "refused":
            await recovered_server.stop()


async def _state_is(enhancer, state: int) -> bool:
    return await breaker_state(enhancer) == state
