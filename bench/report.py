"""The benchmark's targets and its markdown report, both computed from the figures of one run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.scenarios import FLOOR, PROXY, ROUTER_FIXTURE as ROUTER, STDIO_FIXTURE as STDIO


@dataclass(frozen=True)
class TargetResult:
    """One benchmark goal: what was measured, the limit, and whether the run met it."""

    name: str
    measured: str
    limit: str
    met: bool | None
    gap: str


def _target(name: str, value: float | None, limit: float | None, unit: str, higher_is_better: bool, why_missing: str = "") -> TargetResult:
    if value is None or limit is None or math.isnan(value) or math.isnan(limit):
        return TargetResult(name, "not measured", "-", None, why_missing or "a figure is missing")
    met = value >= limit if higher_is_better else value <= limit
    sign = "at least" if higher_is_better else "at most"
    gap = "" if met else f"{_number(abs(value - limit))} {unit} {'short' if higher_is_better else 'over'}"
    return TargetResult(name, f"{_number(value)} {unit}", f"{sign} {_number(limit)} {unit}", met, gap)


def _number(value: float) -> str:
    """Format with three significant digits, but without exponent notation for large values."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def evaluate_targets(figures: dict[str, Any]) -> list[TargetResult]:
    """Check every goal of the benchmark against the figures of this run."""
    echo = figures.get("echo", {})
    floor, stdio, router, proxy = echo.get(FLOOR), echo.get(STDIO), echo.get(ROUTER), echo.get(PROXY)
    results = []

    if floor and stdio and router:
        allowed = floor[1]["p50_ms"] + stdio[1]["p50_ms"] + 0.1
        results.append(_target("router p50 at c=1 <= floor p50 + direct stdio p50 + 0.1 ms", router[1]["p50_ms"], allowed, "ms", False))
        results.append(_target("router calls/s at c=64 >= 85 % of the gRPC floor", router[64]["calls_per_s"], 0.85 * floor[64]["calls_per_s"], "calls/s", True))
    proxy_reason = figures.get("mcp_proxy_skipped", "mcp-proxy was not measured")
    results.append(
        _target("router calls/s at c=64 >= 5x mcp-proxy", router[64]["calls_per_s"] if router else None,
                5 * proxy[64]["calls_per_s"] if proxy else None, "calls/s", True, proxy_reason)
    )

    slow = figures.get("slow")
    if slow:
        results.append(_target("slow-tool calls/s >= 90 % of 64 / 0.05 s", slow["router"]["calls_per_s"], 0.9 * slow["ideal_calls_per_s"], "calls/s", True))

    startup = figures.get("startup", {})
    if "1" in startup and "30" in startup:
        results.append(_target("30 servers RUNNING <= 2x the time of 1", startup["30"]["router_from_request_s"], 2 * startup["1"]["router_from_request_s"], "s", False))

    enhancer = figures.get("enhancer", {})
    for label in ("router, enhancer's Ollama breaker open", "router, router's enhancer breaker open"):
        if label in enhancer:
            results.append(_target(f"fail-fast p99 <= 2 ms ({label.removeprefix('router, ')})", enhancer[label]["p99_ms"], 2.0, "ms", False))

    memory = figures.get("memory", {})
    if "idle_rss_bytes" in memory:
        results.append(_target("idle router RSS <= 80 MB", memory["idle_rss_bytes"] / 1e6, 80.0, "MB", False))
    return results


def _ms(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def _ratio(value: float, reference: float) -> str:
    if not reference or math.isnan(reference) or math.isnan(value):
        return "-"
    return f"{value / reference:.2f}x"


def markdown(figures: dict[str, Any], targets: list[TargetResult]) -> str:
    """Render the figures and the targets as markdown tables."""
    lines: list[str] = []
    echo = figures.get("echo", {})
    floor = echo.get(FLOOR)
    if echo:
        lines += [
            "| echo path | c | p50 ms | p99 ms | calls/s | calls/s vs gRPC floor | server CPU us/call |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, by_concurrency in echo.items():
            for concurrency, result in by_concurrency.items():
                versus = _ratio(result["calls_per_s"], floor[concurrency]["calls_per_s"]) if floor else "-"
                errors = f" ({result['errors']} errors)" if result["errors"] else ""
                cpu = f"{result['server_cpu_us_per_call']:.0f}" if "server_cpu_us_per_call" in result else "-"
                lines.append(
                    f"| {name}{errors} | {concurrency} | {_ms(result['p50_ms'])} | {_ms(result['p99_ms'])} | {result['calls_per_s']:.0f} | {versus} | {cpu} |"
                )
        lines.append("")

    slow = figures.get("slow")
    if slow:
        ideal = slow["ideal_calls_per_s"]
        lines += ["| slow tool: 64 concurrent 50 ms sleeps | calls/s | share of ideal | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
        lines.append(f"| ideal (64 / 0.05 s) | {ideal:.0f} | 100 % | 50.000 | 50.000 |")
        for label in ("router", "direct stdio"):
            result = slow[label]
            lines.append(f"| {label} | {result['calls_per_s']:.0f} | {100 * result['calls_per_s'] / ideal:.1f} % | {_ms(result['p50_ms'])} | {_ms(result['p99_ms'])} |")
        lines.append("")

    payloads = figures.get("payload")
    if payloads:
        lines += ["| result size | router MB/s | direct stdio MB/s | router / direct | router p50 ms | direct p50 ms |", "|---|---:|---:|---:|---:|---:|"]
        for label, entry in payloads.items():
            routed, direct = entry["router"], entry["direct stdio"]
            lines.append(
                f"| {label} | {routed['mb_per_s']:.1f} | {direct['mb_per_s']:.1f} | {_ratio(routed['mb_per_s'], direct['mb_per_s'])} | "
                f"{_ms(routed['p50_ms'])} | {_ms(direct['p50_ms'])} |"
            )
        lines.append("")

    startup = figures.get("startup")
    if startup:
        lines += [
            "| servers | router: StartServer to all RUNNING, s | router: process spawn to all RUNNING, s | direct spawn + initialize + tools/list, s | router RSS MB |",
            "|---:|---:|---:|---:|---:|",
        ]
        for entry in startup.values():
            lines.append(
                f"| {entry['servers']} | {entry['router_from_request_s']:.3f} | {entry['router_from_spawn_s']:.3f} | {entry['direct_s']:.3f} | "
                f"{entry['router_rss_bytes'] / 1e6:.1f} |"
            )
        lines.append("")

    enhancer = figures.get("enhancer")
    if enhancer:
        lines += ["| enhancer call, c=1 | p50 ms | p99 ms | calls/s |", "|---|---:|---:|---:|"]
        for label, result in enhancer.items():
            errors = f" ({result['errors']} errors)" if result["errors"] else ""
            lines.append(f"| {label}{errors} | {_ms(result['p50_ms'])} | {_ms(result['p99_ms'])} | {result['calls_per_s']:.0f} |")
        lines.append("")

    memory = figures.get("memory")
    if memory:
        lines += ["| router RSS, children excluded | MB |", "|---|---:|"]
        idle_label = f"idle, {memory.get('idle_servers', '?')} servers RUNNING, before any call"
        for label, key in ((idle_label, "idle_rss_bytes"), ("after the echo load", "after_load_rss_bytes"), ("30 servers RUNNING", "rss_30_servers_bytes")):
            if key in memory:
                lines.append(f"| {label} | {memory[key] / 1e6:.1f} |")
        lines.append("")

    lines += ["| target | measured | limit | result |", "|---|---:|---:|---|"]
    for target in targets:
        outcome = "not measured: " + target.gap if target.met is None else ("met" if target.met else f"missed by {target.gap}")
        lines.append(f"| {target.name} | {target.measured} | {target.limit} | {outcome} |")
    return "\n".join(lines)


def targets_json(targets: list[TargetResult]) -> list[dict[str, Any]]:
    return [asdict(target) for target in targets]
