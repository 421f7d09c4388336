"""Whether Ollama is usable, for the `ollama` health status and GetStats.

Ollama counts as available while its latest probe or call reached it and its
breaker is closed. A background loop probes /api/version and publishes every
change. Calls and breaker transitions wake the loop, so health follows them at
once, not at the next probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Awaitable, Callable

from mcp_router.breaker import BreakerState, CircuitBreaker, CircuitOpenError, Outcome

from .ollama_client import OllamaClient

log = logging.getLogger(__name__)

# Breaker transitions kept for GetStats.
TRANSITION_HISTORY = 32
# Upper bound of one probe, in seconds; shorter when probes are more frequent.
MAX_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class BreakerTransition:
    old: BreakerState
    new: BreakerState
    reason: str
    at: datetime


class OllamaStatus:
    """Combines reachability and breaker state, and records breaker transitions."""

    def __init__(self, client: OllamaClient, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker
        self.transitions: deque[BreakerTransition] = deque(maxlen=TRANSITION_HISTORY)
        self._changed = asyncio.Event()
        breaker.add_listener(self._on_transition)
        client.add_listener(self._changed.set)

    def available(self) -> bool:
        return self.client.reachable is True and self.breaker.state is BreakerState.CLOSED

    async def run(self, probe_interval: float, publish: Callable[[bool], Awaitable[None]]) -> None:
        """Probe Ollama every `probe_interval` seconds and publish availability changes until cancelled."""
        probe_timeout = max(0.1, min(MAX_PROBE_TIMEOUT, probe_interval))
        published: bool | None = None
        loop = asyncio.get_running_loop()
        next_probe = loop.time()
        while True:
            if loop.time() >= next_probe:
                await self._probe(probe_timeout)
                next_probe = loop.time() + probe_interval

            available = self.available()
            if available != published:
                log.info(
                    "ollama url=%s available=%s reachable=%s breaker=%s",
                    self.client.url,
                    available,
                    self.client.reachable,
                    self.breaker.state.value,
                )
                await publish(available)
                published = available

            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, next_probe - loop.time()))
            except TimeoutError:
                pass

    async def _probe(self, timeout: float) -> None:
        """Probe Ollama; while the breaker is half-open the probe is its trial call.

        Without this, a breaker that opened while no calls came in would keep the
        `ollama` health status NOT_SERVING until the next call.
        """
        trial = False
        if self.breaker.state is BreakerState.HALF_OPEN:
            try:
                trial = self.breaker.before_call()
            except CircuitOpenError:
                trial = False
        reached = await self.client.probe(timeout)
        if trial:
            outcome = Outcome.SUCCESS if reached else Outcome.FAILURE
            self.breaker.after_call(outcome, trial=True, detail=f"probe: {self.client.last_error}")

    def _on_transition(self, name: str, old: BreakerState, new: BreakerState, reason: str) -> None:
        self.transitions.append(BreakerTransition(old=old, new=new, reason=reason, at=datetime.now(timezone.utc)))
        self._changed.set()
