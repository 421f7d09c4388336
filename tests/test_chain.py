"""The router and the enhancer as one product: Enhance, enhanced calls, breaker, sampling."""

from __future__ import annotations

import json

import grpc
import pytest
from grpc_health.v1 import health_pb2

from mcp_router.v1 import enhancer_pb2, router_pb2
from tests.conftest import everything_server, fault_server
from tests.enhancer_support import SHIPPED_RULES, fake_ollama, start_enhancer  # noqa: F401  (pytest fixtures)
from tests.fake_ollama import REWRITE_PREFIX
from tests.harness import ServiceProcess, free_port, wait_serving
from tests.test_router_lifecycle import health_status, wait_until

ENHANCER_HEALTH = "mcp_router.v1.EnhancerService"


def text_of(reply: router_pb2.CallToolResponse) -> str:
    return json.loads(reply.result_json)["content"][0]["text"]


async def enhanced_call(router, text: str, timeout: float = 30) -> router_pb2.CallToolResponse:
    request = router_pb2.CallToolRequest(tool="search__echo", arguments_json=json.dumps({"text": text}), enhance=True, client="code-editor")
    return await router.stub.CallTool(request, timeout=timeout)


async def stats(router) -> router_pb2.RouterStats:
    return await router.stub.GetStats(router_pb2.GetRouterStatsRequest(), timeout=10)


class EnhancerOnPort:
    """enhancer-service processes that all listen on one address, so one can replace another."""

    def __init__(self, ollama_url: str) -> None:
        self.ollama_url = ollama_url
        self.target = f"127.0.0.1:{free_port()}"
        self.processes: list[ServiceProcess] = []

    async def start(self) -> None:
        process = ServiceProcess(
            "enhancer-service", ["--listen", self.target, "--ollama-url", self.ollama_url, "--rules", str(SHIPPED_RULES)]
        )
        await process.start()
        self.processes.append(process)
        await wait_serving(self.target, ENHANCER_HEALTH)

    async def stop(self) -> None:
        assert await self.processes[-1].stop() == 0


@pytest.fixture
async def chain(fake_ollama, start_router):  # noqa: F811
    """A fake Ollama, a real enhancer on a fixed address, and a router pointed at it."""
    enhancer = EnhancerOnPort(fake_ollama.url)
    await enhancer.start()
    router = await start_router(
        {"search": fault_server(enhance={"echo": ["text"]})},
        router_options={"enhancer": {"budgetSeconds": 5, "breaker": {"failureThreshold": 2, "recoveryTimeoutSeconds": 1}}},
        extra_args=["--enhancer", enhancer.target],
    )
    await wait_until(lambda: _serving(router.target, ENHANCER_HEALTH))
    yield fake_ollama, enhancer, router
    for process in enhancer.processes:
        await process.stop()


async def _serving(target: str, service: str) -> bool:
    return await health_status(target, service) == health_pb2.HealthCheckResponse.SERVING


async def test_enhance_through_router(chain):
    _, _, router = chain

    reply = await router.stub.Enhance(enhancer_pb2.EnhanceRequest(prompt="fix the login bug", client="code-editor"), timeout=15)

    assert reply.applied is True
    assert reply.reason == enhancer_pb2.ENHANCE_REASON_APPLIED
    assert reply.enhanced.startswith(REWRITE_PREFIX)
    assert "fix the login bug" in reply.enhanced


async def test_enhance_without_enhancer_fails_precondition(start_router):
    router = await start_router({"search": fault_server()})

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.Enhance(enhancer_pb2.EnhanceRequest(prompt="hello"), timeout=10)
    plain = await enhanced_call(router, "hello")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "--enhancer" in caught.value.details()
    assert text_of(plain) == "hello"
    assert plain.enhancement.reason == enhancer_pb2.ENHANCE_REASON_NOT_CONFIGURED


async def test_enhanced_call_rewrites_configured_argument(chain):
    fake, _, router = chain

    enhanced = await enhanced_call(router, "find the docs")
    plain = await router.call("search__echo", {"text": "find the docs"})

    # The MCP server echoes what it received, so this is the argument it saw.
    assert text_of(enhanced).startswith(REWRITE_PREFIX)
    assert "find the docs" in text_of(enhanced)
    assert enhanced.enhancement.applied is True
    assert [argument.name for argument in enhanced.enhancement.arguments] == ["text"]
    assert text_of(plain) == "find the docs"
    assert plain.HasField("enhancement") is False
    assert len(fake.chat_requests()) == 1


async def test_enhancer_down_then_back(chain):
    fake, enhancer, router = chain
    await enhancer.stop()

    first = await enhanced_call(router, "original text")
    second = await enhanced_call(router, "original text")
    opened = await stats(router)
    skipped = await enhanced_call(router, "original text")

    assert text_of(first) == text_of(second) == text_of(skipped) == "original text"
    assert first.enhancement.reason == enhancer_pb2.ENHANCE_REASON_ENHANCER_UNAVAILABLE
    assert opened.enhancer.breaker == router_pb2.OPEN
    assert skipped.enhancement.reason == enhancer_pb2.ENHANCE_REASON_ENHANCER_CIRCUIT_OPEN
    assert (await stats(router)).enhancer.skipped_breaker_open >= 1
    assert await health_status(router.target, ENHANCER_HEALTH) == health_pb2.HealthCheckResponse.NOT_SERVING

    # The enhancer comes back on the same address: after the recovery timeout a
    # trial call goes through and closes the breaker.
    await enhancer.start()

    async def recovered():
        reply = await enhanced_call(router, "original text")
        return reply if reply.enhancement.applied else None

    reply = await wait_until(recovered, timeout=30, interval=0.3)
    assert text_of(reply).startswith(REWRITE_PREFIX)
    assert (await stats(router)).enhancer.breaker == router_pb2.CLOSED
    await wait_until(lambda: _serving(router.target, ENHANCER_HEALTH), timeout=30)


async def test_short_deadline_bounds_chain_with_slow_ollama(chain):
    fake, _, router = chain
    fake.faults.header_delay = 5.0

    reply = await enhanced_call(router, "original text", timeout=0.2)

    # The enhancer gave up within the caller's deadline and the tool still ran.
    assert text_of(reply) == "original text"
    assert reply.enhancement.applied is False
    assert reply.enhancement.reason == enhancer_pb2.ENHANCE_REASON_TIMEOUT


async def test_stats_include_enhancer_breaker_and_cache(chain):
    _, _, router = chain
    await enhanced_call(router, "same prompt")
    await enhanced_call(router, "same prompt")

    reply = await stats(router)
    again = await stats(router)

    # Fetching the enhancer's stats is not itself counted as an enhancer call.
    assert reply.enhancer.calls == 2
    assert again.enhancer.calls == 2
    assert reply.enhancer.breaker == router_pb2.CLOSED
    assert reply.enhancer.health == "SERVING"
    assert reply.enhancer.enhancer.cache.hits == 1
    assert reply.enhancer.enhancer.breaker.state == router_pb2.CLOSED


async def test_sampling_request_answered_through_enhancer(fake_ollama, start_enhancer, start_router):  # noqa: F811
    enhancer = await start_enhancer(fake_ollama.url)
    router = await start_router({"everything": everything_server()}, extra_args=["--enhancer", enhancer.target])

    async def sampling_tool_listed():
        listed = await router.stub.ListTools(router_pb2.ListToolsRequest(server="everything"), timeout=10)
        return "trigger-sampling-request" in {tool.name for tool in listed.tools}

    await wait_until(sampling_tool_listed)
    reply = await router.call("everything__trigger-sampling-request", {"prompt": "name three colours", "maxTokens": 50})

    assert reply.is_error is False
    assert REWRITE_PREFIX in reply.result_json
    assert "name three colours" in reply.result_json
    assert len(fake_ollama.chat_requests()) == 1


async def test_sampling_not_advertised_without_enhancer(start_router):
    router = await start_router({"everything": everything_server()})

    listed = await router.stub.ListTools(router_pb2.ListToolsRequest(server="everything"), timeout=10)

    assert "trigger-sampling-request" not in {tool.name for tool in listed.tools}
