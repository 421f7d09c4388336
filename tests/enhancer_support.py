"""Fixtures for the enhancer tests: a fake Ollama in the test's loop and real enhancer-service processes."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import enhancer_pb2, enhancer_pb2_grpc
from tests.fake_ollama import FakeOllama
from tests.harness import CHANNEL_OPTIONS, REPO, ServiceProcess, free_port, wait_serving

SERVICE_NAME = "mcp_router.v1.EnhancerService"
SHIPPED_RULES = REPO / "config" / "rules.json"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class RunningEnhancer:
    """An enhancer-service process and stubs connected to it."""

    process: ServiceProcess
    target: str
    rules_path: Path
    channel: grpc.aio.Channel
    stub: enhancer_pb2_grpc.EnhancerServiceStub
    health: health_pb2_grpc.HealthStub

    async def enhance(
        self,
        prompt: str,
        *,
        client: str = "",
        model: str = "",
        require: bool = False,
        timeout: float = 15.0,
        metadata: tuple[tuple[str, str], ...] | None = None,
    ) -> enhancer_pb2.EnhanceResponse:
        request = enhancer_pb2.EnhanceRequest(prompt=prompt, client=client, model=model, require=require)
        return await self.stub.Enhance(request, timeout=timeout, metadata=metadata)

    async def stats(self) -> enhancer_pb2.EnhancerStats:
        return await self.stub.GetStats(enhancer_pb2.GetStatsRequest(), timeout=5)

    async def rules(self) -> enhancer_pb2.RulesInfo:
        return await self.stub.GetRules(enhancer_pb2.GetRulesRequest(), timeout=5)

    async def health_status(self, service: str) -> int:
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return reply.status


EnhancerFactory = Callable[..., Awaitable[RunningEnhancer]]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns a truthy value; fail with the last value after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    value = None
    while loop.time() < end:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


def write_rules(path: Path, rules: dict[str, Any]) -> None:
    """Replace the rules file in one step, so a watcher never reads half a file."""
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(rules, indent=2))
    staging.replace(path)


def shipped_rules() -> dict[str, Any]:
    return json.loads(SHIPPED_RULES.read_text())


@pytest.fixture
async def fake_ollama() -> AsyncIterator[FakeOllama]:
    server = FakeOllama()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def start_enhancer(tmp_path: Path) -> AsyncIterator[EnhancerFactory]:
    """Start enhancer-service on a free port with a copy of the shipped rules (or `rules`).

    Every process is stopped with SIGTERM at the end and must exit with code 0.
    """
    started: list[RunningEnhancer] = []

    async def start(
        ollama_url: str | None,
        *args: str,
        rules: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> RunningEnhancer:
        rules_path = tmp_path / f"rules-{len(started)}.json"
        if rules is None:
            shutil.copyfile(SHIPPED_RULES, rules_path)
        else:
            write_rules(rules_path, rules)
        target = f"127.0.0.1:{free_port()}"
        command = ["--listen", target, "--rules", str(rules_path)]
        if ollama_url is not None:
            command += ["--ollama-url", ollama_url]
        process = ServiceProcess("enhancer-service", [*command, *args], env=env)
        await process.start()
        try:
            await wait_serving(target, SERVICE_NAME, timeout=30)
        except TimeoutError as error:
            await process.stop()
            raise AssertionError(f"{error}\n{process.log_text()[-4000:]}") from None
        channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        running = RunningEnhancer(
            process=process,
            target=target,
            rules_path=rules_path,
            channel=channel,
            stub=enhancer_pb2_grpc.EnhancerServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
        )
        started.append(running)
        return running

    yield start

    for running in started:
        await running.channel.close()
        exit_code = await running.process.stop()
        assert exit_code == 0, f"enhancer-service exited with {exit_code}:\n{running.process.log_text()[-4000:]}"
