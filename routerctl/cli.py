"""`routerctl`: operate the MCP Router from a shell, and connect desktop MCP hosts to it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from . import calls, commands, front, host_config, servers, watch
from .client import RouterClient
from .connection import add_connection_options, connection_from_args
from .errors import EXIT_INTERRUPTED, EXIT_OK, CommandError
from .output import print_error

DEFAULT_TIMEOUT_SECONDS = 60.0

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the call failed, or the tool returned an error result (isError), or a forwarded request got a JSON-RPC error
  2  invalid usage or input, such as malformed JSON (the message names the option)
  3  the router is unreachable at --target, or the connection to it was lost
  4  no such server or tool
  5  the deadline ran out (--timeout, or the server's requestTimeoutSeconds)
  6  a server with that name exists already (servers add)
  7  the router rejected the call: a missing or invalid token, a role without the right, or server management turned off
"""


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # The global options also work after the command. SUPPRESS keeps a value given before it.
    connection = argparse.ArgumentParser(add_help=False)
    add_connection_options(connection, suppress=True)
    connection.add_argument("--timeout", type=positive_seconds, default=argparse.SUPPRESS, metavar="SECONDS", help="gRPC deadline of each call")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")
    both = [connection, output]

    parser = argparse.ArgumentParser(
        prog="routerctl",
        description="Operate the MCP Router: servers, tools, calls, events, statistics and desktop host configs.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser, suppress=False)
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"gRPC deadline of each call in seconds (default: {DEFAULT_TIMEOUT_SECONDS:g}), and for watch how long to watch (default: until Ctrl-C)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout (watch: one object per line)")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = subcommands.add_parser("status", parents=both, help="show servers: state, pid, uptime, restarts, breaker, tools, p50 latency")
    status.add_argument("name", nargs="?", default="", help="show this server in detail, with its last error and stderr tail")
    status.set_defaults(run=commands.show_status)

    tools = subcommands.add_parser("tools", parents=both, help="list tools by qualified name <server>__<tool>")
    tools.add_argument("--server", default="", help="only this server's tools")
    tools.set_defaults(run=commands.list_tools)

    call = subcommands.add_parser("call", parents=both, help="call a tool, with its progress and log lines on stderr while it runs")
    call.add_argument("server", help="server name")
    call.add_argument("tool", help="tool name as the server reports it")
    call.add_argument("--args", default="{}", metavar="JSON", help="tool arguments as a JSON object (default: {})")
    call.add_argument("--enhance", action="store_true", help="rewrite the arguments named in the server's enhance config first")
    call.add_argument("--client", default="", help="enhancer rule for --enhance (default: the default rule)")
    call.set_defaults(run=calls.call_tool)

    forward = subcommands.add_parser("forward", parents=both, help="send one raw JSON-RPC request to a server and print the response")
    forward.add_argument("server", help="server name")
    forward.add_argument("request", metavar="REQUEST", help='JSON-RPC request object with an id, such as \'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\'')
    forward.set_defaults(run=calls.forward_request)

    watch_parser = subcommands.add_parser("watch", parents=both, help="print state changes, restarts, breaker and tool changes as they happen")
    watch_parser.add_argument("--server", default="", help="only this server's events")
    watch_parser.add_argument("--stderr", action="store_true", help="also print the servers' stderr lines")
    watch_parser.add_argument("--count", type=int, default=0, metavar="N", help="stop after N events (default: no limit)")
    watch_parser.set_defaults(run=watch.watch_events)

    stats = subcommands.add_parser("stats", parents=both, help="show per-server call statistics, recent requests and the enhancer")
    stats.set_defaults(run=commands.show_stats)

    enhance = subcommands.add_parser("enhance", parents=both, help="rewrite a prompt through the router's enhancer")
    enhance.add_argument("prompt", help="the prompt to rewrite")
    enhance.add_argument("--client", default="", help="enhancer rule to use (default: the default rule)")
    enhance.add_argument("--require", action="store_true", help="fail instead of printing the original prompt when it cannot be rewritten")
    enhance.set_defaults(run=commands.enhance_prompt)

    add_servers_parser(subcommands, connection, both)

    reset = subcommands.add_parser("reset-breakers", parents=both, help="close the circuit breaker of one server, or of all")
    reset.add_argument("name", nargs="?", default="", help="server name (default: every server)")
    reset.set_defaults(run=commands.reset_breakers)

    clear = subcommands.add_parser("clear-cache", parents=both, help="empty the enhancer's cache")
    clear.set_defaults(run=commands.clear_cache)

    add_config_parser(subcommands, connection, both)

    connect = subcommands.add_parser(
        "connect",
        parents=[connection],
        help="serve the router's tools to a desktop MCP host over stdio (the same as mcp-router-stdio)",
    )
    front.add_front_options(connect)
    connect.set_defaults(run=None)
    return parser


def add_servers_parser(subcommands, connection: argparse.ArgumentParser, both: list[argparse.ArgumentParser]) -> None:
    servers_parser = subcommands.add_parser("servers", help="add, update, remove, start, stop or restart a server")
    actions = servers_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, run, summary in (
        ("add", servers.add_server, "add a server to the config file and start it"),
        ("update", servers.update_server, "replace a server's whole entry and restart it if it changed"),
    ):
        # --json after `add` or `update` is the entry, so JSON output needs --json before `servers`.
        edit = actions.add_parser(action, parents=[connection], help=summary)
        edit.add_argument("name", help="server name: 1 to 64 letters, digits, _ or -")
        edit.add_argument("--command", help="the server's executable")
        edit.add_argument("--arg", action="append", default=[], metavar="ARG", help="one argument, repeat for more (write --arg=-y for one that starts with -)")
        edit.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="one environment variable, repeat for more")
        edit.add_argument("--cwd", metavar="DIR", help="working directory")
        edit.add_argument("--json", dest="entry_json", metavar="ENTRY_JSON", help="the whole mcpServers entry as a JSON object, instead of the options above")
        edit.set_defaults(run=run)
    for action, run, summary in (
        ("remove", servers.remove_server, "stop a server and remove it from the config file"),
        ("start", servers.start_server, "start a server and wait until it runs or fails"),
        ("stop", servers.stop_server, "stop a server"),
        ("restart", servers.restart_server, "restart a server and wait until it runs or fails"),
    ):
        change = actions.add_parser(action, parents=both, help=summary)
        change.add_argument("name", help="server name")
        change.set_defaults(run=run)


def add_config_parser(subcommands, connection: argparse.ArgumentParser, both: list[argparse.ArgumentParser]) -> None:
    config = subcommands.add_parser("config", help="export a desktop host's config snippet, or import a host's servers")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")

    export = actions.add_parser("export", parents=[connection], help="print the snippet that connects a desktop host to this router")
    export.add_argument("--client", required=True, choices=host_config.HOSTS, help="the desktop host")
    export.add_argument("--name", default=front.FRONT_NAME, help=f"server name in the host's config (default: {front.FRONT_NAME})")
    export.set_defaults(run=host_config.export_config, offline=True)

    load = actions.add_parser("import", parents=both, help="add the servers of a Claude Desktop, Cursor or VS Code config file")
    load.add_argument("file", help="claude_desktop_config.json, .cursor/mcp.json, .vscode/mcp.json or VS Code's settings.json")
    load.set_defaults(run=host_config.import_config)


async def run_command(args: argparse.Namespace) -> int:
    connection = connection_from_args(args)
    if args.command == "connect":
        return await front.run_front(connection, args.timeout or front.DEFAULT_CALL_TIMEOUT_SECONDS, args.poll_interval)
    if getattr(args, "offline", False):
        return await args.run(connection, args)
    async with RouterClient(connection, args.timeout or DEFAULT_TIMEOUT_SECONDS) as client:
        return await args.run(client, args)


def main(argv: list[str] | None = None) -> None:
    # A shell starts background jobs with SIGINT ignored; Ctrl-C and SIGINT must still end a call or a watch.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = build_parser().parse_args(argv)
    if args.command == "connect":
        front.configure_logging(args.log_level)

    try:
        code = asyncio.run(run_command(args))
    except CommandError as error:
        print_error(str(error))
        code = error.exit_code
    except KeyboardInterrupt:
        code = EXIT_OK if args.command == "watch" else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout left, as with `routerctl watch --json | head -n 1`.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)


if __name__ == "__main__":
    main()
