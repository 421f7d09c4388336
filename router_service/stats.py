"""Call statistics: per-server counters, latency percentiles and a ring of recent requests."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Latency percentiles are computed over this many most recent calls per server.
LATENCY_WINDOW = 2048
RECENT_REQUESTS = 200
# Tool and client names are caller input; the ring keeps only this much of each.
MAX_NAME_CHARS = 200


@dataclass
class ServerCounters:
    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    latencies_ms: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=LATENCY_WINDOW))

    def percentiles(self, *fractions: float) -> tuple[float, ...]:
        """Return nearest-rank percentiles of the window, sorted once; zeros before the first call."""
        if not self.latencies_ms:
            return tuple(0.0 for _ in fractions)
        ordered = sorted(self.latencies_ms)
        return tuple(ordered[max(1, math.ceil(fraction * len(ordered))) - 1] for fraction in fractions)


@dataclass(frozen=True)
class RecentRequest:
    at: datetime
    server: str
    tool: str
    client: str
    status: str
    elapsed_ms: float


class CallStats:
    """Counts every finished call by server; the servicer records each one."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerCounters] = collections.defaultdict(ServerCounters)
        self.recent: collections.deque[RecentRequest] = collections.deque(maxlen=RECENT_REQUESTS)

    def record(self, server: str, tool: str, client: str, status: str, elapsed_ms: float) -> None:
        """Count one finished call; `server` is empty when the call named no configured server."""
        if server:
            counters = self.servers[server]
            counters.calls += 1
            counters.latencies_ms.append(elapsed_ms)
            if status != "OK":
                counters.errors += 1
            if status == "DEADLINE_EXCEEDED":
                counters.timeouts += 1
        self.recent.append(
            RecentRequest(datetime.now(timezone.utc), server, tool[:MAX_NAME_CHARS], client[:MAX_NAME_CHARS], status, elapsed_ms)
        )

    def forget(self, server: str) -> None:
        self.servers.pop(server, None)
