"""The measurements of `make bench`, one function per section of the report.

Every function starts the processes it needs, runs the load generator in its
own process against them, stops them again and returns plain figures.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.mcp_proxy import McpProxy
from bench.services import (
    PYTHON,
    Router,
    Service,
    cpu_seconds,
    everything_argv,
    fault_server_argv,
    free_port,
    rss_bytes,
    run_load,
    wait_http,
    wait_serving,
)

CONCURRENCIES = (1, 16, 64)
# Names of the echo paths, as the report shows them.
FLOOR = "grpc floor (health Check)"
STDIO_FIXTURE = "direct stdio, fixture echo"
ROUTER_FIXTURE = "router, fixture echo"
PLAIN_PROXY = "plain gRPC-to-stdio proxy, fixture echo"
PROXY = "mcp-proxy, fixture echo"
STDIO_EVERYTHING = "direct stdio, everything echo"
ROUTER_EVERYTHING = "router, everything echo"
SLOW_CALL_SECONDS = 0.05
SLOW_CONCURRENCY = 64
PAYLOAD_SIZES = {"1 MiB": 1024 * 1024, "16 MiB": 16 * 1024 * 1024}
STARTUP_SIZES = (1, 10, 30)
ENHANCE_PROMPT = "list the files changed today"
FAKE_MODEL = "llama3.2:3b"
# How long the router sits unused before its idle RSS is read.
IDLE_SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Sizes:
    """Call counts of one run; `quick` sizes only check that every section works."""

    calls: dict[int, int]
    warmup: dict[int, int]
    rounds: int
    max_seconds: float
    slow_calls: int
    payload_calls: dict[str, int]
    enhance_calls: int
    startup_rounds: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(
            calls={1: 2000, 16: 4000, 64: 6000},
            warmup={1: 200, 16: 400, 64: 640},
            rounds=3,
            max_seconds=10.0,
            slow_calls=SLOW_CONCURRENCY * 20,
            payload_calls={"1 MiB": 30, "16 MiB": 6},
            enhance_calls=1000,
            startup_rounds=3,
        )

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(
            calls={1: 200, 16: 400, 64: 640},
            warmup={1: 20, 16: 40, 64: 64},
            rounds=1,
            max_seconds=5.0,
            slow_calls=SLOW_CONCURRENCY * 2,
            payload_calls={"1 MiB": 3, "16 MiB": 1},
            enhance_calls=100,
            startup_rounds=1,
        )


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine rounds of one measurement: the median of each figure, with the rounds kept."""
    keys = ("calls_per_s", "p50_ms", "p99_ms", "mean_ms", "mb_per_s", "server_cpu_us_per_call")
    combined: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys if key in runs[0]}
    combined["calls"] = sum(run["calls"] for run in runs)
    combined["errors"] = sum(run["errors"] for run in runs)
    combined["first_error"] = next((run["first_error"] for run in runs if run["first_error"]), "")
    combined["rounds"] = runs
    return combined


def load_spec(base: dict[str, Any], sizes: Sizes, concurrency: int) -> dict[str, Any]:
    return {**base, "calls": sizes.calls[concurrency], "warmup": sizes.warmup[concurrency], "concurrency": concurrency, "max_seconds": sizes.max_seconds}


def echo_paths(router: Router, floor_target: str, plain_target: str, proxy: McpProxy | None) -> dict[str, dict[str, Any]]:
    """Return the load-generator specs of every echo path, references first."""
    paths: dict[str, dict[str, Any]] = {
        FLOOR: {"client": "health", "target": floor_target},
        STDIO_FIXTURE: {"client": "stdio", "argv": fault_server_argv(), "tool": "echo", "arguments": {"text": "hello"}},
        PLAIN_PROXY: {"client": "router", "target": plain_target, "tool": "fixture__echo", "arguments": {"text": "hello"}},
        ROUTER_FIXTURE: {"client": "router", "target": router.target, "tool": "fixture__echo", "arguments": {"text": "hello"}},
    }
    if proxy is not None:
        paths[PROXY] = {"client": "http", "url": proxy.url, "tool": "echo", "arguments": {"text": "hello"}}
    everything = everything_argv()
    if everything is not None:
        paths[STDIO_EVERYTHING] = {"client": "stdio", "argv": everything, "tool": "echo", "arguments": {"message": "hello"}}
        paths[ROUTER_EVERYTHING] = {"client": "router", "target": router.target, "tool": "everything__echo", "arguments": {"message": "hello"}}
    return paths


async def measure_echo(paths: dict[str, dict[str, Any]], server_pids: dict[str, int], sizes: Sizes) -> dict[str, dict[int, dict[str, Any]]]:
    """Measure latency and throughput of every path at each concurrency, in rounds interleaved over paths.

    For a path served by a process of its own (`server_pids`), the figures
    also give that process's CPU time per call, warm-up calls included.
    """
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {name: {c: [] for c in CONCURRENCIES} for name in paths}
    for round_number in range(sizes.rounds):
        for name, base in paths.items():
            for concurrency in CONCURRENCIES:
                pid = server_pids.get(name)
                cpu_before = cpu_seconds(pid) if pid else 0.0
                spec = load_spec(base, sizes, concurrency)
                result = await run_load(spec)
                if pid:
                    calls_made = spec["warmup"] + result["calls"] + result["errors"]
                    result["server_cpu_us_per_call"] = (cpu_seconds(pid) - cpu_before) / calls_made * 1e6
                runs[name][concurrency].append(result)
                print(f"  round {round_number + 1}/{sizes.rounds} {name} c={concurrency}: "
                      f"p50={result['p50_ms']:.3f} ms calls/s={result['calls_per_s']:.0f} errors={result['errors']}", flush=True)
    return {name: {c: median_figures(results) for c, results in by_concurrency.items()} for name, by_concurrency in runs.items()}


async def measure_slow_tools(router: Router, sizes: Sizes) -> dict[str, Any]:
    """Measure 64 concurrent calls of a tool that sleeps 50 ms, through the router and directly."""
    arguments = {"seconds": SLOW_CALL_SECONDS}
    common = {"calls": sizes.slow_calls, "warmup": SLOW_CONCURRENCY, "concurrency": SLOW_CONCURRENCY, "max_seconds": 30.0}
    via_router = await run_load({"client": "router", "target": router.target, "tool": "fixture__sleep", "arguments": arguments, **common})
    direct = await run_load({"client": "stdio", "argv": fault_server_argv(), "tool": "sleep", "arguments": arguments, **common})
    return {"ideal_calls_per_s": SLOW_CONCURRENCY / SLOW_CALL_SECONDS, "router": via_router, "direct stdio": direct}


async def measure_payloads(router: Router, sizes: Sizes) -> dict[str, Any]:
    """Measure the MB/s of 1 MiB and 16 MiB results, one call at a time, through the router and directly."""
    figures: dict[str, Any] = {}
    for label, size in PAYLOAD_SIZES.items():
        common = {"arguments": {"bytes": size}, "calls": sizes.payload_calls[label], "warmup": 1, "concurrency": 1, "max_seconds": 60.0}
        figures[label] = {
            "bytes": size,
            "router": await run_load({"client": "router", "target": router.target, "tool": "fixture__big", **common}),
            "direct stdio": await run_load({"client": "stdio", "argv": fault_server_argv(), "tool": "big", **common}),
        }
    return figures


async def measure_startup(sizes: Sizes) -> dict[str, Any]:
    """Measure the time until N fixture servers are RUNNING through the router, and until N are initialized directly."""
    figures: dict[str, Any] = {}
    for count in STARTUP_SIZES:
        servers = {f"s{number:02d}": {"command": PYTHON, "args": fault_server_argv()[1:]} for number in range(count)}
        from_spawn, from_request, direct, rss = [], [], [], []
        for _ in range(sizes.startup_rounds):
            router = Router(f"startup-{count}", servers)
            await router.start()
            try:
                from_spawn.append(await router.seconds_to_running())
                await asyncio.sleep(IDLE_SETTLE_SECONDS)
                rss.append(rss_bytes(router.pid))
                from_request.append(await router.seconds_to_restart_all())
            finally:
                await router.stop()
            direct_result = await run_load({"client": "startup", "argv": fault_server_argv(), "servers": count})
            direct.append(direct_result["elapsed_s"])
        figures[str(count)] = {
            "servers": count,
            "router_from_request_s": statistics.median(from_request),
            "router_from_spawn_s": statistics.median(from_spawn),
            "direct_s": statistics.median(direct),
            "router_rss_bytes": statistics.median(rss),
            "rounds": {"router_from_request_s": from_request, "router_from_spawn_s": from_spawn, "direct_s": direct, "router_rss_bytes": rss},
        }
        print(f"  start-up {count} servers: router {figures[str(count)]['router_from_request_s']:.3f} s, direct {figures[str(count)]['direct_s']:.3f} s", flush=True)
    return figures


async def measure_enhancer(sizes: Sizes) -> dict[str, Any]:
    """Measure Enhance on a cache hit, fail-fast with either breaker open, and the fake Ollama called directly."""
    ollama_port = free_port()
    ollama = Service("fake-ollama", [PYTHON, "-m", "tests.fake_ollama", "--port", str(ollama_port)])
    healthy = _enhancer("enhancer", f"http://127.0.0.1:{ollama_port}")
    # Nothing listens on this port, so the first Ollama call fails and opens the breaker.
    broken = _enhancer("enhancer-no-ollama", f"http://127.0.0.1:{free_port()}")
    router = Router("router-enhancer", {}, extra_args=["--enhancer", healthy.address])
    router_ollama_open = Router("router-ollama-open", {}, extra_args=["--enhancer", broken.address])
    router_link_open = Router(
        "router-link-open",
        {},
        router_options={"enhancer": {"address": f"127.0.0.1:{free_port()}", "breaker": {"failureThreshold": 1, "recoveryTimeoutSeconds": 3600}}},
    )
    services: list[Service] = [ollama, healthy.service, broken.service, router, router_ollama_open, router_link_open]
    try:
        await ollama.start()
        await wait_http(f"http://127.0.0.1:{ollama_port}")
        for enhancer in (healthy, broken):
            await enhancer.service.start()
            await wait_serving(enhancer.address)
        for each in (router, router_ollama_open, router_link_open):
            await each.start_and_wait()
        await wait_serving(router.target, "mcp_router.v1.EnhancerService")

        common = {"calls": sizes.enhance_calls, "concurrency": 1, "max_seconds": 30.0}
        return {
            "router, cache hit": await run_load(
                {"client": "enhance", "target": router.target, "via_router": True, "prompt": ENHANCE_PROMPT,
                 "expect_reason": "ENHANCE_REASON_APPLIED", "warmup": 20, **common}
            ),
            "enhancer direct, cache hit": await run_load(
                {"client": "enhance", "target": healthy.address, "via_router": False, "prompt": ENHANCE_PROMPT,
                 "expect_reason": "ENHANCE_REASON_APPLIED", "warmup": 20, **common}
            ),
            "router, enhancer's Ollama breaker open": await run_load(
                {"client": "enhance", "target": router_ollama_open.target, "via_router": True, "prompt": ENHANCE_PROMPT,
                 "expect_reason": "ENHANCE_REASON_CIRCUIT_OPEN", "warmup": 20, **common}
            ),
            "router, router's enhancer breaker open": await run_load(
                {"client": "enhance", "target": router_link_open.target, "via_router": True, "prompt": ENHANCE_PROMPT,
                 "expect_reason": "ENHANCE_REASON_ENHANCER_CIRCUIT_OPEN", "warmup": 20, **common}
            ),
            "fake Ollama direct (/api/chat)": await run_load(
                {"client": "ollama", "url": f"http://127.0.0.1:{ollama_port}", "model": FAKE_MODEL, "prompt": ENHANCE_PROMPT, "warmup": 20, **common}
            ),
        }
    finally:
        await asyncio.gather(*(service.stop() for service in reversed(services)))


@dataclass
class _Enhancer:
    service: Service
    address: str


def _enhancer(name: str, ollama_url: str) -> _Enhancer:
    address = f"127.0.0.1:{free_port()}"
    argv = [
        str(Path(PYTHON).parent / "enhancer-service"), "--listen", address, "--ollama-url", ollama_url,
        "--breaker-failures", "1", "--breaker-recovery", "3600", "--probe-interval", "3600", "--rules-poll-interval", "0",
        "--log-level", "warning",
    ]
    return _Enhancer(Service(name, argv), address)
