"""The watch command: the router's events, one line each, as they happen."""

from __future__ import annotations

import argparse

from mcp_router.v1 import router_pb2

from .client import RouterClient
from .errors import EXIT_OK
from .output import breaker_name, message_dict, print_json, state_name


async def watch_events(client: RouterClient, args: argparse.Namespace) -> int:
    """Print events until --count events arrived, --timeout seconds passed, or the user presses Ctrl-C."""
    request = router_pb2.WatchEventsRequest(server=args.server, include_stderr=args.stderr)
    seen = 0
    async for event in client.watch_events(request, timeout=args.timeout):
        if args.json:
            print_json(message_dict(event), compact=True)
        else:
            print(describe_event(event), flush=True)
        seen += 1
        if args.count and seen >= args.count:
            break
    return EXIT_OK


def describe_event(event: router_pb2.RouterEvent) -> str:
    """Describe one event as `<time> <server> <what happened>`."""
    kind = event.WhichOneof("event")
    if kind == "state":
        change = event.state
        text = f"state {state_name(change.from_state)} -> {state_name(change.to_state)}" + _reason(change.reason)
    elif kind == "restart":
        text = f"restarted (restart {event.restart.restarts})" + _reason(event.restart.reason)
    elif kind == "breaker":
        change = event.breaker
        text = f"breaker {breaker_name(change.from_state)} -> {breaker_name(change.to_state)}" + _reason(change.reason)
    elif kind == "tools":
        tools = event.tools
        text = f"tools changed: {tools.tool_count} tools"
        if tools.added:
            text += f", added {', '.join(tools.added)}"
        if tools.removed:
            text += f", removed {', '.join(tools.removed)}"
    elif kind == "stderr":
        text = f"stderr: {event.stderr.line}"
    elif kind == "config":
        text = f"config {event.config.action}" + _reason(event.config.detail)
    else:
        text = f"unknown event {kind or '(empty)'}"
    return f"{event.at} {event.server or 'router'} {text}"


def _reason(text: str) -> str:
    return f": {text}" if text else ""
