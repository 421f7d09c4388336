"""The servers commands: add, update and remove config entries, and start, stop and restart processes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp_router.v1 import router_pb2

from .calls import parse_json_object
from .client import RouterClient
from .commands import print_server
from .errors import EXIT_OK, CommandError, UsageError
from .output import print_json

# Options that describe an entry piece by piece, where --json gives the whole entry instead.
ENTRY_OPTIONS = ("command", "arg", "env", "cwd")


def entry_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Build an mcpServers entry from --json, or from --command, --arg, --env and --cwd."""
    if args.entry_json is not None:
        given = [f"--{name}" for name in ENTRY_OPTIONS if getattr(args, name)]
        if given:
            raise UsageError(f"--json gives the whole entry, so it cannot be combined with {', '.join(given)}")
        return parse_json_object(args.entry_json, "--json")
    if not args.command:
        raise UsageError("give the server's --command (with --arg, --env, --cwd as needed) or its whole entry with --json")

    entry: dict[str, Any] = {"command": args.command}
    if args.arg:
        entry["args"] = list(args.arg)
    if args.env:
        entry["env"] = parse_env(args.env)
    if args.cwd:
        entry["cwd"] = args.cwd
    return entry


def parse_env(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


async def add_server(client: RouterClient, args: argparse.Namespace) -> int:
    entry = entry_from_args(args)
    server = await client.add_server(args.name, json.dumps(entry, ensure_ascii=False))
    print_server(server, args.json)
    return EXIT_OK


async def update_server(client: RouterClient, args: argparse.Namespace) -> int:
    """Replace a server's whole entry, so fields that are not given are removed from it."""
    entry = entry_from_args(args)
    server = await client.update_server(args.name, json.dumps(entry, ensure_ascii=False))
    print_server(server, args.json)
    return EXIT_OK


async def remove_server(client: RouterClient, args: argparse.Namespace) -> int:
    reply = await client.remove_server(args.name)
    if args.json:
        print_json({"name": reply.name or args.name})
    else:
        print(f"removed {reply.name or args.name}")
    return EXIT_OK


async def start_server(client: RouterClient, args: argparse.Namespace) -> int:
    """Start a server, and exit with 1 when it is not RUNNING once the router stops waiting for it."""
    server = await client.start_server(args.name)
    print_server(server, args.json)
    require_running(server, "start")
    return EXIT_OK


async def stop_server(client: RouterClient, args: argparse.Namespace) -> int:
    print_server(await client.stop_server(args.name), args.json)
    return EXIT_OK


async def restart_server(client: RouterClient, args: argparse.Namespace) -> int:
    """Restart a server, and exit with 1 when it is not RUNNING once the router stops waiting for it."""
    server = await client.restart_server(args.name)
    print_server(server, args.json)
    require_running(server, "restart")
    return EXIT_OK


def require_running(server: router_pb2.Server, action: str) -> None:
    if server.state != router_pb2.RUNNING:
        state = router_pb2.ServerState.Name(server.state)
        error = server.last_error.splitlines()[0] if server.last_error else "no error recorded"
        raise CommandError(f"server {server.name} is {state} after {action}: {error}")
