"""Commands that reach a server's tools: call (streamed, with progress) and forward (raw JSON-RPC)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mcp_router.v1 import router_pb2

from .client import RouterClient
from .errors import EXIT_FAILED, EXIT_OK, CommandError, ToolError, UsageError
from .output import message_dict, print_json


def parse_json_object(text: str, source: str) -> dict[str, Any]:
    """Parse `text` as a JSON object. A UsageError names `source`, the option or argument that gave the text."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source}: invalid JSON: {error}") from None
    except RecursionError:
        raise UsageError(f"{source}: JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise UsageError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


async def call_tool(client: RouterClient, args: argparse.Namespace) -> int:
    """Call a tool through CallToolStream: progress and log lines go to stderr while it runs, then the result to stdout."""
    arguments = parse_json_object(args.args, "--args")
    request = router_pb2.CallToolRequest(
        server=args.server,
        tool=args.tool,
        arguments_json=json.dumps(arguments, ensure_ascii=False),
        enhance=args.enhance,
        client=args.client,
    )
    result: router_pb2.CallToolResponse | None = None
    async for event in client.call_tool_stream(request):
        kind = event.WhichOneof("event")
        if kind == "progress":
            print(describe_progress(event.progress), file=sys.stderr, flush=True)
        elif kind == "log":
            print(describe_log(event.log), file=sys.stderr, flush=True)
        elif kind == "result":
            result = event.result
    if result is None:
        raise CommandError(f"the router ended the call of {args.server}/{args.tool} without a result")

    if args.json:
        print_json(message_dict(result))
    else:
        print_tool_result(json.loads(result.result_json))
    if result.is_error:
        raise ToolError(f"tool {result.tool} of server {result.server} returned an error result (isError)")
    return EXIT_OK


def describe_progress(progress: router_pb2.Progress) -> str:
    amount = f"{progress.progress:g}" + (f"/{progress.total:g}" if progress.HasField("total") else "")
    return f"progress {amount}" + (f": {progress.message}" if progress.message else "")


def describe_log(entry: router_pb2.LogMessage) -> str:
    """Describe a log message, with text data as is and other data as compact JSON."""
    source = f" {entry.logger}" if entry.logger else ""
    try:
        data = json.loads(entry.data_json)
    except ValueError:
        data = None
    text = data if isinstance(data, str) else entry.data_json
    return f"log {entry.level or '-'}{source}: {text}"


def print_tool_result(result: dict[str, Any]) -> None:
    """Print each content item of an MCP CallToolResult: text as is, other kinds as one summary line."""
    content = result.get("content") or []
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            print(item.get("text", ""))
        elif kind in ("image", "audio"):
            print(f"[{kind} {item.get('mimeType', 'of unknown type')}, {len(item.get('data', ''))} base64 characters]")
        elif kind == "resource" and isinstance(item.get("resource"), dict):
            resource = item["resource"]
            print(resource["text"] if "text" in resource else f"[resource {resource.get('uri', '')}]")
        elif kind == "resource_link":
            print(f"[resource link {item.get('uri', '')}]")
        else:
            print(json.dumps(item, ensure_ascii=False))
    if not content and "structuredContent" in result:
        print(json.dumps(result["structuredContent"], ensure_ascii=False, indent=2))


async def forward_request(client: RouterClient, args: argparse.Namespace) -> int:
    """Send one JSON-RPC request and print the response verbatim. A JSON-RPC error response exits with 1."""
    parse_json_object(args.request, "REQUEST")
    response_json = await client.forward(args.server, args.request)
    print(response_json, flush=True)
    try:
        response = json.loads(response_json)
    except ValueError:
        return EXIT_FAILED
    return EXIT_FAILED if isinstance(response, dict) and "error" in response else EXIT_OK
