"""A bounded soak: many clients, several servers, faults injected at random.

SOAK_CALLS sets the number of calls (default 300, which `make test` runs;
`make soak` runs a larger size). Every call must end with its own correct
result or a definite error, and the router must leak no process, file
descriptor or memory.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from mcp_router.v1 import router_pb2, router_pb2_grpc
from tests.conftest import fault_server
from tests.harness import CHANNEL_OPTIONS
from tests.test_router_lifecycle import process_alive, wait_until

SOAK_CALLS = int(os.environ.get("SOAK_CALLS", "300"))
CLIENTS = 16
SERVERS = ("alpha", "beta", "gamma")
# Chance per call of each injected fault; the rest are plain echo calls.
FAULTS = {"crash": 0.015, "hang": 0.02, "restart": 0.005, "kill": 0.005}
# Calls that fail may fail only in these ways: the server is down or its
# breaker is open, or the call ran out of time.
DEFINITE_ERRORS = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
ECHO_DEADLINE_SECONDS = 15.0
HANG_DEADLINE_SECONDS = 0.3
# The router's resident memory may grow this much over the soak, for allocator
# slack and gRPC buffers. A leak per call or per restart would exceed it at
# the larger `make soak` size.
RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024
# File descriptors the router may hold beyond the starting count once the
# load is over, for gRPC's own event descriptors. Each leaked session would
# leave three pipes behind.
FD_GROWTH_LIMIT = 4

pytestmark = [pytest.mark.soak, pytest.mark.timeout(180 + SOAK_CALLS // 5)]


@dataclass
class Tally:
    """Outcomes of the soak's calls, by kind."""

    correct: int = 0
    mismatched: list[str] = field(default_factory=list)
    indefinite: list[str] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    faults: collections.Counter = field(default_factory=collections.Counter)
    finished: int = 0


def router_fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def router_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, found through /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent]
        found.update(children)
        frontier.extend(children)
    return found


def is_fault_server(pid: int) -> bool:
    try:
        return b"fault_server.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


async def all_running(stub: router_pb2_grpc.RouterServiceStub) -> list[router_pb2.Server] | None:
    listed = await stub.ListServers(router_pb2.ListServersRequest(), timeout=10)
    return list(listed.servers) if all(server.state == router_pb2.RUNNING for server in listed.servers) else None


def client_backoff(error: grpc.aio.AioRpcError) -> float:
    """Seconds to wait after UNAVAILABLE: the retry-after hint when present, within bounds."""
    hint = dict(error.trailing_metadata() or ()).get("retry-after-ms")
    seconds = int(hint) / 1000 if hint else 0.1
    return min(max(seconds, 0.05), 1.0)


async def echo_once(stub: router_pb2_grpc.RouterServiceStub, server: str, token: str) -> str:
    request = router_pb2.CallToolRequest(server=server, tool="echo", arguments_json=json.dumps({"text": token}))
    reply = await stub.CallTool(request, timeout=ECHO_DEADLINE_SECONDS)
    return json.loads(reply.result_json)["content"][0]["text"]


async def test_soak_calls_survive_random_faults(start_router, tmp_path: Path):
    options = {
        "backoffInitialSeconds": 0.1,
        "backoffMaxSeconds": 1.0,
        "minUptimeSeconds": 0.5,
        "maxStartFailures": 1000,
        "stopTimeoutSeconds": 1.0,
        "breaker": {"failureThreshold": 5, "recoveryTimeoutSeconds": 0.5, "halfOpenMaxCalls": 2},
    }
    router = await start_router({name: fault_server(**options) for name in SERVERS})
    router_pid = router.process.process.pid
    rng = random.Random(int(os.environ.get("SOAK_SEED", "20261204")))
    channels = [grpc.aio.insecure_channel(router.target, options=CHANNEL_OPTIONS) for _ in range(CLIENTS)]
    stubs = [router_pb2_grpc.RouterServiceStub(channel) for channel in channels]
    server_pids: set[int] = set()
    grandchild_files: list[Path] = []

    # Warm up every client so its connection is part of the starting counts.
    for number, stub in enumerate(stubs):
        assert await echo_once(stub, SERVERS[number % len(SERVERS)], f"warm-{number}") == f"warm-{number}"
    fds_before = router_fd_count(router_pid)
    rss_before = router_rss_bytes(router_pid)
    server_pids.update(server.pid for server in await all_running(router.stub) or [])

    tally = Tally()
    next_call = iter(range(SOAK_CALLS))

    async def inject(stub, kind: str, server: str, number: int) -> None:
        tally.faults[kind] += 1
        if kind == "crash":
            arguments = {"code": 70}
            if number % 3 == 0:
                pid_file = tmp_path / f"grandchild-{number}.pid"
                grandchild_files.append(pid_file)
                arguments.update(grandchild=True, pid_file=str(pid_file))
            request = router_pb2.CallToolRequest(server=server, tool="crash", arguments_json=json.dumps(arguments))
            await stub.CallTool(request, timeout=ECHO_DEADLINE_SECONDS)
        elif kind == "hang":
            await stub.CallTool(router_pb2.CallToolRequest(server=server, tool="hang"), timeout=HANG_DEADLINE_SECONDS)
        elif kind == "restart":
            restarted = await stub.RestartServer(router_pb2.RestartServerRequest(name=server), timeout=30)
            server_pids.add(restarted.pid)
        elif kind == "kill":
            pid = (await stub.GetServer(router_pb2.GetServerRequest(name=server), timeout=10)).pid
            if pid and is_fault_server(pid):
                server_pids.add(pid)
                os.kill(pid, signal.SIGKILL)

    async def client(stub) -> None:
        for number in next_call:
            server = rng.choice(SERVERS)
            roll = rng.random()
            kind = "echo"
            for fault, chance in FAULTS.items():
                if roll < chance:
                    kind = fault
                    break
                roll -= chance
            try:
                if kind == "echo":
                    token = f"call-{number}-{server}"
                    text = await echo_once(stub, server, token)
                    if text == token:
                        tally.correct += 1
                    else:
                        tally.mismatched.append(f"{token} got {text!r}")
                else:
                    await inject(stub, kind, server, number)
            except grpc.aio.AioRpcError as error:
                tally.errors[(kind, error.code().name)] += 1
                if error.code() not in DEFINITE_ERRORS and not (kind == "restart" and error.code() == grpc.StatusCode.NOT_FOUND):
                    tally.indefinite.append(f"{kind} call {number}: {error.code().name} {error.details()}")
                if error.code() == grpc.StatusCode.UNAVAILABLE:
                    # A real client backs off too, for as long as the router's hint asks,
                    # so a server that is down does not use up the calls.
                    await asyncio.sleep(client_backoff(error))
            tally.finished += 1

    await asyncio.wait_for(asyncio.gather(*(client(stub) for stub in stubs)), timeout=120 + SOAK_CALLS // 5)

    summary = f"correct={tally.correct} errors={dict(tally.errors)} faults={dict(tally.faults)}"
    assert tally.finished == SOAK_CALLS, summary
    assert tally.mismatched == [], summary
    assert tally.indefinite == [], summary
    # The soak proves nothing unless faults happened and most calls still worked.
    assert tally.faults["crash"] > 0, summary
    assert tally.faults["hang"] > 0, summary
    assert tally.correct >= SOAK_CALLS // 5, summary

    # Once the faults stop, every server recovers and every client is served again.
    print(summary)
    servers = await wait_until(lambda: all_running(router.stub), timeout=60)
    await router.stub.ResetBreakers(router_pb2.ResetBreakersRequest(), timeout=10)
    for number, stub in enumerate(stubs):
        assert await echo_once(stub, SERVERS[number % len(SERVERS)], f"after-{number}") == f"after-{number}"
    assert sum(server.restarts for server in servers) > 0, summary

    live_servers = {server.pid for server in servers}
    server_pids.update(live_servers)
    assert descendants(router_pid) == live_servers
    fds_after, rss_after = router_fd_count(router_pid), router_rss_bytes(router_pid)
    print(f"soak calls={SOAK_CALLS} fds={fds_before}->{fds_after} rss_mib={rss_before / 2**20:.1f}->{rss_after / 2**20:.1f}")
    assert fds_after <= fds_before + FD_GROWTH_LIMIT
    assert rss_after <= rss_before + RSS_GROWTH_LIMIT_BYTES

    for channel in channels:
        await channel.close()
    await router.channel.close()
    assert await router.process.stop() == 0
    grandchildren = [int(path.read_text()) for path in grandchild_files if path.exists()]
    for pid in sorted(server_pids | set(grandchildren)):
        assert not process_alive(pid), f"process {pid} outlived the router"
