"""The enhancer's plain-Python parts: rules, cache, token estimates, names and the Ollama client."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from enhancer_service.cache import EnhanceCache, make_cache_key
from enhancer_service.errors import (
    CircuitOpenError,
    ModelMissingError,
    OllamaServerError,
    OllamaTimeoutError,
    OllamaUnreachableError,
    RulesError,
)
from enhancer_service.model_names import normalize_model_name
from enhancer_service.ollama_client import OllamaClient
from enhancer_service.rules import DEFAULT_NUM_CTX, parse_rules
from enhancer_service.settings import CacheSettings, OllamaSettings, RetrySettings, normalize_ollama_url, resolve_ollama_url
from enhancer_service.tokens import estimate_tokens, looks_truncated
from mcp_router.breaker import BreakerSettings, BreakerState, CircuitBreaker
from tests.enhancer_support import SHIPPED_RULES, fake_ollama  # noqa: F401 (fixture)
from tests.fake_ollama import REWRITE_PREFIX, FakeOllama
from tests.harness import REPO, free_port

RULES_PATH = Path("/etc/enhancer/rules.json")


def parse(document: object):
    return parse_rules(json.dumps(document).encode(), RULES_PATH)


# --- Rules ---------------------------------------------------------------------


def test_shipped_rules_are_valid() -> None:
    rules = parse_rules(SHIPPED_RULES.read_bytes(), SHIPPED_RULES)

    assert rules.default.models[0].name == "llama3.2:3b"
    assert rules.model_names() == ["llama3.2:3b", "qwen2.5:7b-instruct"]
    assert not rules.rule_for("passthrough").enabled
    assert rules.rule_for("unknown client") is rules.default


def test_client_rule_inherits_and_merges_options() -> None:
    rules = parse(
        {
            "default": {"model": "llama3.2", "options": {"temperature": 0.2, "num_ctx": 4096}, "fallback_models": ["qwen2.5"]},
            "clients": {"ide": {"options": {"temperature": 0.0}, "model": {"model": "phi3", "num_ctx": 16384}}},
        }
    )
    ide = rules.rule_for("ide")

    assert ide.options == {"temperature": 0.0, "num_ctx": 4096}
    assert [(choice.name, choice.num_ctx) for choice in ide.models] == [("phi3:latest", 16384), ("qwen2.5:latest", 4096)]
    assert ide.system_prompt == rules.default.system_prompt
    assert ide.sha256 != rules.default.sha256


def test_model_without_num_ctx_gets_default_window() -> None:
    rules = parse({"default": {"model": "llama3.2:3b"}})

    assert rules.default.models[0].num_ctx == DEFAULT_NUM_CTX


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"default": {"model": "m", "options": {"temperature": "hot"}}}, "default rule: field `options.temperature`"),
        ({"default": {"model": "m"}, "clients": {"ide": {"enabled": "yes"}}}, "client 'ide': field `enabled`"),
        ({"default": {"model": "m"}, "clients": {"ide": {"prompt_template": "no placeholder"}}}, "client 'ide': field `prompt_template`"),
        ({"default": {"model": "m"}, "clients": {"ide": {"fallback_models": [42]}}}, "client 'ide': field `fallback_models[0]`"),
        ({"default": {"model": {"model": "m", "num_ctx": 0}}}, "default rule: field `model.num_ctx`"),
        ({"default": {"model": "m", "options": {"num_predict": 0}}}, "default rule: field `options.num_predict`"),
        ({"default": {"model": "m"}, "clients": {"ide": {"modle": "x"}}}, "client 'ide': field `modle`: unknown field"),
        ({"default": {}}, "default rule: field `model`: missing"),
        ({"clients": {}}, "missing field `default`"),
        ([], "expected a JSON object"),
    ],
)
def test_invalid_rules_name_file_client_and_field(document: object, expected: str) -> None:
    with pytest.raises(RulesError) as error:
        parse(document)

    assert str(error.value).startswith(f"rules file {RULES_PATH}: ")
    assert expected in str(error.value)


def test_invalid_json_names_line() -> None:
    with pytest.raises(RulesError) as error:
        parse_rules(b'{\n  "default": ,\n}', RULES_PATH)

    assert "invalid JSON at line 2" in str(error.value)


# --- Cache ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_evicts_least_recently_used() -> None:
    cache = EnhanceCache(CacheSettings(max_entries=2, max_bytes=1_000_000, ttl_seconds=60))
    keys = [make_cache_key("", "rule-sha", "m", f"prompt {number}") for number in range(3)]

    cache.put(keys[0], "zero", "m", 1, False)
    cache.put(keys[1], "one", "m", 1, False)
    assert cache.lookup([keys[0]]) is not None
    cache.put(keys[2], "two", "m", 1, False)

    assert cache.lookup([keys[1]]) is None
    assert cache.lookup([keys[0]]).enhanced == "zero"
    assert cache.lookup([keys[2]]).enhanced == "two"
    stats = cache.stats()
    assert stats.evictions == 1
    assert stats.entries == 2
    assert stats.hits == 3
    assert stats.misses == 1


def test_cache_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache = EnhanceCache(CacheSettings(max_entries=10, max_bytes=1_000_000, ttl_seconds=5), clock=clock)
    key = make_cache_key("", "rule-sha", "m", "prompt")
    cache.put(key, "rewrite", "m", 1, False)

    clock.now += 4.9
    assert cache.lookup([key]) is not None
    clock.now += 0.2
    assert cache.lookup([key]) is None
    assert cache.stats().expirations == 1
    assert cache.stats().entries == 0


def test_cache_byte_bound_evicts() -> None:
    cache = EnhanceCache(CacheSettings(max_entries=100, max_bytes=10, ttl_seconds=60))
    first = make_cache_key("", "s", "m", "a")
    second = make_cache_key("", "s", "m", "b")

    cache.put(first, "123456", "m", 1, False)
    cache.put(second, "ééé", "m", 1, False)
    cache.put(make_cache_key("", "s", "m", "c"), "x" * 11, "m", 1, False)

    assert cache.lookup([first]) is None
    assert cache.lookup([second]) is not None
    assert cache.stats().bytes == 6


def test_cache_key_separates_rule_model_and_prompt() -> None:
    base = make_cache_key("ide", "sha-1", "m", "secret text")

    assert base == make_cache_key("ide", "sha-1", "m", "secret text")
    assert base != make_cache_key("cli", "sha-1", "m", "secret text")
    assert base != make_cache_key("ide", "sha-2", "m", "secret text")
    assert base != make_cache_key("ide", "sha-1", "n", "secret text")
    assert base != make_cache_key("ide", "sha-1", "m", "secret text ")
    assert "secret" not in repr(base)


# --- Tokens, names and URLs ----------------------------------------------------


def test_token_estimate_and_truncation_check() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 100) == 100
    assert looks_truncated(1000, 100)
    assert not looks_truncated(1000, 900)
    assert not looks_truncated(1000, None)
    assert not looks_truncated(1000, 0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llama3", "llama3:latest"),
        ("llama3:latest", "llama3:latest"),
        ("llama3.2:3b", "llama3.2:3b"),
        ("registry.local:5000/team/model", "registry.local:5000/team/model:latest"),
        ("registry.local:5000/team/model:q4", "registry.local:5000/team/model:q4"),
    ],
)
def test_model_names_get_latest_tag(name: str, expected: str) -> None:
    assert normalize_model_name(name) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("127.0.0.1", "http://127.0.0.1:11434"),
        (":11500", "http://127.0.0.1:11500"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example/", "https://ollama.example:443"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("http://localhost:11434/proxy/", "http://localhost:11434/proxy"),
    ],
)
def test_ollama_host_forms(value: str, expected: str) -> None:
    assert normalize_ollama_url(value) == expected


def test_ollama_url_precedence() -> None:
    assert resolve_ollama_url("http://flag:1", {"OLLAMA_HOST": "env:2"}) == "http://flag:1"
    assert resolve_ollama_url(None, {"OLLAMA_HOST": "env:2"}) == "http://env:2"
    assert resolve_ollama_url(None, {}) == "http://127.0.0.1:11434"
    with pytest.raises(ValueError, match="scheme"):
        normalize_ollama_url("ftp://host:1")


# --- Ollama client against the fake server -------------------------------------


def make_client(url: str, *, stream: bool = True, threshold: int = 3) -> OllamaClient:
    settings = OllamaSettings(
        url=url,
        stream=stream,
        retries=RetrySettings(backoff_base=0.01, backoff_max=0.02),
        breaker=BreakerSettings(failure_threshold=threshold, recovery_timeout=60),
    )
    return OllamaClient(settings, CircuitBreaker("ollama", settings.breaker))


async def test_stream_split_chunks_and_blank_lines(fake_ollama: FakeOllama) -> None:
    client = make_client(fake_ollama.url)
    text = "naïve café — 東京 " * 20

    result = await client.chat("llama3.2:3b", [{"role": "user", "content": text}], {}, budget=10)
    await client.aclose()

    assert result.content == REWRITE_PREFIX + text
    assert result.done_reason == "stop"
    assert result.prompt_eval_count and result.prompt_eval_count > 0


async def test_error_line_under_200_fails_call(fake_ollama: FakeOllama) -> None:
    fake_ollama.faults.stream_error_after = 1
    client = make_client(fake_ollama.url)

    with pytest.raises(OllamaServerError, match="unexpected EOF"):
        await client.chat("llama3.2:3b", [{"role": "user", "content": "a b c d"}], {}, budget=10)
    await client.aclose()

    assert client.breaker.snapshot().consecutive_failures == 1


async def test_breaker_counts_5xx_not_4xx(fake_ollama: FakeOllama) -> None:
    client = make_client(fake_ollama.url, threshold=2)
    messages = [{"role": "user", "content": "hi"}]

    for _ in range(3):
        with pytest.raises(ModelMissingError):
            await client.chat("absent", messages, {}, budget=10)
    after_missing = client.breaker.state
    fake_ollama.faults.status = 500
    for _ in range(2):
        with pytest.raises(OllamaServerError):
            await client.chat("llama3.2:3b", messages, {}, budget=10)
    requests_before = len(fake_ollama.chat_requests())
    with pytest.raises(CircuitOpenError):
        await client.chat("llama3.2:3b", messages, {}, budget=10)
    await client.aclose()

    assert after_missing is BreakerState.CLOSED
    assert client.breaker.state is BreakerState.OPEN
    assert len(fake_ollama.chat_requests()) == requests_before


async def test_connection_refused_fails_fast_naming_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = make_client(url)

    started = time.monotonic()
    with pytest.raises(OllamaUnreachableError) as error:
        await client.chat("llama3.2:3b", [{"role": "user", "content": "hi"}], {}, budget=30)
    elapsed = time.monotonic() - started
    reached = await client.probe(1.0)
    await client.aclose()

    assert url in str(error.value)
    assert "Connection refused" in str(error.value)
    # Generous bound: proves only that nothing waited for the 30 s budget.
    assert elapsed < 10
    assert not reached
    assert client.reachable is False


async def test_spent_deadline_skips_ollama_and_breaker(fake_ollama: FakeOllama) -> None:
    client = make_client(fake_ollama.url, threshold=1)

    with pytest.raises(OllamaTimeoutError, match="deadline was spent"):
        await client.chat("llama3.2:3b", [{"role": "user", "content": "hi"}], {}, budget=-0.1)
    await client.aclose()

    assert fake_ollama.chat_requests() == []
    assert client.breaker.state is BreakerState.CLOSED


async def test_standalone_fake_ollama_takes_faults_over_http() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_ollama", "--port", str(port), cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    try:
        banner = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            faults = await http.post("/_fake/faults", json={"status": 503})
            busy = await http.post("/api/chat", json={"model": "llama3.2:3b", "messages": [], "stream": False})
            recorded = await http.get("/_fake/requests")
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), timeout=15)

    assert f"127.0.0.1:{port}" in banner.decode()
    assert faults.json()["status"] == 503
    assert busy.status_code == 503
    assert "error" in busy.json()
    assert [request["path"] for request in recorded.json()] == ["/api/chat"]
    assert exit_code == 0


def test_deeply_nested_rules_file_is_a_rules_error(tmp_path):
    from enhancer_service.errors import RulesError
    from enhancer_service.rules import parse_rules

    path = tmp_path / "rules.json"
    with pytest.raises(RulesError) as caught:
        parse_rules(b'{"default": ' + b"[" * 5000 + b"]" * 5000 + b"}", path)

    assert f"rules file {path}: JSON nested too deeply" in str(caught.value)
