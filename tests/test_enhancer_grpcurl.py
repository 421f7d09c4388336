"""The running enhancer driven by the real grpcurl binary, as the README shows."""

from __future__ import annotations

import asyncio
import json

from tests.enhancer_support import fake_ollama, start_enhancer  # noqa: F401 (fixtures)
from tests.fake_ollama import REWRITE_PREFIX, FakeOllama
from tests.harness import BIN, free_port

GRPCURL = BIN / "grpcurl"


async def grpcurl(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(GRPCURL), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_grpcurl_lists_checks_and_enhances(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    list_code, services, _ = await grpcurl("-plaintext", enhancer.target, "list")
    health_code, health, _ = await grpcurl(
        "-plaintext", "-d", '{"service": "mcp_router.v1.EnhancerService"}', enhancer.target, "grpc.health.v1.Health/Check"
    )
    enhance_code, enhanced, stderr = await grpcurl(
        "-plaintext",
        "-max-time",
        "10",
        "-d",
        '{"prompt": "write a limerick", "client": "code-editor"}',
        enhancer.target,
        "mcp_router.v1.EnhancerService/Enhance",
    )

    assert list_code == 0
    assert services.split() == ["grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "mcp_router.v1.EnhancerService"]
    assert health_code == 0
    assert json.loads(health) == {"status": "SERVING"}
    assert enhance_code == 0, stderr
    reply = json.loads(enhanced)
    assert reply["reason"] == "ENHANCE_REASON_APPLIED"
    assert reply["enhanced"].startswith(REWRITE_PREFIX)
    assert reply["rule"] == "code-editor"


async def test_grpcurl_without_ollama(start_enhancer) -> None:
    enhancer = await start_enhancer(f"http://127.0.0.1:{free_port()}")

    health_code, health, _ = await grpcurl("-plaintext", "-d", '{"service": "ollama"}', enhancer.target, "grpc.health.v1.Health/Check")
    enhance_code, enhanced, stderr = await grpcurl(
        "-plaintext", "-max-time", "10", "-d", '{"prompt": "hello"}', enhancer.target, "mcp_router.v1.EnhancerService/Enhance"
    )

    assert health_code == 0
    assert json.loads(health) == {"status": "NOT_SERVING"}
    assert enhance_code == 0, stderr
    reply = json.loads(enhanced)
    assert reply["reason"] == "ENHANCE_REASON_OLLAMA_UNREACHABLE"
    assert reply["enhanced"] == "hello"
