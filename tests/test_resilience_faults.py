"""Fault-injection server behaviours: what the caller sees, the server's and breaker's state, no leftovers."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from mcp_router.v1 import router_pb2
from tests.conftest import fault_server
from tests.test_router_lifecycle import health_status, process_alive, wait_until

HUGE_LINE_BYTES = 20 * 1024 * 1024


def text_of(reply: router_pb2.CallToolResponse) -> str:
    return json.loads(reply.result_json)["content"][0]["text"]


async def running_with_new_pid(router, name: str, old_pid: int) -> router_pb2.Server | None:
    server = await router.server(name)
    return server if server.state == router_pb2.RUNNING and server.pid not in (0, old_pid) else None


async def stop_router_and_check_processes(router, pids: list[int]) -> None:
    """Stop the router with SIGTERM and assert that none of `pids` is left running."""
    await router.channel.close()
    assert await router.process.stop() == 0
    for pid in pids:
        assert not process_alive(pid), f"process {pid} outlived the router"


async def test_crash_with_grandchild_is_cleaned_up(start_router, tmp_path: Path):
    grandchild_file = tmp_path / "grandchild.pid"
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1)})
    before = await router.server("fault")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__crash", {"code": 70, "grandchild": True, "pid_file": str(grandchild_file)})

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "exited with code 70" in caught.value.details()
    after = await wait_until(lambda: running_with_new_pid(router, "fault", before.pid))
    grandchild = int(grandchild_file.read_text())
    # The grandchild is ended with its group when the crash is handled, not only at shutdown.
    assert not process_alive(grandchild)
    assert not process_alive(before.pid)
    assert after.restarts == 1
    assert after.breaker == router_pb2.CLOSED
    assert text_of(await router.call("fault__echo", {"text": "back"})) == "back"
    await stop_router_and_check_processes(router, [after.pid, grandchild])


async def test_exit_noticed_while_grandchild_holds_stdout(start_router, tmp_path: Path):
    grandchild_file = tmp_path / "grandchild.pid"
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1)})
    before = await router.server("fault")
    pending = asyncio.create_task(router.call("fault__hang", timeout=60))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__crash", {"code": 71, "grandchild": True, "keep_stdout": True, "pid_file": str(grandchild_file)}, timeout=60)
    with pytest.raises(grpc.aio.AioRpcError) as pending_caught:
        await pending

    # No EOF arrives while the grandchild holds stdout; the exit itself ends the calls,
    # long before their 60 s deadline.
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "exited with code 71" in caught.value.details()
    assert pending_caught.value.code() == grpc.StatusCode.UNAVAILABLE
    after = await wait_until(lambda: running_with_new_pid(router, "fault", before.pid))
    grandchild = int(grandchild_file.read_text())
    assert not process_alive(grandchild)
    assert after.restarts == 1
    await stop_router_and_check_processes(router, [after.pid, grandchild])


async def test_health_drops_while_process_group_is_ended(start_router, tmp_path: Path):
    grandchild_file = tmp_path / "grandchild.pid"
    router = await start_router({"fault": fault_server(backoffInitialSeconds=0.1, stopTimeoutSeconds=3)})
    before = await router.server("fault")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__crash", {"code": 70, "grandchild": True, "ignore_sigterm": True, "pid_file": str(grandchild_file)})
    during = await router.server("fault")
    status = await health_status(router.target, "mcp_router.server.fault")

    # The grandchild ignores SIGTERM, so ending the group takes stopTimeoutSeconds;
    # meanwhile the server must not look RUNNING without a live process.
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert during.state != router_pb2.RUNNING or during.pid not in (0, before.pid), during
    if during.state != router_pb2.RUNNING:
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    after = await wait_until(lambda: running_with_new_pid(router, "fault", before.pid))
    grandchild = int(grandchild_file.read_text())
    assert not process_alive(grandchild)
    await stop_router_and_check_processes(router, [after.pid, grandchild])


async def test_late_reply_after_cancel_is_dropped(start_router):
    router = await start_router({"fault": fault_server()})
    before = await router.server("fault")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.call("fault__late", timeout=1.0)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    # The server replies only after it received the cancellation, so once the
    # router logged the dropped reply, it really came late.
    async def late_reply_dropped():
        return "late or unknown reply" in router.process.log_text()

    replies = await asyncio.gather(*(router.call("fault__echo", {"text": f"call {number}"}) for number in range(20)))
    await wait_until(late_reply_dropped)
    assert [text_of(reply) for reply in replies] == [f"call {number}" for number in range(20)]
    assert len(json.loads(text_of(await router.call("fault__cancellations")))) == 1
    after = await router.server("fault")
    assert after.state == router_pb2.RUNNING
    assert after.pid == before.pid
    assert after.restarts == 0
    assert after.breaker == router_pb2.CLOSED
    await stop_router_and_check_processes(router, [after.pid])


async def test_huge_line_at_start_is_skipped(start_router):
    router = await start_router(
        {
            "roomy": fault_server("--huge-line-at-start", str(HUGE_LINE_BYTES)),
            "tight": fault_server("--huge-line-at-start", str(HUGE_LINE_BYTES), maxLineBytes=1024 * 1024),
        }
    )

    roomy = await router.server("roomy")
    tight = await router.server("tight")

    assert roomy.state == router_pb2.RUNNING
    assert tight.state == router_pb2.RUNNING
    # Within the limit the line is read whole and counted as noise; above it, it is dropped unread.
    assert roomy.noise_lines == 1
    assert tight.noise_lines == 0
    assert text_of(await router.call("roomy__echo", {"text": "roomy"})) == "roomy"
    assert text_of(await router.call("tight__echo", {"text": "tight"})) == "tight"
    assert (await router.server("tight")).breaker == router_pb2.CLOSED
    await stop_router_and_check_processes(router, [roomy.pid, tight.pid])


async def test_huge_line_mid_call_spares_the_session(start_router):
    router = await start_router({"fault": fault_server(maxLineBytes=1024 * 1024)})
    before = await router.server("fault")

    slow = asyncio.create_task(router.call("fault__sleep", {"seconds": 0.5}, timeout=60))
    reply = await router.call("fault__huge_line", {"bytes": HUGE_LINE_BYTES, "text": "after 20 MiB"}, timeout=60)

    assert text_of(reply) == "after 20 MiB"
    assert text_of(await slow) == "slept 0.5"
    after = await router.server("fault")
    assert after.pid == before.pid
    assert after.restarts == 0
    assert after.breaker == router_pb2.CLOSED
    await stop_router_and_check_processes(router, [after.pid])


async def test_garbage_at_start_is_counted_not_fatal(start_router):
    router = await start_router({"fault": fault_server("--garbage-at-start")})

    server = await router.server("fault")

    assert server.state == router_pb2.RUNNING
    assert server.consecutive_failures == 0
    # Six of the lines are noise; the whitespace-only line counts as blank.
    assert server.noise_lines == 6
    assert text_of(await router.call("fault__echo", {"text": "clean"})) == "clean"
    await stop_router_and_check_processes(router, [server.pid])


async def test_server_requests_amid_concurrent_calls(start_router):
    router = await start_router({"fault": fault_server(roots=["file:///work"])})
    before = await router.server("fault")

    asks = [router.call("fault__ask_client", {"method": method}) for method in ("ping", "roots/list") * 5]
    echoes = [router.call("fault__echo", {"text": f"echo {number}"}) for number in range(20)]
    replies = await asyncio.gather(*asks, *echoes)

    answers = [json.loads(text_of(reply)) for reply in replies[:10]]
    assert [answer["result"] for answer in answers] == [{}, {"roots": [{"uri": "file:///work"}]}] * 5
    assert [text_of(reply) for reply in replies[10:]] == [f"echo {number}" for number in range(20)]
    after = await router.server("fault")
    assert after.pid == before.pid
    assert after.breaker == router_pb2.CLOSED
    await stop_router_and_check_processes(router, [after.pid])


async def test_restart_kills_server_ignoring_sigterm(start_router, tmp_path: Path):
    router = await start_router({"stubborn": fault_server("--ignore-sigterm", "--ignore-eof", stopTimeoutSeconds=0.5)})
    before = await router.server("stubborn")

    restarted = await router.stub.RestartServer(router_pb2.RestartServerRequest(name="stubborn"), timeout=30)

    assert restarted.state == router_pb2.RUNNING
    assert restarted.pid not in (0, before.pid)
    assert restarted.last_exit_code == -signal.SIGKILL
    assert restarted.restarts == 1
    assert not process_alive(before.pid)
    assert text_of(await router.call("stubborn__echo", {"text": "new"})) == "new"
    await stop_router_and_check_processes(router, [restarted.pid])
