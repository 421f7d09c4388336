"""The tool catalogue: every server's tools, their qualified names and name resolution."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import jsonrpc
from .errors import AmbiguousTool, ToolNotFound, UpstreamError, shown
from .session import McpSession

log = logging.getLogger(__name__)

QUALIFIER = "__"
# tools/list pages followed at most; protects against a server that never stops paging.
MAX_TOOL_PAGES = 100


@dataclass(frozen=True)
class ToolEntry:
    """One tool of one server, with its JSON parts kept as text."""

    server: str
    name: str
    description: str
    input_schema_json: str
    tool_json: str

    @property
    def qualified_name(self) -> str:
        return f"{self.server}{QUALIFIER}{self.name}"


async def fetch_tools(session: McpSession, timeout: float) -> list[ToolEntry]:
    """Follow tools/list pages to the end; stop on a repeated or empty cursor or the page limit."""
    tools: dict[str, ToolEntry] = {}
    seen_cursors: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        params = None if cursor is None else jsonrpc.dumps({"cursor": cursor})
        reply = await session.request("tools/list", params, timeout)
        result = reply.message.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            raise UpstreamError(f"server '{session.name}' sent a tools/list result without a tools list", jsonrpc.INTERNAL_ERROR, "{}")
        for raw in result["tools"]:
            entry = _tool_entry(session.name, raw)
            if entry is not None and entry.name not in tools:
                tools[entry.name] = entry
        cursor = result.get("nextCursor")
        if not isinstance(cursor, str) or not cursor:
            break
        if cursor in seen_cursors:
            log.warning("server=%s tools/list repeated cursor %r; stopped paging", session.name, cursor)
            break
        seen_cursors.add(cursor)
    else:
        log.warning("server=%s tools/list still paging after %d pages; stopped", session.name, MAX_TOOL_PAGES)
    return list(tools.values())


def _tool_entry(server: str, raw: Any) -> ToolEntry | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        log.warning("server=%s tools/list entry without a name skipped", server)
        return None
    description = raw.get("description")
    return ToolEntry(
        server=server,
        name=raw["name"],
        description=description if isinstance(description, str) else "",
        input_schema_json=jsonrpc.dumps(raw.get("inputSchema", {"type": "object"})),
        tool_json=jsonrpc.dumps(raw),
    )


class Catalogue:
    """The last known tool list of every server."""

    def __init__(self) -> None:
        self._tools: dict[str, dict[str, ToolEntry]] = {}

    def replace(self, server: str, tools: list[ToolEntry]) -> None:
        self._tools[server] = {tool.name: tool for tool in tools}

    def remove(self, server: str) -> None:
        self._tools.pop(server, None)

    def tools(self, server: str) -> list[ToolEntry]:
        return list(self._tools.get(server, {}).values())

    def count(self, server: str) -> int:
        return len(self._tools.get(server, {}))

    def resolve(self, server: str, tool: str, servers: list[str]) -> ToolEntry:
        """Find a tool by (server, name), by `<server>__<name>`, or by a name only one server has.

        `servers` lists the configured server names; the caller has already
        checked that a given `server` exists.
        """
        if server:
            entry = self._tools.get(server, {}).get(tool)
            if entry is None and tool.startswith(server + QUALIFIER):
                entry = self._tools.get(server, {}).get(tool[len(server) + len(QUALIFIER) :])
            if entry is None:
                raise ToolNotFound(f"server '{server}' has no tool '{shown(tool)}'")
            return entry

        # Longest server name first, so "a__b" wins over "a" for "a__b__tool".
        for name in sorted(servers, key=len, reverse=True):
            prefix = name + QUALIFIER
            if tool.startswith(prefix):
                entry = self._tools.get(name, {}).get(tool[len(prefix) :])
                if entry is not None:
                    return entry

        owners = [entries[tool] for entries in self._tools.values() if tool in entries]
        if len(owners) == 1:
            return owners[0]
        if len(owners) > 1:
            names = ", ".join(sorted(entry.server for entry in owners))
            raise AmbiguousTool(f"tool '{shown(tool)}' exists on several servers ({names}); set server or use <server>__{shown(tool)}")
        raise ToolNotFound(f"no server has a tool named '{shown(tool)}'")
