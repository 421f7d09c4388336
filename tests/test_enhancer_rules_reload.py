"""Rules reloads of a running enhancer-service: by RPC and by editing the file on disk."""

from __future__ import annotations

import grpc
import pytest

from mcp_router.v1 import enhancer_pb2
from tests.enhancer_support import (  # noqa: F401 (fixtures)
    eventually,
    fake_ollama,
    shipped_rules,
    start_enhancer,
    write_rules,
)
from tests.fake_ollama import FakeOllama

Reason = enhancer_pb2.EnhanceReason


def rules_with_new_client() -> dict:
    rules = shipped_rules()
    rules["clients"]["reviewer"] = {"system_prompt": "Rewrite review requests.", "options": {"temperature": 0.0}}
    return rules


def rules_with_bad_field() -> dict:
    rules = shipped_rules()
    rules["clients"]["code-editor"]["options"]["temperature"] = "hot"
    return rules


async def test_reload_rpc_applies_good_file(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0")
    before = await enhancer.rules()
    write_rules(enhancer.rules_path, rules_with_new_client())

    reloaded = await enhancer.stub.ReloadRules(enhancer_pb2.ReloadRulesRequest(), timeout=5)
    reply = await enhancer.enhance("review my pull request", client="reviewer")

    assert reloaded.sha256 != before.sha256
    assert reloaded.reloads == 1
    assert reloaded.last_error == ""
    assert [rule.client for rule in reloaded.rules] == ["", "code-editor", "passthrough", "reviewer"]
    assert reply.rule == "reviewer"
    [request] = fake_ollama.chat_requests()
    assert request.body["messages"][0]["content"] == "Rewrite review requests."
    assert request.body["options"]["temperature"] == 0.0
    # Merged key by key from the default rule.
    assert request.body["options"]["num_predict"] == 1024


async def test_reload_rpc_keeps_rules_on_bad_file(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0")
    before = await enhancer.rules()
    write_rules(enhancer.rules_path, rules_with_bad_field())

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await enhancer.stub.ReloadRules(enhancer_pb2.ReloadRulesRequest(), timeout=5)
    after = await enhancer.rules()
    reply = await enhancer.enhance("still works", client="code-editor")
    stats = await enhancer.stats()

    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = failed.value.details()
    assert str(enhancer.rules_path) in details
    assert "'code-editor'" in details
    assert "options.temperature" in details
    assert after.sha256 == before.sha256
    assert after.failed_reloads == 1
    assert after.last_error == details
    assert stats.rules_last_error == details
    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert fake_ollama.chat_requests()[0].body["options"]["temperature"] == 0.1


async def test_reload_rpc_reports_invalid_json(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0")
    enhancer.rules_path.write_text('{"default": {"model": "llama3.2:3b",}}')

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await enhancer.stub.ReloadRules(enhancer_pb2.ReloadRulesRequest(), timeout=5)

    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "invalid JSON at line 1" in failed.value.details()


async def test_file_edit_reloads_rules(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0.1")
    before = await enhancer.rules()

    write_rules(enhancer.rules_path, rules_with_new_client())
    reloaded = await eventually(lambda: _rules_changed(enhancer, before.sha256))

    assert "reviewer" in [rule.client for rule in reloaded.rules]
    assert reloaded.last_error == ""
    reply = await enhancer.enhance("review my pull request", client="reviewer")
    assert reply.rule == "reviewer"


async def test_bad_file_edit_keeps_running_rules(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0.1")
    before = await enhancer.rules()

    write_rules(enhancer.rules_path, rules_with_bad_field())
    failed = await eventually(lambda: _rules_failed(enhancer))
    reply = await enhancer.enhance("still works", client="code-editor")

    assert failed.sha256 == before.sha256
    assert "options.temperature" in failed.last_error
    assert "'code-editor'" in failed.last_error
    assert reply.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert "rules reload failed, keeping the running rules" in enhancer.process.log_text()

    write_rules(enhancer.rules_path, rules_with_new_client())
    fixed = await eventually(lambda: _rules_changed(enhancer, before.sha256))
    assert fixed.last_error == ""


async def test_disabling_rule_on_disk_takes_effect(fake_ollama: FakeOllama, start_enhancer) -> None:
    enhancer = await start_enhancer(fake_ollama.url, "--rules-poll-interval", "0.1")
    first = await enhancer.enhance("same prompt")
    before = await enhancer.rules()
    rules = shipped_rules()
    rules["default"]["enabled"] = False

    write_rules(enhancer.rules_path, rules)
    await eventually(lambda: _rules_changed(enhancer, before.sha256))
    second = await enhancer.enhance("same prompt")

    assert first.reason == Reason.Value("ENHANCE_REASON_APPLIED")
    assert second.reason == Reason.Value("ENHANCE_REASON_DISABLED")
    assert second.enhanced == "same prompt"


async def _rules_changed(enhancer, old_sha256: str):
    info = await enhancer.rules()
    return info if info.sha256 != old_sha256 else None


async def _rules_failed(enhancer):
    info = await enhancer.rules()
    return info if info.failed_reloads >= 1 else None
