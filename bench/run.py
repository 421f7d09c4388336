"""`make bench`: measure the router against direct stdio, the gRPC floor and mcp-proxy in one run.

Prints markdown tables and writes the same figures, the targets and the method
to bench/results/bench-<UTC time>.json (and latest.json). Every process runs on
127.0.0.1 and every load is bounded in calls and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc

from bench import mcp_proxy, report, scenarios
from bench.services import PYTHON, REPO, Router, Service, everything_argv, fault_server_argv, free_port, rss_bytes, wait_serving
from bench.profile import profile_router

RESULTS = REPO / "bench" / "results"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a tenth of the calls and one round: checks that every section runs")
    parser.add_argument(
        "--profile", type=float, default=0.0, metavar="SECONDS",
        help="also sample the router with py-spy for this many seconds under an echo load at c=16 (default: 0, off)",
    )
    parser.add_argument("--skip-mcp-proxy", action="store_true", help="do not install or measure mcp-proxy")
    return parser.parse_args()


def machine() -> dict[str, Any]:
    """Describe the machine and the software versions the figures depend on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "node": bool(everything_argv()),
        "load_average_at_start": os.getloadavg(),
    }


def method(sizes: scenarios.Sizes) -> dict[str, Any]:
    return {
        "load_generator": "python -m bench.load, a new process per measurement, on asyncio's own event loop; one gRPC channel, one HTTP client or one stdio pipe shared by all workers",
        "services_loop": "the router and the gRPC floor run on asyncio's own event loop",
        "clock": "time.perf_counter_ns around each awaited call in the load generator",
        "latency": "nearest-rank p50 and p99 of the measured calls; warm-up calls are made first at the same concurrency and not recorded",
        "throughput": "measured calls divided by the wall time of the measured phase",
        "concurrency": "that many coroutines in the load generator, each making one call at a time",
        "references": "direct stdio from the load generator to the same server; bench/floor_server.py (grpc.aio health Check); "
        "bench/plain_proxy.py (a plain grpc.aio CallTool forwarded to one stdio server); mcp-proxy in bench/.mcp-proxy-venv",
        "echo_calls": sizes.calls,
        "echo_warmup": sizes.warmup,
        "rounds": f"{sizes.rounds} rounds interleaved over all paths; each figure is the median of the rounds",
        "time_cap_seconds": sizes.max_seconds,
        "slow_tool": f"{sizes.slow_calls} calls of a 50 ms sleep at concurrency 64 after 64 warm-up calls",
        "payload": f"text results of 1 MiB and 16 MiB at concurrency 1, {sizes.payload_calls} calls after one warm-up; MB = 10^6 bytes of result text",
        "startup": "a new router per round: spawn to all RUNNING (ListServers polled every 5 ms), then StopServer for all and StartServer for all at once, timed until every StartServer returned; median of the rounds; the direct reference spawns and initializes the servers from the load generator",
        "memory": "VmRSS of the router process from /proc (children are separate processes and not counted)",
        "server_cpu": "user plus system CPU time of the router, the floor or mcp-proxy from /proc/PID/stat over one echo run, divided by all calls of the run, warm-up included (10 ms clock ticks)",
        "enhancer": f"{sizes.enhance_calls} Enhance calls at concurrency 1 after 20 warm-up calls; the fake Ollama is tests/fake_ollama.py",
        "server_log_level": "info",
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    sizes = scenarios.Sizes.quick() if args.quick else scenarios.Sizes.full()
    figures: dict[str, Any] = {}

    proxy_executable = None
    if args.skip_mcp_proxy:
        figures["mcp_proxy_skipped"] = "skipped with --skip-mcp-proxy"
    else:
        print("setting up mcp-proxy in bench/.mcp-proxy-venv", flush=True)
        proxy_executable, why = await mcp_proxy.ensure_installed()
        if proxy_executable is None:
            figures["mcp_proxy_skipped"] = why
            print(f"mcp-proxy is not measured: {why}", flush=True)

    servers: dict[str, Any] = {"fixture": {"command": PYTHON, "args": fault_server_argv()[1:]}}
    everything = everything_argv()
    if everything is not None:
        servers["everything"] = {"command": everything[0], "args": everything[1:]}
    else:
        print("node or tests/.npm is missing: server-everything is not measured", flush=True)

    floor_target = f"127.0.0.1:{free_port()}"
    floor = Service("grpc-floor", [PYTHON, "-m", "bench.floor_server", floor_target])
    plain_target = f"127.0.0.1:{free_port()}"
    plain = Service("plain-proxy", [PYTHON, "-m", "bench.plain_proxy", plain_target, *fault_server_argv()])
    router = Router("router", servers)
    proxy = mcp_proxy.McpProxy(proxy_executable, fault_server_argv()) if proxy_executable else None
    running: list[Service] = []
    try:
        for service, target in ((floor, floor_target), (plain, plain_target)):
            running.append(service)
            await service.start()
            await wait_serving(target)
        for service in (router, proxy):
            if service is not None:
                running.append(service)
                await service.start_and_wait()

        await asyncio.sleep(scenarios.IDLE_SETTLE_SECONDS)
        figures["memory"] = {"idle_rss_bytes": rss_bytes(router.pid), "idle_servers": len(servers)}

        print("echo latency and throughput", flush=True)
        server_pids = {
            scenarios.FLOOR: floor.pid,
            scenarios.PLAIN_PROXY: plain.pid,
            scenarios.ROUTER_FIXTURE: router.pid,
            scenarios.ROUTER_EVERYTHING: router.pid,
        }
        if proxy is not None:
            server_pids[scenarios.PROXY] = proxy.pid
        paths = scenarios.echo_paths(router, floor_target, plain_target, proxy)
        figures["echo"] = await scenarios.measure_echo(paths, server_pids, sizes)
        figures["memory"]["after_load_rss_bytes"] = rss_bytes(router.pid)
        print("slow tools", flush=True)
        figures["slow"] = await scenarios.measure_slow_tools(router, sizes)
        print("payloads", flush=True)
        figures["payload"] = await scenarios.measure_payloads(router, sizes)
        if args.profile > 0:
            print(f"profiling the router for {args.profile:.0f} s", flush=True)
            figures["profile"] = await profile_router(router, args.profile, RESULTS)
    finally:
        await asyncio.gather(*(service.stop() for service in reversed(running)))

    print("start-up", flush=True)
    figures["startup"] = await scenarios.measure_startup(sizes)
    if "30" in figures["startup"]:
        figures["memory"]["rss_30_servers_bytes"] = figures["startup"]["30"]["router_rss_bytes"]
    print("enhancer", flush=True)
    figures["enhancer"] = await scenarios.measure_enhancer(sizes)
    figures["method"] = method(sizes)
    return figures


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    environment = machine()
    figures = asyncio.run(measure(args))
    targets = report.evaluate_targets(figures)
    table = report.markdown(figures, targets)
    elapsed = time.monotonic() - started
    environment["load_average_at_end"] = os.getloadavg()

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "started_utc": stamp,
        "duration_s": round(elapsed, 1),
        "command": "make bench" + (" (--quick)" if args.quick else ""),
        "machine": environment,
        "method": figures.pop("method"),
        "figures": figures,
        "targets": report.targets_json(targets),
        "table_markdown": table,
    }
    text = json.dumps(document, indent=2, default=str)
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)

    print()
    print(
        f"Machine: {environment['cpu']}, {environment['cpus']} CPUs, {environment['memory_gib']} GiB; "
        f"1-minute load average {environment['load_average_at_start'][0]:.1f} at the start and "
        f"{environment['load_average_at_end'][0]:.1f} at the end. The machine is shared, so figures are noisy."
    )
    print()
    print(table)
    print()
    print(f"figures written to {path.relative_to(REPO)} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
