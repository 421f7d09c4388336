"""The load generator: one process per measurement, as real callers are separate processes.

Run as `python -m bench.load SPEC_JSON`. The spec names the client and the load
(calls, warm-up calls, concurrency, a time cap); the process prints one JSON
object with the figures on stdout and exits.

Clock: time.perf_counter_ns around each awaited call. Latency percentiles use
the nearest-rank method; throughput is measured calls divided by the wall time
from the first measured call to the last reply.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from typing import Any

from bench import clients


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def build_client(spec: dict[str, Any]) -> Any:
    kind = spec["client"]
    if kind == "router":
        return clients.RouterClient(spec["target"], spec["tool"], spec.get("arguments", {}))
    if kind == "health":
        return clients.HealthClient(spec["target"])
    if kind == "stdio":
        return clients.StdioClient(spec["argv"], spec["tool"], spec.get("arguments", {}))
    if kind == "http":
        return clients.StreamableHttpClient(spec["url"], spec["tool"], spec.get("arguments", {}), spec["concurrency"])
    if kind == "enhance":
        return clients.EnhanceClient(spec["target"], spec["prompt"], spec["via_router"], spec.get("expect_reason", ""))
    if kind == "ollama":
        return clients.OllamaClient(spec["url"], spec["model"], spec["prompt"])
    raise ValueError(f"unknown client kind {kind!r}; expected router, health, stdio, http, enhance or ollama")


async def run_phase(client: Any, calls: int, concurrency: int, max_seconds: float) -> dict[str, Any]:
    """Make up to `calls` calls from `concurrency` workers, stopping early after `max_seconds`."""
    latencies_ns: list[int] = []
    received = 0
    errors = 0
    first_error = ""
    tickets = iter(range(calls))
    started = time.perf_counter_ns()
    stop_at = started + int(max_seconds * 1e9)

    async def worker() -> None:
        nonlocal received, errors, first_error
        for _ in tickets:
            before = time.perf_counter_ns()
            if before > stop_at:
                return
            try:
                received += await client.call()
            except Exception as error:  # Counted and reported; the run goes on.
                errors += 1
                first_error = first_error or f"{type(error).__name__}: {error}"[:300]
                continue
            latencies_ns.append(time.perf_counter_ns() - before)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = (time.perf_counter_ns() - started) / 1e9
    latencies_ms = sorted(value / 1e6 for value in latencies_ns)
    return {
        "calls": len(latencies_ms),
        "errors": errors,
        "first_error": first_error,
        "concurrency": concurrency,
        "elapsed_s": elapsed,
        "calls_per_s": len(latencies_ms) / elapsed if elapsed > 0 else 0.0,
        "result_bytes": received,
        "mb_per_s": received / 1e6 / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies_ms, 0.50),
        "p99_ms": percentile(latencies_ms, 0.99),
        "mean_ms": sum(latencies_ms) / len(latencies_ms) if latencies_ms else math.nan,
        "max_ms": latencies_ms[-1] if latencies_ms else math.nan,
        "truncated_by_time": len(latencies_ms) + errors < calls,
    }


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    client = build_client(spec)
    await client.start()
    try:
        if spec.get("warmup", 0):
            await run_phase(client, spec["warmup"], spec["concurrency"], spec.get("max_seconds", 30.0))
        return await run_phase(client, spec["calls"], spec["concurrency"], spec.get("max_seconds", 30.0))
    finally:
        await client.close()


async def measure_startup(spec: dict[str, Any]) -> dict[str, Any]:
    """Spawn `servers` stdio servers at once; time until every one answered initialize and tools/list."""
    started = time.perf_counter()
    servers = [clients.StdioClient(spec["argv"], "", {}) for _ in range(spec["servers"])]

    async def bring_up(server: clients.StdioClient) -> None:
        await server.start()
        await server.request("tools/list", {})

    try:
        await asyncio.gather(*(bring_up(server) for server in servers))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(server.close() for server in servers), return_exceptions=True)
    return {"servers": spec["servers"], "elapsed_s": elapsed}


def main() -> None:
    spec = json.loads(sys.argv[1])
    runner = measure_startup if spec["client"] == "startup" else measure
    result = asyncio.run(runner(spec))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
