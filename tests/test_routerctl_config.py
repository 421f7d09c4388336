"""routerctl config export and import: host snippets for Claude Desktop, VS Code and Cursor, and
host config files merged into a real router without overwriting its servers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from routerctl.host_config import parse_jsonc, router_entry
from tests.conftest import fault_server
from tests.harness import BIN
from tests.routerctl_support import STDIO_FRONT, routerctl, unused_target

MANAGED = {"allowServerManagement": True}
TIME_COMMAND = str(BIN / "mcp-server-time")


# export


@pytest.mark.parametrize(("host", "key"), [("claude-desktop", "mcpServers"), ("cursor", "mcpServers"), ("vscode", "servers")])
async def test_export_points_host_at_front(host, key):
    target = unused_target()
    result = await routerctl("--target", target, "config", "export", "--client", host)

    assert result.code == 0, result
    snippet = result.json()
    assert list(snippet) == [key]
    entry = snippet[key]["mcp-router"]
    assert entry["command"] == str(STDIO_FRONT)
    assert os.path.isabs(entry["command"])
    assert os.access(entry["command"], os.X_OK)
    assert entry["args"] == ["--target", target]
    assert entry.get("type") == ("stdio" if host == "vscode" else None)


async def test_export_keeps_timeout_and_name():
    result = await routerctl("config", "export", "--client", "cursor", "--name", "router-b", "--timeout", "120", "--target", "127.0.0.1:50061")

    assert result.code == 0, result
    assert result.json()["mcpServers"]["router-b"]["args"] == ["--target", "127.0.0.1:50061", "--timeout", "120"]


# import


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def test_import_claude_desktop_reports_duplicates(start_router, tmp_path):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    original_fault = json.loads(router.config_path.read_text())["mcpServers"]["fault"]
    source = write(
        tmp_path / "claude_desktop_config.json",
        json.dumps(
            {
                "mcpServers": {
                    "clock": {"command": TIME_COMMAND, "args": ["--local-timezone", "UTC"]},
                    "fault": {"command": "/bin/false"},
                    "web": {"url": "http://127.0.0.1:9/mcp"},
                }
            }
        ),
    )

    result = await routerctl("--target", router.target, "config", "import", str(source))

    assert result.code == 0, result
    lines = result.lines()
    assert "added clock" in lines
    assert "duplicate fault: the router has a server with this name already, so its entry was kept" in lines
    assert "skipped web: not a stdio server (url http://127.0.0.1:9/mcp), and the router runs stdio servers only" in lines
    assert lines[-1] == f"imported {source} (mcpServers): 1 added, 1 duplicates kept as they were, 1 skipped, 0 failed"
    saved = json.loads(router.config_path.read_text())["mcpServers"]
    assert saved["fault"] == original_fault
    assert saved["clock"] == {"command": TIME_COMMAND, "args": ["--local-timezone", "UTC"]}
    assert "web" not in saved
    assert (await router.server("clock")).tool_count == 2


async def test_import_vscode_mcp_json_with_comments(start_router, tmp_path):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    source = write(
        tmp_path / "mcp.json",
        """{
  // Workspace servers, as VS Code writes them.
  "inputs": [{"type": "promptString", "id": "token", "description": "API token", "password": true}],
  "servers": {
    "clock": {
      "type": "stdio",
      "command": "%s",
      "args": ["--local-timezone", "UTC"],
      "env": {"CLOCK_HOME": "${env:HOME}", "NOTE": "http://not-a-comment // here"},  /* trailing comma next */
    },
    "secret": {"type": "stdio", "command": "server", "args": ["--token", "${input:token}"]},
    "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
  },
}
"""
        % TIME_COMMAND,
    )

    result = await routerctl("--target", router.target, "--json", "config", "import", str(source))

    assert result.code == 0, result
    report = result.json()
    assert report["key"] == "servers"
    assert report["added"] == ["clock"]
    assert report["duplicates"] == []
    assert [item["name"] for item in report["skipped"]] == ["secret", "remote"]
    assert "${input:...}" in report["skipped"][0]["reason"]
    assert report["failed"] == []
    saved = json.loads(router.config_path.read_text())["mcpServers"]["clock"]
    assert "type" not in saved
    assert saved["env"] == {"CLOCK_HOME": "${HOME}", "NOTE": "http://not-a-comment // here"}


async def test_import_vscode_settings_json(start_router, tmp_path):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    source = write(
        tmp_path / "settings.json",
        json.dumps({"editor.fontSize": 13, "mcp": {"servers": {"clock": {"type": "stdio", "command": TIME_COMMAND}}}}),
    )

    result = await routerctl("--target", router.target, "--json", "config", "import", str(source))

    assert result.code == 0, result
    assert result.json()["key"] == "mcp.servers"
    assert result.json()["added"] == ["clock"]


async def test_import_failed_entry_exits_1(start_router, tmp_path):
    router = await start_router({"fault": fault_server()}, router_options=MANAGED)
    source = write(
        tmp_path / "claude_desktop_config.json",
        json.dumps({"mcpServers": {"broken": {"command": TIME_COMMAND, "args": "not a list"}, "clock": {"command": TIME_COMMAND}}}),
    )

    result = await routerctl("--target", router.target, "--json", "config", "import", str(source))

    assert result.code == 1, result
    report = result.json()
    assert report["added"] == ["clock"]
    assert [item["name"] for item in report["failed"]] == ["broken"]
    assert "args" in report["failed"][0]["error"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "cannot read"),
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"editor.fontSize": 13}', "no server map found"),
        ('{"mcpServers": ["a list"]}', "mcpServers must be an object"),
        ('{"mcpServers": ' + "[" * 5000 + "]" * 5000 + "}", "JSON nested too deeply"),
    ],
)
async def test_import_bad_file_exits_2(tmp_path, text, expected):
    source = tmp_path / "host.json"
    if text is not None:
        source.write_text(text)

    result = await routerctl("--target", unused_target(), "config", "import", str(source))

    assert result.code == 2, result
    assert str(source) in result.stderr
    assert expected in result.stderr


async def test_import_unreachable_router_exits_3(tmp_path):
    source = write(tmp_path / "mcp.json", json.dumps({"servers": {"clock": {"command": TIME_COMMAND}}}))

    result = await routerctl("--target", unused_target(), "config", "import", str(source))

    assert result.code == 3, result


# Parsing host files


def test_jsonc_keeps_strings_and_drops_comments():
    text = '{"url": "http://a/b", /* block */ "quote": "say \\"//hi,]\\"", // line\n "list": [1, 2, /* c */ ], "object": {"a": 1, // x\n },}'

    assert parse_jsonc(text) == {"url": "http://a/b", "quote": 'say "//hi,]"', "list": [1, 2], "object": {"a": 1}}


def test_router_entry_conversions():
    converted, reason = router_entry({"type": "stdio", "command": "npx", "args": ["${env:TOKEN}"], "disabled": True})
    skipped, skip_reason = router_entry({"type": "sse", "url": "http://127.0.0.1:9/sse"})
    not_object, not_object_reason = router_entry("npx server")

    assert converted == {"command": "npx", "args": ["${TOKEN}"], "disabled": True}
    assert reason == ""
    assert skipped is None
    assert skip_reason == "not a stdio server (type sse, url http://127.0.0.1:9/sse), and the router runs stdio servers only"
    assert not_object is None
    assert not_object_reason == "the entry is not a JSON object"
