"""routerctl with a router wired to a real enhancer-service and a fake Ollama: enhance, call
--enhance, the enhancer part of stats, and clear-cache."""

from __future__ import annotations

import pytest

from tests.conftest import fault_server
from tests.enhancer_support import fake_ollama, start_enhancer  # noqa: F401  (pytest fixtures)
from tests.fake_ollama import REWRITE_PREFIX
from tests.harness import wait_serving
from tests.routerctl_support import routerctl

ENHANCER_HEALTH = "mcp_router.v1.EnhancerService"


@pytest.fixture
async def wired(fake_ollama, start_enhancer, start_router):  # noqa: F811
    """A router whose `search` server has its echo text enhanced, and the enhancer behind it."""
    enhancer = await start_enhancer(fake_ollama.url)
    router = await start_router(
        {"search": fault_server(enhance={"echo": ["text"]})},
        router_options={"enhancer": {"budgetSeconds": 5, "breaker": {"failureThreshold": 5, "recoveryTimeoutSeconds": 600}}},
        extra_args=["--enhancer", enhancer.target],
    )
    await wait_serving(router.target, ENHANCER_HEALTH, timeout=30)
    return router, enhancer


async def test_enhance_prints_rewritten_prompt(wired):
    router, _ = wired

    plain = await routerctl("--target", router.target, "enhance", "fix the login bug", "--client", "code-editor")
    as_json = await routerctl("--target", router.target, "--json", "enhance", "fix the login bug", "--client", "code-editor")

    assert plain.code == 0, plain
    assert plain.stdout.startswith(REWRITE_PREFIX)
    assert "fix the login bug" in plain.stdout
    assert plain.stderr == ""
    assert as_json.code == 0, as_json
    reply = as_json.json()
    assert reply["applied"] is True
    assert reply["reason"] == "ENHANCE_REASON_APPLIED"
    assert reply["original"] == "fix the login bug"
    assert reply["cached"] is True


async def test_call_enhance_rewrites_argument(wired):
    router, _ = wired

    enhanced = await routerctl("--target", router.target, "call", "search", "echo", "--args", '{"text": "find the docs"}', "--enhance", "--client", "code-editor")
    as_json = await routerctl("--target", router.target, "--json", "call", "search", "echo", "--args", '{"text": "find the docs"}', "--enhance")

    assert enhanced.code == 0, enhanced
    assert enhanced.stdout.startswith(REWRITE_PREFIX)
    assert as_json.code == 0, as_json
    assert as_json.json()["enhancement"]["applied"] is True
    assert [argument["name"] for argument in as_json.json()["enhancement"]["arguments"]] == ["text"]


async def test_stats_and_clear_cache(wired):
    router, enhancer = wired
    await routerctl("--target", router.target, "enhance", "same prompt")
    await routerctl("--target", router.target, "enhance", "same prompt")

    plain = await routerctl("--target", router.target, "stats")
    as_json = await routerctl("--target", router.target, "--json", "stats")
    cleared = await routerctl("--target", router.target, "clear-cache")
    cleared_again = await routerctl("--target", router.target, "--json", "clear-cache")

    assert plain.code == 0, plain
    assert f"enhancer: {enhancer.target} health SERVING, breaker CLOSED" in plain.stdout
    assert "1 hits, 1 misses" in plain.stdout
    assert as_json.code == 0, as_json
    link = as_json.json()["enhancer"]
    assert link["address"] == enhancer.target
    assert link["enhancer"]["cache"]["entries"] == 1
    assert cleared.code == 0, cleared
    assert cleared.stdout == "removed 1 enhancer cache entries\n"
    assert cleared_again.code == 0, cleared_again
    assert cleared_again.json() == {"removed": 0}


async def test_enhancer_down_fails_open_unless_required(wired):
    router, enhancer = wired
    assert await enhancer.process.stop() == 0

    open_result = await routerctl("--target", router.target, "enhance", "keep this prompt")
    required = await routerctl("--target", router.target, "enhance", "keep this prompt", "--require")

    assert open_result.code == 0, open_result
    assert open_result.stdout == "keep this prompt\n"
    assert open_result.stderr.startswith("routerctl: prompt returned unchanged: ENHANCE_REASON_ENHANCER_UNAVAILABLE")
    # The router returned UNAVAILABLE for its enhancer while the router itself was reachable.
    assert required.code == 1, required
    assert "Enhance failed: UNAVAILABLE" in required.stderr


async def test_enhance_without_enhancer_exits_1(start_router):
    router = await start_router({"search": fault_server()})

    enhanced = await routerctl("--target", router.target, "enhance", "hello")
    cleared = await routerctl("--target", router.target, "clear-cache")
    stats = await routerctl("--target", router.target, "stats")

    assert enhanced.code == 1, enhanced
    assert "FAILED_PRECONDITION" in enhanced.stderr
    assert "--enhancer" in enhanced.stderr
    assert cleared.code == 1, cleared
    assert "FAILED_PRECONDITION" in cleared.stderr
    assert stats.code == 0, stats
    assert "enhancer: not configured" in stats.stdout
