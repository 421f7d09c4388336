"""Security: binding rules, tokens and roles, TLS, secrets, limits and hostile input."""

from __future__ import annotations

import asyncio
import json
import os

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.v1 import enhancer_pb2, router_pb2, router_pb2_grpc
from tests.conftest import fault_server, time_server
from tests.enhancer_support import SHIPPED_RULES, fake_ollama  # noqa: F401  (pytest fixture)
from tests.fake_ollama import REWRITE_PREFIX
from tests.harness import BIN, CHANNEL_OPTIONS, ServiceProcess, free_port, wait_serving
from tests.tls_support import make_tls_material

ADMIN = "admin-token-0123456789abcdef"
CLIENT = "client-token-0123456789abcdef"
SECRET = "sk-live-do-not-leak-4242"


def tokens_file(tmp_path) -> str:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"name": "ops", "token": ADMIN, "role": "admin"}, {"name": "app", "token": CLIENT, "role": "client"}]}))
    return str(path)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def run_to_exit(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, out.decode()


@pytest.mark.parametrize("script", ["router-service", "enhancer-service"])
async def test_non_loopback_bind_without_tokens_is_refused(tmp_path, script):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    extra = ["--config", str(config)] if script == "router-service" else []

    code, output = await run_to_exit(script, "--listen", f"0.0.0.0:{free_port()}", *extra)

    assert code == 2
    assert "refusing to listen on 0.0.0.0" in output
    assert "--allow-unauthenticated-remote" in output
    assert "--tokens" in output


async def test_non_loopback_bind_with_tokens_or_override_starts(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))

    for extra in (["--tokens", tokens_file(tmp_path)], ["--allow-unauthenticated-remote"]):
        port = free_port()
        router = ServiceProcess("router-service", ["--config", str(config), "--listen", f"0.0.0.0:{port}", *extra])
        await router.start()
        await wait_serving(f"127.0.0.1:{port}")
        assert await router.stop() == 0


@pytest.fixture
async def secured_router(start_router, tmp_path):
    return await start_router({"fault": fault_server()}, extra_args=["--tokens", tokens_file(tmp_path)])


async def test_missing_and_wrong_tokens_are_unauthenticated(secured_router):
    router = secured_router

    for metadata, text in ((None, "missing token"), (bearer("wrong-token-0123456789"), "invalid token"), ((("authorization", "Basic abc"),), "missing token")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await router.stub.ListTools(router_pb2.ListToolsRequest(), timeout=10, metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert text in caught.value.details()

    stream = router.stub.WatchEvents(router_pb2.WatchEventsRequest())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stream.read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_roles_decide_what_a_token_may_call(secured_router):
    router = secured_router
    call = router_pb2.CallToolRequest(tool="fault__echo", arguments_json='{"text": "hi"}')

    listed = await router.stub.ListTools(router_pb2.ListToolsRequest(), timeout=10, metadata=bearer(CLIENT))
    called = await router.stub.CallTool(call, timeout=10, metadata=bearer(CLIENT))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.StopServer(router_pb2.StopServerRequest(name="fault"), timeout=10, metadata=bearer(CLIENT))
    stopped = await router.stub.StopServer(router_pb2.StopServerRequest(name="fault"), timeout=30, metadata=bearer(ADMIN))

    assert "fault__echo" in {tool.qualified_name for tool in listed.tools}
    assert json.loads(called.result_json)["content"][0]["text"] == "hi"
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs role admin" in caught.value.details()
    assert stopped.state == router_pb2.STOPPED


async def test_health_and_reflection_stay_open(secured_router):
    router = secured_router

    async with grpc.aio.insecure_channel(router.target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    code, output = await run_to_exit("grpcurl", "-plaintext", router.target, "list")

    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert code == 0
    assert "mcp_router.v1.RouterService" in output


async def test_health_can_require_tokens(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    target = f"127.0.0.1:{free_port()}"
    router = ServiceProcess("router-service", ["--config", str(config), "--listen", target, "--tokens", tokens_file(tmp_path), "--auth-health-and-reflection"])
    await router.start()
    try:
        await wait_serving(target, metadata=bearer(CLIENT))
        async with grpc.aio.insecure_channel(target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        code, _ = await run_to_exit("grpcurl", "-plaintext", target, "list")
    finally:
        assert await router.stop() == 0

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert code != 0


async def test_token_from_environment(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    target = f"127.0.0.1:{free_port()}"
    router = ServiceProcess("router-service", ["--config", str(config), "--listen", target], env={"MCP_ROUTER_ADMIN_TOKEN": ADMIN})
    await router.start()
    await wait_serving(target)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListServers(router_pb2.ListServersRequest(), timeout=5)
        allowed = await stub.ResetBreakers(router_pb2.ResetBreakersRequest(), timeout=5, metadata=bearer(ADMIN))

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert list(allowed.servers) == []
    assert await router.stop() == 0
    assert ADMIN not in router.log_text()


async def test_bad_tokens_file_stops_start(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [{"name": "short", "token": "abc", "role": "admin"}]}))

    code, output = await run_to_exit("router-service", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}", "--tokens", str(tokens))

    assert code == 2
    assert f"{tokens}: tokens[0].token: must be a string of at least 16 characters" in output


async def test_repeated_wrong_tokens_change_nothing(secured_router):
    router = secured_router

    results = await asyncio.gather(
        *(router.stub.ListServers(router_pb2.ListServersRequest(), timeout=10, metadata=bearer(f"guess-{number:020d}")) for number in range(200)),
        return_exceptions=True,
    )
    after = await router.stub.ListServers(router_pb2.ListServersRequest(), timeout=10, metadata=bearer(CLIENT))

    assert all(isinstance(result, grpc.aio.AioRpcError) and result.code() == grpc.StatusCode.UNAUTHENTICATED for result in results)
    assert [server.name for server in after.servers] == ["fault"]


async def wait_serving_tls(target: str, credentials: grpc.ChannelCredentials, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    async with grpc.aio.secure_channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                return
            except grpc.aio.AioRpcError:
                if loop.time() > end:
                    raise
                await asyncio.sleep(0.1)


async def test_tls_and_mutual_tls(tmp_path):
    material = make_tls_material(tmp_path)
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    target = f"127.0.0.1:{free_port()}"
    router = ServiceProcess(
        "router-service",
        ["--config", str(config), "--listen", target, "--tls-cert", str(material.server_cert), "--tls-key", str(material.server_key), "--tls-client-ca", str(material.ca)],
    )
    await router.start()
    with_client_cert = grpc.ssl_channel_credentials(material.ca.read_bytes(), material.client_key.read_bytes(), material.client_cert.read_bytes())
    without_client_cert = grpc.ssl_channel_credentials(material.ca.read_bytes())
    try:
        await wait_serving_tls(target, with_client_cert)
        async with grpc.aio.secure_channel(target, with_client_cert) as channel:
            reply = await router_pb2_grpc.RouterServiceStub(channel).ListServers(router_pb2.ListServersRequest(), timeout=10)
        async with grpc.aio.secure_channel(target, without_client_cert) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as no_cert:
                await router_pb2_grpc.RouterServiceStub(channel).ListServers(router_pb2.ListServersRequest(), timeout=10)
        async with grpc.aio.insecure_channel(target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as plaintext:
                await router_pb2_grpc.RouterServiceStub(channel).ListServers(router_pb2.ListServersRequest(), timeout=10)
    finally:
        assert await router.stop() == 0

    assert list(reply.servers) == []
    assert no_cert.value.code() == grpc.StatusCode.UNAVAILABLE
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_router_reaches_enhancer_over_mutual_tls_with_token(fake_ollama, start_router, tmp_path):  # noqa: F811
    material = make_tls_material(tmp_path)
    enhancer_target = f"127.0.0.1:{free_port()}"
    enhancer = ServiceProcess(
        "enhancer-service",
        [
            "--listen", enhancer_target, "--ollama-url", fake_ollama.url, "--rules", str(SHIPPED_RULES),
            "--tls-cert", str(material.server_cert), "--tls-key", str(material.server_key), "--tls-client-ca", str(material.ca),
            "--tokens", tokens_file(tmp_path),
        ],
    )
    await enhancer.start()
    client_credentials = grpc.ssl_channel_credentials(material.ca.read_bytes(), material.client_key.read_bytes(), material.client_cert.read_bytes())
    try:
        await wait_serving_tls(enhancer_target, client_credentials)
        router = await start_router(
            {},
            wait_for=[],
            router_options={
                "enhancer": {
                    "address": enhancer_target,
                    "token": CLIENT,
                    "tls": {"ca": str(material.ca), "cert": str(material.client_cert), "key": str(material.client_key)},
                }
            },
        )

        reply = await router.stub.Enhance(enhancer_pb2.EnhanceRequest(prompt="summarise the log", require=True), timeout=15)

        assert reply.applied is True
        assert reply.enhanced.startswith(REWRITE_PREFIX)
    finally:
        assert await enhancer.stop() == 0


async def test_secrets_never_shown(start_router):
    router = await start_router({"fault": fault_server(env={"API_KEY": SECRET})}, extra_args=["--log-level", "debug"])
    stream = router.stub.WatchEvents(router_pb2.WatchEventsRequest(include_stderr=True))
    await router.stub.RestartServer(router_pb2.RestartServerRequest(name="fault"), timeout=30)

    listed = await router.stub.ListServers(router_pb2.ListServersRequest(), timeout=10)
    server = await router.server("fault")
    events = []
    async for event in stream:
        events.append(event)
        if event.HasField("state") and event.state.to_state == router_pb2.RUNNING:
            break
    stream.cancel()

    assert dict(server.env) == {"API_KEY": "<redacted>"}
    assert SECRET not in json_format.MessageToJson(listed)
    assert SECRET not in json_format.MessageToJson(server)
    assert all(SECRET not in json_format.MessageToJson(event) for event in events)
    assert SECRET not in router.process.log_text()


async def test_argument_and_request_size_limits(start_router):
    router = await start_router({"fault": fault_server()}, router_options={"maxArgumentsBytes": 1000, "maxRequestBytes": 64 * 1024})

    with pytest.raises(grpc.aio.AioRpcError) as arguments:
        await router.call("fault__echo", {"text": "x" * 2000})
    with pytest.raises(grpc.aio.AioRpcError) as request:
        await router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo", arguments_json="{}", client="y" * 100_000), timeout=10)
    fine = await router.call("fault__echo", {"text": "x" * 500})

    assert arguments.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxArgumentsBytes=1000" in arguments.value.details()
    assert request.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert json.loads(fine.result_json)["content"][0]["text"] == "x" * 500


async def test_in_flight_limits_per_server_and_per_client(start_router):
    router = await start_router({"fault": fault_server(maxInFlight=3), "other": fault_server()}, router_options={"maxInFlightPerClient": 2})

    async def hang(client: str, tool: str = "fault__hang"):
        request = router_pb2.CallToolRequest(tool=tool, client=client)
        return await router.stub.CallTool(request, timeout=3)

    greedy = [asyncio.ensure_future(hang("greedy")) for _ in range(2)]
    await asyncio.sleep(0.5)
    with pytest.raises(grpc.aio.AioRpcError) as per_client:
        await hang("greedy", "other__echo")
    polite = await router.stub.CallTool(router_pb2.CallToolRequest(tool="other__echo", client="polite", arguments_json='{"text": "ok"}'), timeout=10)
    third = asyncio.ensure_future(hang("third"))
    await asyncio.sleep(0.5)
    with pytest.raises(grpc.aio.AioRpcError) as per_server:
        await hang("fourth")
    await asyncio.gather(*greedy, third, return_exceptions=True)

    assert per_client.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxInFlightPerClient" in per_client.value.details()
    assert json.loads(polite.result_json)["content"][0]["text"] == "ok"
    assert per_server.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxInFlight" in per_server.value.details()


async def test_hostile_requests_get_clear_errors(start_router):
    router = await start_router({"fault": fault_server()})
    raw = router.channel.unary_unary("/mcp_router.v1.RouterService/CallTool", request_serializer=None, response_deserializer=None)
    invalid_utf8 = bytes([0x12, 0x04]) + b"\xff\xfe\xfd\xfc"

    cases = [
        (raw(b"\xff\xff\xff\xff", timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "invalid request"),
        (raw(invalid_utf8, timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "UTF-8"),
        (router.stub.CallTool(router_pb2.CallToolRequest(tool="t" * 1_000_000), timeout=10), grpc.StatusCode.NOT_FOUND, "1000000 characters"),
        (router.stub.CallTool(router_pb2.CallToolRequest(server="../../etc/passwd", tool="x"), timeout=10), grpc.StatusCode.NOT_FOUND, "../../etc/passwd"),
        (router.stub.CallTool(router_pb2.CallToolRequest(server="s\u00e9rv\u00e9r\u2603", tool="x"), timeout=10), grpc.StatusCode.NOT_FOUND, "s\u00e9rv\u00e9r\u2603"),
        (router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo", arguments_json="[" * 50_000 + "]" * 50_000), timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "arguments_json"),
        (router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo", arguments_json='{"a": "\\ud800"}'), timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "lone UTF-16 surrogate"),
        (router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo", arguments_json='{"a": "\\ud83d\\ude00"}'), timeout=10), None, None),
    ]
    for call, code, text in cases:
        if code is None:
            reply = await call
            assert reply.is_error is False
            continue
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == code
        assert text in caught.value.details()
        assert len(caught.value.details()) < 2000

    assert (await router.call("fault__echo", {"text": "still serving"})).is_error is False


async def test_flood_of_calls_gets_definite_answers(start_router):
    router = await start_router({"fault": fault_server()}, router_options={"maxInFlightPerClient": 50})

    results = await asyncio.gather(
        *(router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__sleep", arguments_json='{"seconds": 0.05}', client="flood"), timeout=30) for _ in range(400)),
        return_exceptions=True,
    )

    codes = [result.code() if isinstance(result, grpc.aio.AioRpcError) else grpc.StatusCode.OK for result in results]
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert codes.count(grpc.StatusCode.OK) >= 50
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 1
    assert (await router.server("fault")).state == router_pb2.RUNNING


async def test_servers_never_inherit_router_tokens(tmp_path):
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"mcpServers": {"fault": fault_server(env={"MCP_ROUTER_TOKEN": "given-on-purpose"})}}))
    target = f"127.0.0.1:{free_port()}"
    secrets = {"MCP_ROUTER_ADMIN_TOKEN": ADMIN, "MCP_ROUTER_CLIENT_TOKEN": CLIENT, "MCP_ROUTER_ENHANCER_TOKEN": "enhancer-token-0123456789"}
    router = ServiceProcess("router-service", ["--config", str(config), "--listen", target], env=secrets)
    await router.start()
    try:
        await wait_serving(target, "mcp_router.server.fault")
        async with grpc.aio.insecure_channel(target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            seen = {}
            for name in [*secrets, "MCP_ROUTER_TOKEN", "PATH"]:
                request = router_pb2.CallToolRequest(tool="fault__getenv", arguments_json=json.dumps({"name": name}))
                reply = await stub.CallTool(request, timeout=10, metadata=bearer(CLIENT))
                seen[name] = json.loads(json.loads(reply.result_json)["content"][0]["text"])
    finally:
        assert await router.stop() == 0

    for name in secrets:
        assert seen[name] is None, name
    assert seen["MCP_ROUTER_TOKEN"] == "given-on-purpose"
    assert seen["PATH"]


async def test_bearer_scheme_is_case_insensitive(secured_router):
    listed = await secured_router.stub.ListTools(router_pb2.ListToolsRequest(), timeout=10, metadata=(("authorization", f"bearer {CLIENT}"),))

    assert "fault__echo" in {tool.qualified_name for tool in listed.tools}


async def test_lone_surrogates_do_not_reach_servers_or_breakers(start_router):
    router = await start_router({"fault": fault_server(breaker={"failureThreshold": 1})})

    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await router.stub.CallTool(router_pb2.CallToolRequest(tool="fault__echo", arguments_json='{"text": "\\udc00x"}'), timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    forwarded = await router.stub.Forward(
        router_pb2.ForwardRequest(server="fault", request_json='{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "\\ud800"}}'), timeout=5
    )

    assert json.loads(forwarded.response_json)["error"]["code"] == -32600
    assert (await router.server("fault")).breaker == router_pb2.CLOSED
    assert (await router.call("fault__echo", {"text": "fine"})).is_error is False
