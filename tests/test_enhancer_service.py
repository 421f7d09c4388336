"""enhancer-service as a real process against the Ollama-compatible test server."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from mcp_router.v1 import enhancer_pb2
from mcp_router.v1.common_pb2 import CLOSED, HALF_OPEN, OPEN
from tests.enhancer_support import (  # noqa: F401 (fixtures)
    NOT_SERVING,
    SERVICE_NAME,
    SERVING,
    eventually,
    fake_ollama,
    start_enhancer,
)
from tests.fake_ollama import REWRITE_PREFIX, FakeOllama
from tests.harness import free_port

Reason = enhancer_pb2.EnhanceReason


async def test_enhance_rewrites_prompt_with_default_rule(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    reply = await enhancer.enhance("write a haiku about rain")

    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert reply.applied
    assert not reply.cached
    assert reply.original == "write a haiku about rain"
    assert reply.enhanced.startswith(REWRITE_PREFIX)
    assert "write a haiku about rain" in reply.enhanced
    assert reply.model == "llama3.2:3b"
    assert reply.rule == ""
    assert not reply.truncated
    assert reply.prompt_eval_count > 0


async def test_ollama_request_sends_stream_and_think(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    await enhancer.enhance("list three fruits")

    [request] = fake_ollama.chat_requests()
    assert request.path == "/api/chat"
    assert request.body["stream"] is True
    assert request.body["think"] is False
    assert "think" not in request.body["options"]
    assert request.body["options"]["num_ctx"] == 8192
    assert request.body["options"]["temperature"] == 0.2
    roles = [message["role"] for message in request.body["messages"]]
    assert roles == ["system", "user"]


async def test_no_stream_flag_sends_stream_false(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--no-stream")

    reply = await enhancer.enhance("name a colour")

    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert reply.enhanced == REWRITE_PREFIX + "Rewrite this prompt:\n\nname a colour"
    [request] = fake_ollama.chat_requests()
    assert request.body["stream"] is False
    assert request.body["think"] is False


async def test_cache_hits_and_clear(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    first = await enhancer.enhance("summarise the news")
    second = await enhancer.enhance("summarise the news")
    other_client = await enhancer.enhance("summarise the news", client="code-editor")

    assert not first.cached
    assert second.cached
    assert second.enhanced == first.enhanced
    assert not other_client.cached
    assert len(fake_ollama.chat_requests()) == 2
    stats = await enhancer.stats()
    assert stats.cache.hits == 1
    assert stats.cache.misses == 2
    assert stats.cache.entries == 2
    assert stats.cache.hit_rate == pytest.approx(1 / 3)

    cleared = await enhancer.stub.ClearCache(enhancer_pb2.ClearCacheRequest(), timeout=5)
    after_clear = await enhancer.enhance("summarise the news")

    assert cleared.removed == 2
    assert not after_clear.cached
    assert len(fake_ollama.chat_requests()) == 3


async def test_client_name_from_metadata(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    from_metadata = await enhancer.enhance("keep me", metadata=(("x-client-name", "passthrough"),))
    field_wins = await enhancer.enhance("keep me", client="code-editor", metadata=(("x-client-name", "passthrough"),))

    assert from_metadata.reason == Reason.Value("ENHANCE_REASON_DISABLED")
    assert from_metadata.rule == "passthrough"
    assert from_metadata.enhanced == "keep me"
    assert not from_metadata.applied
    assert field_wins.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert field_wins.rule == "code-editor"
    [request] = fake_ollama.chat_requests()
    assert "identifier" in request.body["messages"][0]["content"]
    assert request.body["options"]["temperature"] == 0.1


async def test_require_turns_fallbacks_into_status_codes(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    with pytest.raises(grpc.aio.AioRpcError) as disabled:
        await enhancer.enhance("keep me", client="passthrough", require=True)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await enhancer.enhance("anything", model="absent-model", require=True)
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await enhancer.enhance("   ")

    assert disabled.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert missing.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ollama pull absent-model" in missing.value.details()
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_reasons_for_ollama_faults(fake_ollama: FakeOllama, start_enhancer) -> None:
    # A high threshold keeps the breaker closed while the faults pile up.
    enhancer = await start_enhancer(fake_ollama.url, "--breaker-failures", "100")
    cases = [
        ("empty output", {"empty_output": True}, "ENHANCE_REASON_EMPTY_OUTPUT", 1),
        ("error line in stream", {"stream_error_after": 2}, "ENHANCE_REASON_OLLAMA_ERROR", 1),
        ("500 every time", {"status": 500}, "ENHANCE_REASON_OLLAMA_ERROR", 2),
        ("503 every time", {"status": 503}, "ENHANCE_REASON_OLLAMA_ERROR", 3),
        ("429 every time", {"status": 429}, "ENHANCE_REASON_OLLAMA_ERROR", 3),
        ("404 for every model", {"status": 404}, "ENHANCE_REASON_MODEL_MISSING", 2),
        ("500 once", {"status": 500, "status_count": 1}, "ENHANCE_REASON_APPLIED", 2),
        ("503 once", {"status": 503, "status_count": 1}, "ENHANCE_REASON_APPLIED", 2),
    ]
    for number, (name, faults, expected_reason, expected_requests) in enumerate(cases):
        fake_ollama.reset()
        for key, value in faults.items():
            setattr(fake_ollama.faults, key, value)
        prompt = f"case {number}: {name}"

        reply = await enhancer.enhance(prompt)

        assert Reason.Name(reply.reason) == expected_reason, name
        assert len(fake_ollama.chat_requests()) == expected_requests, name
        if expected_reason == "ENHANCE_REASON_APPLIED":
            assert reply.enhanced.startswith(REWRITE_PREFIX), name
        else:
            assert reply.enhanced == prompt, name
            assert not reply.applied, name
            assert reply.detail, name
            assert prompt not in reply.detail, name

    stats = await enhancer.stats()
    assert stats.reasons["EMPTY_OUTPUT"] == 1
    assert stats.reasons["OLLAMA_ERROR"] == 4
    assert stats.reasons["MODEL_MISSING"] == 1
    assert stats.reasons["APPLIED"] == 2


async def test_missing_model_falls_back_in_chain(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.models = ["qwen2.5:7b-instruct"]
    enhancer = await start_enhancer(fake_ollama.url)

    reply = await enhancer.enhance("plan a trip")
    models = await enhancer.stub.ListModels(enhancer_pb2.ListModelsRequest(), timeout=5)

    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert reply.model == "qwen2.5:7b-instruct"
    assert [request.body["model"] for request in fake_ollama.chat_requests()] == ["llama3.2:3b", "qwen2.5:7b-instruct"]
    assert [model.name for model in models.models] == ["qwen2.5:7b-instruct"]
    assert list(models.missing_models) == ["llama3.2:3b"]


async def test_missing_model_names_model_to_pull(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.models = []
    enhancer = await start_enhancer(fake_ollama.url)

    reply = await enhancer.enhance("plan a trip", model="mistral")

    assert reply.reason == Reason.Value("ENHANCE_REASON_MODEL_MISSING")
    assert "ollama pull mistral:latest" in reply.detail
    assert reply.model == "mistral:latest"
    assert len(fake_ollama.chat_requests()) == 1


async def test_bare_model_name_matches_latest_tag(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)

    bare = await enhancer.enhance("describe a cat", model="tinyllama")
    tagged = await enhancer.enhance("describe a cat", model="tinyllama:latest")

    assert bare.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert bare.model == "tinyllama:latest"
    assert tagged.cached


async def test_long_prompt_moves_to_larger_context_model(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)
    # About 10,000 tokens: too many for llama3.2:3b at 8192, fits qwen2.5:7b-instruct at 32768.
    long_prompt = "word " * 8000
    too_long_prompt = "word " * 40000

    long_reply = await enhancer.enhance(long_prompt)
    too_long_reply = await enhancer.enhance(too_long_prompt)

    assert long_reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert long_reply.model == "qwen2.5:7b-instruct"
    assert too_long_reply.reason == Reason.Value("ENHANCE_REASON_TOO_LONG")
    assert too_long_reply.enhanced == too_long_prompt
    assert "32768" in too_long_reply.detail
    assert [request.body["model"] for request in fake_ollama.chat_requests()] == ["qwen2.5:7b-instruct"]


async def test_truncated_prompt_is_flagged_not_cached(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.faults.truncate_prompt_to = 10
    enhancer = await start_enhancer(fake_ollama.url)
    prompt = "explain the difference between TCP and UDP in detail " * 20

    first = await enhancer.enhance(prompt)
    second = await enhancer.enhance(prompt)

    assert first.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert first.truncated
    assert first.prompt_eval_count == 10
    assert first.prompt_tokens_estimate > 20
    assert not second.cached
    assert "probably truncated" in enhancer.process.log_text()


async def test_breaker_opens_half_opens_and_closes(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(
        fake_ollama.url, "--breaker-failures", "2", "--breaker-recovery", "1", "--probe-interval", "60"
    )
    await eventually(lambda: _is(enhancer.health_status("ollama"), SERVING))
    fake_ollama.faults.status = 500

    failures = [await enhancer.enhance(f"failing prompt {number}") for number in range(2)]
    opened = await enhancer.stats()
    requests_when_opened = len(fake_ollama.chat_requests())
    rejected = await enhancer.enhance("while open")
    with pytest.raises(grpc.aio.AioRpcError) as rejected_required:
        await enhancer.enhance("while open", require=True)

    assert [reply.reason for reply in failures] == [Reason.Value("ENHANCE_REASON_OLLAMA_ERROR")] * 2
    assert opened.breaker.state == OPEN
    assert opened.breaker.opened_count == 1
    assert rejected.reason == Reason.Value("ENHANCE_REASON_CIRCUIT_OPEN")
    assert rejected.enhanced == "while open"
    assert rejected_required.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(fake_ollama.chat_requests()) == requests_when_opened
    await eventually(lambda: _is(enhancer.health_status("ollama"), NOT_SERVING))

    half_open = await eventually(lambda: _breaker_in(enhancer, HALF_OPEN))
    fake_ollama.faults.status = 0
    recovered = await enhancer.enhance("after recovery")
    closed = await enhancer.stats()

    assert half_open.breaker.retry_after_seconds == 0
    assert recovered.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert closed.breaker.state == CLOSED
    transitions = [(t.from_state, t.to_state) for t in closed.breaker.transitions]
    assert transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    await eventually(lambda: _is(enhancer.health_status("ollama"), SERVING))
    log = enhancer.process.log_text()
    assert "transition=CLOSED->OPEN" in log
    assert "transition=HALF_OPEN->CLOSED" in log


async def test_breaker_ignores_missing_models(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.models = []
    enhancer = await start_enhancer(fake_ollama.url, "--breaker-failures", "2")

    replies = [await enhancer.enhance(f"prompt {number}") for number in range(4)]
    stats = await enhancer.stats()

    assert {reply.reason for reply in replies} == {Reason.Value("ENHANCE_REASON_MODEL_MISSING")}
    assert stats.breaker.state == CLOSED
    assert stats.breaker.consecutive_failures == 0
    assert await enhancer.health_status("ollama") == SERVING


async def test_probe_closes_half_open_breaker(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(
        fake_ollama.url, "--breaker-failures", "1", "--breaker-recovery", "0.5", "--probe-interval", "0.2"
    )
    fake_ollama.faults.status = 500

    failed = await enhancer.enhance("one failure opens it")
    fake_ollama.faults.status = 0

    assert failed.reason == Reason.Value("ENHANCE_REASON_OLLAMA_ERROR")
    assert (await enhancer.stats()).breaker.opened_count == 1
    await eventually(lambda: _is(enhancer.health_status("ollama"), SERVING))
    stats = await enhancer.stats()
    assert stats.breaker.state == CLOSED
    assert len(fake_ollama.chat_requests()) == 2


async def test_slow_ollama_answers_before_deadline(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.faults.header_delay = 10
    enhancer = await start_enhancer(fake_ollama.url, "--breaker-failures", "100")

    started = time.monotonic()
    reply = await enhancer.enhance("slow one", timeout=1.0)
    elapsed = time.monotonic() - started
    with pytest.raises(grpc.aio.AioRpcError) as required:
        await enhancer.enhance("slow one", timeout=1.0, require=True)

    assert reply.reason == Reason.Value("ENHANCE_REASON_TIMEOUT")
    assert reply.enhanced == "slow one"
    assert 0 < reply.budget_ms <= 1000
    assert elapsed < 1.0
    assert required.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The enhancer's own message proves it answered, not the client's deadline.
    assert "did not respond within" in required.value.details()


async def test_configured_budget_caps_call(fake_ollama: FakeOllama, start_enhancer) -> None:
    fake_ollama.faults.header_delay = 20
    enhancer = await start_enhancer(fake_ollama.url, "--budget", "0.5")

    started = time.monotonic()
    reply = await enhancer.enhance("no deadline set", timeout=None)
    elapsed = time.monotonic() - started

    assert reply.reason == Reason.Value("ENHANCE_REASON_TIMEOUT")
    assert reply.budget_ms == 500
    # Generous bound: only proves the call did not wait for the slow headers.
    assert elapsed < 10


async def test_no_ollama_answers_at_once(start_enhancer) -> None:
    nothing_listening = f"http://127.0.0.1:{free_port()}"
    enhancer = await start_enhancer(nothing_listening)

    started = time.monotonic()
    reply = await enhancer.enhance("is anyone there")
    elapsed = time.monotonic() - started
    with pytest.raises(grpc.aio.AioRpcError) as listing:
        await enhancer.stub.ListModels(enhancer_pb2.ListModelsRequest(), timeout=5)

    assert reply.reason == Reason.Value("ENHANCE_REASON_OLLAMA_UNREACHABLE")
    assert reply.enhanced == "is anyone there"
    assert nothing_listening in reply.detail
    assert "Connection refused" in reply.detail
    # Generous bound: far below the 60 s default budget, so nothing waited for it.
    assert elapsed < 10
    assert await enhancer.health_status("") == SERVING
    assert await enhancer.health_status(SERVICE_NAME) == SERVING
    assert await enhancer.health_status("ollama") == NOT_SERVING
    assert listing.value.code() == grpc.StatusCode.UNAVAILABLE
    stats = await enhancer.stats()
    assert not stats.ollama_reachable
    assert nothing_listening in stats.ollama_last_error


async def test_ollama_host_without_scheme(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(None, env={"OLLAMA_HOST": f"127.0.0.1:{fake_ollama.port}"})

    reply = await enhancer.enhance("via OLLAMA_HOST")
    stats = await enhancer.stats()

    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert stats.ollama_url == fake_ollama.url
    assert stats.ollama_version == "0.12.6"


async def test_complete_returns_plain_completion(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)
    request = enhancer_pb2.CompleteRequest(
        messages=[
            enhancer_pb2.CompletionMessage(role="user", content="What is 2 + 2?"),
            enhancer_pb2.CompletionMessage(role="assistant", content="4"),
            enhancer_pb2.CompletionMessage(role="user", content="And 3 + 3?"),
        ],
        system_prompt="Answer briefly.",
        max_tokens=64,
        temperature=0.7,
        stop_sequences=["\n\n"],
    )

    reply = await enhancer.stub.Complete(request, timeout=10)

    assert reply.content == REWRITE_PREFIX + "And 3 + 3?"
    assert reply.model == "llama3.2:3b"
    assert reply.done_reason == "stop"
    assert reply.eval_count > 0
    [sent] = fake_ollama.chat_requests()
    assert sent.body["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert len(sent.body["messages"]) == 4
    assert sent.body["options"]["num_predict"] == 64
    assert sent.body["options"]["temperature"] == 0.7
    assert sent.body["options"]["stop"] == ["\n\n"]
    assert sent.body["think"] is False
    assert sent.body["stream"] is True


async def test_complete_failures_are_status_codes(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--breaker-failures", "100")
    message = enhancer_pb2.CompletionMessage(role="user", content="hello")

    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await enhancer.stub.Complete(enhancer_pb2.CompleteRequest(), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as bad_role:
        await enhancer.stub.Complete(
            enhancer_pb2.CompleteRequest(messages=[enhancer_pb2.CompletionMessage(role="robot", content="x")]), timeout=5
        )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await enhancer.stub.Complete(enhancer_pb2.CompleteRequest(messages=[message], model="absent"), timeout=5)
    fake_ollama.faults.empty_output = True
    with pytest.raises(grpc.aio.AioRpcError) as no_text:
        await enhancer.stub.Complete(enhancer_pb2.CompleteRequest(messages=[message]), timeout=5)
    fake_ollama.faults.empty_output = False
    fake_ollama.faults.status = 503
    with pytest.raises(grpc.aio.AioRpcError) as busy:
        await enhancer.stub.Complete(enhancer_pb2.CompleteRequest(messages=[message]), timeout=10)

    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_role.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "robot" in bad_role.value.details()
    assert missing.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert no_text.value.code() == grpc.StatusCode.INTERNAL
    assert busy.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_log_line_per_enhancement_without_prompt(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url)
    secret_prompt = "the launch code is ZEBRA-4471"

    await enhancer.enhance(secret_prompt, client="code-editor")
    await enhancer.enhance(secret_prompt, client="code-editor")
    await asyncio.sleep(0.2)

    log = enhancer.process.log_text()
    lines = [line for line in log.splitlines() if " enhance client=" in line]
    assert len(lines) == 2
    assert "client=code-editor" in lines[0]
    assert "model=llama3.2:3b" in lines[0]
    assert "cached=False" in lines[0]
    assert "cached=True" in lines[1]
    assert "reason=applied" in lines[0]
    assert " ms=" in lines[0]
    assert "ZEBRA-4471" not in log


async def _is(status_call, expected: int) -> bool:
    return await status_call == expected


async def _breaker_in(enhancer, state: int):
    stats = await enhancer.stats()
    return stats if stats.breaker.state == state else None
