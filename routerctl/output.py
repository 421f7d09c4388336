"""Output of routerctl: replies as JSON for scripts, or as aligned text for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from mcp_router.v1 import router_pb2

JSON_SUFFIX = "_json"


def message_dict(message: Message) -> dict[str, Any]:
    """Convert a reply into a JSON-ready dict with the proto field names.

    Every field appears, also when it has its default value. Enum values appear by
    name and int64 values as numbers. A `*_json` text field appears parsed, under its
    name without the suffix, and is null when empty.
    """
    raw = json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
        unquote_int64_if_possible=True,
    )
    return _parse_json_fields(raw)


def _parse_json_fields(value: Any) -> Any:
    if isinstance(value, list):
        return [_parse_json_fields(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key.endswith(JSON_SUFFIX) and isinstance(item, str):
            try:
                converted[key[: -len(JSON_SUFFIX)]] = json.loads(item) if item else None
                continue
            except ValueError:
                pass
        converted[key] = _parse_json_fields(item)
    return converted


def print_json(value: Any, *, compact: bool = False) -> None:
    """Print `value` as JSON on stdout: indented, or on one line with `compact`."""
    if compact:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, indent=2)
    print(text, flush=True)


def print_error(message: str) -> None:
    print(f"routerctl: {message}", file=sys.stderr, flush=True)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Align `rows` under `headers` in columns separated by two spaces."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    lines = []
    for row in [headers, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """Format a duration as `42s`, `5m07s`, `3h05m` or `2d03h`."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_ms(milliseconds: float | None) -> str:
    return "-" if milliseconds is None else f"{milliseconds:.1f}ms"


def state_name(state: int) -> str:
    return router_pb2.ServerState.Name(state)


def breaker_name(state: int) -> str:
    return router_pb2.BreakerState.Name(state)
