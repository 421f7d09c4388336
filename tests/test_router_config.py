"""Config validation: every error names the file, the server and the field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from router_service.config import ConfigError, load_config, parse_config
from tests.harness import BIN, free_port

PATH = Path("/etc/mcp/router.json")


def parse(document: dict, environ: dict | None = None):
    return parse_config(json.dumps(document), PATH, environ or {})


def test_claude_desktop_entry_is_accepted():
    config = parse({"mcpServers": {"files": {"command": "npx", "args": ["-y", "server", "${HOME}"], "env": {"KEY": "${TOKEN:-none}"}}}}, {"HOME": "/home/ada"})

    server = config.servers["files"]
    assert server.argv == ["npx", "-y", "server", "/home/ada"]
    assert server.env == {"KEY": "none"}
    assert server.enabled is True
    assert server.settings.request_timeout == 60.0


def test_router_defaults_and_server_overrides():
    config = parse({
        "router": {"requestTimeoutSeconds": 5, "breaker": {"failureThreshold": 2}},
        "mcpServers": {"a": {"command": "a"}, "b": {"command": "b", "requestTimeoutSeconds": 9, "disabled": True}},
    })

    assert config.servers["a"].settings.request_timeout == 5
    assert config.servers["a"].settings.breaker.failure_threshold == 2
    assert config.servers["b"].settings.request_timeout == 9
    assert config.servers["b"].enabled is False


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"mcpServers": {"x": {"args": []}}}, "mcpServers.x.command: missing or empty"),
        ({"mcpServers": {"x": {"command": "a", "args": "b"}}}, "mcpServers.x.args: must be a list of strings"),
        ({"mcpServers": {"x": {"command": "a", "env": {"K": 1}}}}, "mcpServers.x.env: must be an object whose values are strings"),
        ({"mcpServers": {"x": {"command": "a", "env": {"K": "${NOT_SET}"}}}}, "mcpServers.x.env.K: environment variable NOT_SET is not set"),
        ({"mcpServers": {"x": {"command": "a", "requestTimeoutSeconds": "fast"}}}, "mcpServers.x.requestTimeoutSeconds: must be a number"),
        ({"mcpServers": {"x": {"command": "a", "restart": "sometimes"}}}, "mcpServers.x.restart: must be one of always, on-failure, never"),
        ({"mcpServers": {"x": {"command": "a", "type": "sse"}}}, "mcpServers.x.type: only stdio servers are supported"),
        ({"mcpServers": {"../etc": {"command": "a"}}}, "mcpServers.../etc: invalid server name"),
        ({"mcpServers": {"x": {"command": "a", "breaker": {"threshold": 1}}}}, "mcpServers.x.breaker.threshold: unknown breaker option"),
        ({"mcpServers": []}, "mcpServers: missing or not an object"),
        ({"router": {"colour": 1}, "mcpServers": {}}, "router.colour: unknown option"),
        ([], "the top level must be a JSON object"),
        ({"mcpServers": {"x": {"command": 5}}}, "mcpServers.x.command: must be a string, got 5"),
        ({"mcpServers": {"x": {"command": "a", "args": ["a\u0000b"]}}}, "mcpServers.x.args[0]: contains a NUL character"),
        ({"mcpServers": {"x": {"command": "a", "args": ["\ud800"]}}}, "mcpServers.x.args[0]: contains a lone UTF-16 surrogate"),
        ({"mcpServers": {"x": {"command": "a", "env": {"A=B": "c"}}}}, "mcpServers.x.env: invalid variable name"),
        ({"mcpServers": {"x": {"command": "a", "requestTimeoutSeconds": 1e999}}}, "mcpServers.x.requestTimeoutSeconds: must be a finite number"),
        ({"mcpServers": {"x": {"command": "a", "enabled": True, "disabled": True}}}, "mcpServers.x.enabled: enabled and disabled contradict"),
        ({"mcpServers": {"x": {"command": "a", "roots": None}}}, "mcpServers.x.roots: must be a list"),
    ],
)
def test_invalid_config_names_the_field(document, expected):
    with pytest.raises(ConfigError) as caught:
        parse(document)

    assert str(caught.value).startswith(f"{PATH}: ")
    assert expected in str(caught.value)


async def test_unreadable_files_are_reported(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {')
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")

    for path, expected in ((tmp_path / "missing.json", "config file not found"), (broken, "invalid JSON at line 1"), (binary, "not valid UTF-8")):
        with pytest.raises(ConfigError) as caught:
            await load_config(path)
        assert str(caught.value).startswith(str(path))
        assert expected in str(caught.value)


async def test_router_exits_with_message_on_bad_config(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {"time": {"command": "mcp-server-time", "args": [1]}}}))

    process = await asyncio.create_subprocess_exec(
        str(BIN / "router-service"), "--config", str(config), "--listen", f"127.0.0.1:{free_port()}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 2
    assert f"{config}: mcpServers.time.args: must be a list of strings" in err.decode()


async def test_router_help_explains_options():
    process = await asyncio.create_subprocess_exec(str(BIN / "router-service"), "--help", stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()

    assert process.returncode == 0
    for option in ("--config", "--listen", "--log-level"):
        assert option in out.decode()


def test_duplicate_keys_deep_nesting_and_bom():
    duplicate = '{"mcpServers": {"x": {"command": "a"}, "x": {"command": "b"}}}'
    deep = '{"mcpServers": {}, "notes": ' + "[" * 5000 + "]" * 5000 + "}"

    with pytest.raises(ConfigError) as duplicated:
        parse_config(duplicate, PATH, {})
    with pytest.raises(ConfigError) as nested:
        parse_config(deep, PATH, {})
    with_bom = parse_config("\ufeff" + '{"mcpServers": {"x": {"command": "a"}}}', PATH, {})

    assert 'the key "x" appears twice' in str(duplicated.value)
    assert "nested too deeply" in str(nested.value)
    assert list(with_bom.servers) == ["x"]


async def test_missing_cwd_is_reported(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {"x": {"command": "a", "cwd": str(tmp_path / "nowhere")}}}))

    with pytest.raises(ConfigError) as caught:
        await load_config(config)

    assert f"mcpServers.x.cwd: directory not found: {tmp_path / 'nowhere'}" in str(caught.value)
