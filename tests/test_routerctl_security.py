"""routerctl and the stdio front against routers started with tokens or with mutual TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import fault_server
from tests.harness import ServiceProcess, free_port
from tests.routerctl_support import STDIO_FRONT, connect_host, eventually, routerctl, text_of
from tests.tls_support import make_tls_material

ADMIN = "admin-token-for-routerctl-0123456789"
CLIENT = "client-token-for-routerctl-0123456789"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
async def secured(start_router, tmp_path):
    tokens = {"tokens": [{"name": "ops", "token": ADMIN, "role": "admin"}, {"name": "desk", "token": CLIENT, "role": "client"}]}
    router = await start_router({"fault": fault_server()}, extra_args=["--tokens", str(write(tmp_path / "tokens.json", json.dumps(tokens)))])
    return router, write(tmp_path / "admin.token", ADMIN + "\n"), write(tmp_path / "client.token", CLIENT)


async def test_token_roles_decide_exit_codes(secured, tmp_path):
    router, admin_file, _ = secured

    without = await routerctl("--target", router.target, "status")
    as_client = await routerctl("--target", router.target, "status", env={"MCP_ROUTER_TOKEN": CLIENT})
    client_restart = await routerctl("--target", router.target, "servers", "restart", "fault", env={"MCP_ROUTER_TOKEN": CLIENT})
    admin_restart = await routerctl("--target", router.target, "--token-file", str(admin_file), "servers", "restart", "fault")
    missing_file = await routerctl("--target", router.target, "--token-file", str(tmp_path / "absent.token"), "status")
    two_tokens = await routerctl("--target", router.target, "--token-file", str(write(tmp_path / "two.token", "one two")), "status")

    assert without.code == 7, without
    assert "UNAUTHENTICATED" in without.stderr
    assert "--token-file" in without.stderr
    assert as_client.code == 0, as_client
    assert "fault" in as_client.stdout
    assert client_restart.code == 7, client_restart
    assert "PERMISSION_DENIED" in client_restart.stderr
    assert admin_restart.code == 0, admin_restart
    assert missing_file.code == 2, missing_file
    assert "--token-file: cannot read" in missing_file.stderr
    assert two_tokens.code == 2, two_tokens
    assert "must contain one token" in two_tokens.stderr


async def test_export_names_token_file_for_front(secured):
    router, _, client_file = secured

    exported = await routerctl("--target", router.target, "--token-file", str(client_file), "config", "export", "--client", "claude-desktop")
    from_env = await routerctl("--target", router.target, "config", "export", "--client", "claude-desktop", env={"MCP_ROUTER_TOKEN": CLIENT})

    assert exported.code == 0, exported
    entry = exported.json()["mcpServers"]["mcp-router"]
    assert entry["args"] == ["--target", router.target, "--token-file", str(client_file)]
    assert CLIENT not in exported.stdout
    assert from_env.code == 0, from_env
    assert CLIENT not in from_env.stdout
    assert "leaves out the token" in from_env.stderr

    async with connect_host(entry["command"], entry["args"]) as host:
        listed = await host.session.list_tools()
        echoed = await host.session.call_tool("fault__echo", {"text": "with a token"})

    assert "fault__echo" in {tool.name for tool in listed.tools}
    assert text_of(echoed) == "with a token"


async def test_front_without_token_reports_rejection(secured):
    router, _, _ = secured

    async with connect_host(str(STDIO_FRONT), ["--target", router.target]) as host:
        reply = await host.session.call_tool("fault__echo", {"text": "no token"})

    assert reply.is_error is True
    assert "UNAUTHENTICATED" in text_of(reply)


async def test_mutual_tls_router(tmp_path):
    material = make_tls_material(tmp_path)
    config = write(tmp_path / "router.json", json.dumps({"mcpServers": {"fault": fault_server()}}))
    target = f"127.0.0.1:{free_port()}"
    router = ServiceProcess(
        "router-service",
        [
            "--config", str(config), "--listen", target,
            "--tls-cert", str(material.server_cert), "--tls-key", str(material.server_key), "--tls-client-ca", str(material.ca),
        ],
    )
    tls = ["--tls-ca", str(material.ca), "--tls-cert", str(material.client_cert), "--tls-key", str(material.client_key)]
    await router.start()
    try:
        async def fault_running():
            result = await routerctl("--target", target, *tls, "--json", "status")
            return result.code == 0 and result.json()["servers"][0]["state"] == "RUNNING"

        await eventually(fault_running, timeout=60, interval=0.5)
        called = await routerctl("--target", target, *tls, "call", "fault", "echo", "--args", '{"text": "over mutual TLS"}')
        plaintext = await routerctl("--target", target, "status")
        no_client_cert = await routerctl("--target", target, "--tls-ca", str(material.ca), "status")
        half_pair = await routerctl("--target", target, "--tls-cert", str(material.client_cert), "status")
        unreadable_ca = await routerctl("--target", target, "--tls-ca", str(tmp_path / "absent.pem"), "status")
        exported = await routerctl("--target", target, *tls, "config", "export", "--client", "vscode")
    finally:
        assert await router.stop() == 0

    assert called.code == 0, called
    assert called.stdout == "over mutual TLS\n"
    assert plaintext.code == 3, plaintext
    assert no_client_cert.code == 3, no_client_cert
    assert half_pair.code == 2, half_pair
    assert "--tls-cert and --tls-key go together" in half_pair.stderr
    assert unreadable_ca.code == 2, unreadable_ca
    assert "absent.pem" in unreadable_ca.stderr
    assert exported.json()["servers"]["mcp-router"]["args"] == ["--target", target, *tls]
