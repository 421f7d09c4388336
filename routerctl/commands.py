"""Commands that show and reset the router's state: status, tools, stats, enhance, reset-breakers, clear-cache."""

from __future__ import annotations

import argparse
import sys

from mcp_router.v1 import enhancer_pb2, router_pb2

from .client import RouterClient
from .errors import EXIT_OK, Unimplemented
from .output import (
    breaker_name,
    format_duration,
    format_ms,
    message_dict,
    print_json,
    render_table,
    state_name,
)

DESCRIPTION_WIDTH = 70


async def server_stats(client: RouterClient) -> dict[str, router_pb2.ServerStats]:
    """Return each server's call statistics by name, or nothing from a router without per-server stats."""
    try:
        stats = await client.get_stats()
    except Unimplemented:
        return {}
    return {entry.name: entry for entry in stats.servers}


def server_row(server: router_pb2.Server, stats: router_pb2.ServerStats | None) -> list[str]:
    state = state_name(server.state) + (" degraded" if server.degraded else "")
    p50 = stats.p50_ms if stats is not None and stats.calls > 0 else None
    return [
        server.name,
        state,
        str(server.pid) if server.pid else "-",
        format_duration(server.uptime_seconds) if server.state == router_pb2.RUNNING else "-",
        str(server.restarts),
        breaker_name(server.breaker),
        str(server.tool_count),
        format_ms(p50),
    ]


SERVER_HEADERS = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "BREAKER", "TOOLS", "P50"]


def server_json(server: router_pb2.Server, stats: router_pb2.ServerStats | None) -> dict:
    return {**message_dict(server), "stats": message_dict(stats) if stats is not None else None}


def print_servers(servers: list[router_pb2.Server], stats: dict[str, router_pb2.ServerStats], as_json: bool) -> None:
    if as_json:
        print_json({"servers": [server_json(server, stats.get(server.name)) for server in servers]})
    else:
        print(render_table(SERVER_HEADERS, [server_row(server, stats.get(server.name)) for server in servers]))


def print_server(server: router_pb2.Server, as_json: bool) -> None:
    """Print the reply of a command that changed one server, as one table row or as JSON."""
    if as_json:
        print_json(message_dict(server))
    else:
        print(render_table(SERVER_HEADERS, [server_row(server, None)]))


async def show_status(client: RouterClient, args: argparse.Namespace) -> int:
    """Print every server as a table row, or one server in detail when NAME is given."""
    if args.name:
        server = await client.get_server(args.name)
        stats = (await server_stats(client)).get(server.name)
        if args.json:
            print_json(server_json(server, stats))
        else:
            print_server_detail(server, stats)
        return EXIT_OK

    servers = await client.list_servers()
    print_servers(servers, await server_stats(client), args.json)
    return EXIT_OK


def print_server_detail(server: router_pb2.Server, stats: router_pb2.ServerStats | None) -> None:
    fields = [
        ("name", server.name),
        ("state", state_name(server.state) + (" (degraded: the last ping failed)" if server.degraded else "")),
        ("pid", str(server.pid) if server.pid else "-"),
        ("uptime", format_duration(server.uptime_seconds) if server.state == router_pb2.RUNNING else "-"),
        ("restarts", str(server.restarts) + (f" (last: {server.last_restart_reason})" if server.last_restart_reason else "")),
        ("breaker", breaker_name(server.breaker)),
        ("tools", str(server.tool_count)),
        ("command", server.command),
        ("protocol", server.protocol_version or "-"),
        ("server info", server.server_info_json or "-"),
        ("last exit code", str(server.last_exit_code) if server.HasField("last_exit_code") else "-"),
        ("failed starts in a row", str(server.consecutive_failures)),
        ("last error", server.last_error or "-"),
    ]
    if stats is not None:
        fields.append(("calls", f"{stats.calls} ({stats.errors} errors, {stats.timeouts} timeouts, {stats.in_flight} in flight)"))
        if stats.calls:
            fields.append(("latency", f"p50 {format_ms(stats.p50_ms)}, p95 {format_ms(stats.p95_ms)}, p99 {format_ms(stats.p99_ms)}"))
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label + ':':<{width + 1}} {value}")
    if server.stderr_tail:
        print("stderr tail:")
        for line in server.stderr_tail.rstrip("\n").splitlines():
            print(f"  {line}")


async def list_tools(client: RouterClient, args: argparse.Namespace) -> int:
    tools = await client.list_tools(args.server)
    if args.json:
        print_json({"tools": [message_dict(tool) for tool in tools]})
        return EXIT_OK
    rows = [[tool.qualified_name, _first_line(tool.description)] for tool in tools]
    print(render_table(["TOOL", "DESCRIPTION"], rows))
    return EXIT_OK


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= DESCRIPTION_WIDTH else line[: DESCRIPTION_WIDTH - 3] + "..."


async def show_stats(client: RouterClient, args: argparse.Namespace) -> int:
    stats = await client.get_stats()
    if args.json:
        print_json(message_dict(stats))
        return EXIT_OK

    print(f"router uptime: {format_duration(stats.uptime_seconds) if stats.uptime_seconds else '-'}")
    rows = [
        [
            entry.name,
            state_name(entry.state),
            breaker_name(entry.breaker),
            str(entry.calls),
            str(entry.errors),
            str(entry.timeouts),
            str(entry.in_flight),
            *(format_ms(value if entry.calls else None) for value in (entry.p50_ms, entry.p95_ms, entry.p99_ms)),
        ]
        for entry in stats.servers
    ]
    print(render_table(["SERVER", "STATE", "BREAKER", "CALLS", "ERRORS", "TIMEOUTS", "IN-FLIGHT", "P50", "P95", "P99"], rows))
    print()
    print("recent requests, oldest first:")
    recent = [[item.at, item.server, item.tool, item.client or "-", item.status, format_ms(item.elapsed_ms)] for item in stats.recent]
    print(render_table(["AT", "SERVER", "TOOL", "CLIENT", "STATUS", "ELAPSED"], recent))
    print()
    print_enhancer_stats(stats.enhancer if stats.HasField("enhancer") else None)
    return EXIT_OK


def print_enhancer_stats(link: router_pb2.EnhancerLinkStats | None) -> None:
    if link is None or not link.address:
        print("enhancer: not configured")
        return
    print(
        f"enhancer: {link.address} health {link.health or 'UNKNOWN'}, breaker {breaker_name(link.breaker)}, "
        f"{link.calls} calls, {link.failures} failures, {link.skipped_breaker_open} skipped while the breaker was open"
    )
    if not link.HasField("enhancer"):
        print(f"enhancer stats: unavailable ({link.enhancer_error or 'no reply'})")
        return
    cache = link.enhancer.cache
    print(
        f"enhancer cache: {cache.entries}/{cache.max_entries} entries, {cache.hits} hits, {cache.misses} misses, "
        f"hit rate {cache.hit_rate:.0%}, Ollama breaker {breaker_name(link.enhancer.breaker.state)}"
    )


async def enhance_prompt(client: RouterClient, args: argparse.Namespace) -> int:
    """Print the rewritten prompt, or the unchanged prompt with the reason on stderr when it was not rewritten."""
    request = enhancer_pb2.EnhanceRequest(prompt=args.prompt, client=args.client, require=args.require)
    reply = await client.enhance(request)
    if args.json:
        print_json(message_dict(reply))
        return EXIT_OK
    print(reply.enhanced)
    if not reply.applied:
        reason = enhancer_pb2.EnhanceReason.Name(reply.reason)
        detail = f": {reply.detail}" if reply.detail else ""
        print(f"routerctl: prompt returned unchanged: {reason}{detail}", file=sys.stderr)
    return EXIT_OK


async def reset_breakers(client: RouterClient, args: argparse.Namespace) -> int:
    servers = await client.reset_breakers(args.name)
    if args.json:
        print_json({"servers": [message_dict(server) for server in servers]})
    else:
        print(render_table(["NAME", "BREAKER"], [[server.name, breaker_name(server.breaker)] for server in servers]))
    return EXIT_OK


async def clear_cache(client: RouterClient, args: argparse.Namespace) -> int:
    reply = await client.clear_enhancer_cache()
    if args.json:
        print_json(message_dict(reply))
    else:
        print(f"removed {reply.removed} enhancer cache entries")
    return EXIT_OK
