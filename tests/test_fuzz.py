"""Property-based fuzzing of the stdio message reader and the config loader (hypothesis)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router_service import jsonrpc
from router_service.config import ConfigError, RouterConfig, parse_config
from router_service.jsonrpc import MessageError
from router_service.process import StderrTail
from router_service.session import McpSession

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


@FUZZ
@given(st.text())
def test_parse_message_rejects_or_parses_any_text(text):
    try:
        message = jsonrpc.parse_message(text)
    except MessageError:
        return
    assert message.members.keys() == json.loads(text).keys()


@FUZZ
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.sampled_from([None, 2, (",", ": ")]))
def test_parse_message_spans_match_values(document, layout):
    text = json.dumps(document, indent=layout if isinstance(layout, int) else None, separators=layout if isinstance(layout, tuple) else None, ensure_ascii=False)

    message = jsonrpc.parse_message(text)

    assert message.members.keys() == document.keys()
    for key in document:
        assert json.loads(message.raw(key)) == document[key]


class FakeStdin:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    async def drain(self) -> None:
        return None

    def is_closing(self) -> bool:
        return False


class FakeProcess:
    """Enough of ServerProcess for a session: stdout fed by the test, stdin recorded."""

    def __init__(self) -> None:
        self.stdout = asyncio.StreamReader()
        self.stdin = FakeStdin()
        self.stderr = StderrTail(10)
        self.returncode = None
        self.pid = 1

    async def wait(self) -> int:
        await asyncio.sleep(3600)
        return 0

    async def wait_stderr(self, timeout: float) -> None:
        return None


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=12), st.integers(min_value=1, max_value=64))
def test_reader_survives_any_bytes(chunks, max_line):
    async def scenario() -> None:
        process = FakeProcess()
        session = McpSession("fuzz", process, max_line_bytes=max_line * 1024)  # type: ignore[arg-type]
        request = asyncio.ensure_future(session.request("ping", None, 5.0))
        await asyncio.sleep(0)
        for chunk in chunks:
            process.stdout.feed_data(chunk)
            await asyncio.sleep(0)
        # Whatever came before, a newline ends it, and the real reply then reaches its request.
        process.stdout.feed_data(b'\n{"jsonrpc":"2.0","id":1,"result":{"ok":true}}\n')
        reply = await asyncio.wait_for(request, 5)
        assert reply.message.get("result") == {"ok": True}
        assert not session.closed or "Content-Length" in session.close_reason
        await session.close("fuzz done")

    try:
        asyncio.run(scenario())
    except Exception as error:
        # A stream that starts with an LSP header closes the session on purpose.
        assert "Content-Length" in str(error), error


@FUZZ
@given(json_values)
def test_config_loader_rejects_or_accepts_any_json(document):
    text = json.dumps(document)

    try:
        config = parse_config(text, Path("fuzz.json"), {})
    except ConfigError as error:
        assert str(error).startswith("fuzz.json")
        return
    assert isinstance(config, RouterConfig)


@FUZZ
@given(st.sampled_from(["command", "args", "env", "cwd", "enabled", "requestTimeoutSeconds", "restart", "breaker", "roots", "enhance", "maxInFlight"]), json_values)
def test_config_loader_names_the_broken_field(field, value):
    document = {"mcpServers": {"s": {"command": "x", field: value}}}

    try:
        parse_config(json.dumps(document), Path("fuzz.json"), {})
    except ConfigError as error:
        assert "mcpServers.s" in str(error)
