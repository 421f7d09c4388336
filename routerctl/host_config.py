"""Desktop host configs: export the snippet that starts the stdio front, import a host's servers into the router."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .client import RouterClient
from .connection import TOKEN_ENV, RouterConnection
from .errors import EXIT_FAILED, EXIT_OK, AlreadyExists, CommandError, RouterUnreachable, UsageError
from .output import print_json

FRONT_SCRIPT = "mcp-router-stdio"
HOSTS = ("claude-desktop", "vscode", "cursor")
# Cursor's and VS Code's `${env:NAME}`, which the router writes as `${NAME}`.
_ENV_VARIABLE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
# VS Code prompts the user for `${input:...}` values, but the router has no user to prompt.
_INPUT_VARIABLE = re.compile(r"\$\{input:[^}]*\}")
# Matches a whole JSON string, which stays, or a trailing comma, which the whitespace and bracket after it (group 1) replace.
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(\s*[\]}])')


# Export


def front_command() -> str:
    """Return the absolute path of the installed mcp-router-stdio script."""
    beside = Path(sys.executable).parent / FRONT_SCRIPT
    if beside.exists():
        return str(beside.absolute())
    found = shutil.which(FRONT_SCRIPT)
    if found is None:
        raise CommandError(f"{FRONT_SCRIPT} is not installed next to {sys.executable} or on PATH, so reinstall the package (make install)")
    return str(Path(found).absolute())


def export_snippet(host: str, name: str, connection: RouterConnection, timeout: float | None) -> dict[str, Any]:
    """Build the config snippet with which `host` starts the stdio front for the router of `connection`."""
    args = connection.front_args()
    if timeout is not None:
        args += ["--timeout", f"{timeout:g}"]
    entry: dict[str, Any] = {"command": front_command(), "args": args}
    if host == "vscode":
        return {"servers": {name: {"type": "stdio", **entry}}}
    # Claude Desktop and Cursor both read an `mcpServers` map.
    return {"mcpServers": {name: entry}}


async def export_config(connection: RouterConnection, args: argparse.Namespace) -> int:
    print_json(export_snippet(args.client, args.name, connection, args.timeout))
    if connection.token is not None and connection.token_file is None:
        print(
            f"routerctl: the snippet leaves out the token from {TOKEN_ENV}, so export with --token-file FILE, "
            f"or set {TOKEN_ENV} in the host's env for this server",
            file=sys.stderr,
        )
    return EXIT_OK


# Import


def parse_jsonc(text: str) -> Any:
    """Parse JSON with comments and trailing commas, as VS Code and Cursor allow in their config files."""
    return json.loads(_drop_trailing_commas(_drop_comments(text)))


def _string_end(text: str, start: int) -> int:
    """Return the index just past the JSON string that opens at `start`, escapes included."""
    index = start + 1
    while index < len(text) and text[index] != '"':
        index += 2 if text[index] == "\\" else 1
    return index + 1


def _drop_comments(text: str) -> str:
    """Drop // and /* */ comments outside strings."""
    kept: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == '"':
            end = _string_end(text, index)
            kept.append(text[index:end])
            index = end
        elif text.startswith("//", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = len(text) if close < 0 else close + 2
        else:
            kept.append(text[index])
            index += 1
    return "".join(kept)


def _drop_trailing_commas(text: str) -> str:
    """Drop each comma outside strings that only whitespace separates from a closing bracket."""
    return _STRING_OR_TRAILING_COMMA.sub(lambda match: match.group(0) if match.group(1) is None else match.group(1), text)


def read_host_servers(path: Path) -> tuple[str, dict[str, Any]]:
    """Return the key path of the server map found in a host config file, and the map itself."""
    try:
        data = parse_jsonc(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise UsageError(f"{path}: invalid JSON: {error}") from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object at the top level")

    mcp_section = data.get("mcp")
    candidates = [
        ("mcpServers", data.get("mcpServers")),
        ("servers", data.get("servers")),
        ("mcp.servers", mcp_section.get("servers") if isinstance(mcp_section, dict) else None),
        ("mcp.servers", data.get("mcp.servers")),
    ]
    for key, servers in candidates:
        if servers is not None:
            if not isinstance(servers, dict):
                raise UsageError(f"{path}: {key} must be an object that maps server names to entries")
            return key, servers
    raise UsageError(f"{path}: no server map found, expected mcpServers (Claude Desktop, Cursor), servers (VS Code mcp.json) or mcp.servers (VS Code settings.json)")


def router_entry(entry: Any) -> tuple[dict[str, Any] | None, str]:
    """Convert a host's server entry for the router, or return (None, reason) when the router cannot run it."""
    if not isinstance(entry, dict):
        return None, "the entry is not a JSON object"
    transport = entry.get("type")
    if transport not in (None, "stdio") or "command" not in entry:
        facts = [f"type {transport}"] if transport is not None else []
        if isinstance(entry.get("url"), str):
            facts.append(f"url {entry['url']}")
        return None, f"not a stdio server ({', '.join(facts) or 'no command'}), and the router runs stdio servers only"

    converted = {key: _expand_env_references(value) for key, value in entry.items() if key != "type"}
    if _INPUT_VARIABLE.search(json.dumps(converted)):
        return None, "uses ${input:...} variables, which only VS Code can prompt for. Add it with `routerctl servers add` and the real values"
    return converted, ""


def _expand_env_references(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_VARIABLE.sub(r"${\1}", value)
    if isinstance(value, list):
        return [_expand_env_references(item) for item in value]
    if isinstance(value, dict):
        return {key: _expand_env_references(item) for key, item in value.items()}
    return value


@dataclass
class ImportReport:
    """Outcome of `config import` for each server of the file."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.duplicates)} duplicates kept as they were, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed"
        )


async def import_servers(client: RouterClient, servers: dict[str, Any]) -> ImportReport:
    """Add each server through AddServer. A name that the router has already is reported and never overwritten."""
    report = ImportReport()
    existing = {server.name for server in await client.list_servers()}
    for name, entry in servers.items():
        if name in existing:
            report.duplicates.append(name)
            continue
        converted, reason = router_entry(entry)
        if converted is None:
            report.skipped.append({"name": name, "reason": reason})
            continue
        try:
            await client.add_server(name, json.dumps(converted, ensure_ascii=False))
        except AlreadyExists:
            report.duplicates.append(name)
        except RouterUnreachable:
            raise
        except CommandError as error:
            report.failed.append({"name": name, "error": str(error)})
        else:
            report.added.append(name)
    return report


async def import_config(client: RouterClient, args: argparse.Namespace) -> int:
    """Import a host config file, and exit with 1 when any server could not be added."""
    path = Path(args.file)
    key, servers = read_host_servers(path)
    report = await import_servers(client, servers)
    if args.json:
        print_json({"file": str(path), "key": key, **asdict(report)})
    else:
        for name in report.added:
            print(f"added {name}")
        for name in report.duplicates:
            print(f"duplicate {name}: the router has a server with this name already, so its entry was kept")
        for item in report.skipped:
            print(f"skipped {item['name']}: {item['reason']}")
        for item in report.failed:
            print(f"failed {item['name']}: {item['error']}")
        print(f"imported {path} ({key}): {report.summary()}")
    return EXIT_FAILED if report.failed else EXIT_OK
