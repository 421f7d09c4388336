"""A consecutive-failure circuit breaker shared by the router and the enhancer.

The breaker knows nothing about gRPC, MCP or HTTP: callers classify each
outcome as a success, a failure or neither, and the breaker only counts.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)


class BreakerState(enum.Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    # Neither: a caller error, a cancelled call. Frees a half-open trial slot.
    IGNORED = "ignored"


class CircuitOpenError(Exception):
    """The breaker is open, so the call was not attempted."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit breaker '{name}' is open; retry after {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


@dataclass(frozen=True)
class BreakerSettings:
    """Thresholds of one breaker."""

    failure_threshold: int = 5
    recovery_timeout: float = 30.0
    half_open_max_calls: int = 1


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker's state at one moment, for stats and health."""

    state: BreakerState
    consecutive_failures: int
    retry_after: float
    opened_count: int
    last_failure: str


Listener = Callable[[str, BreakerState, BreakerState, str], None]


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures and fails fast while open.

    After `recovery_timeout` seconds the breaker turns HALF_OPEN and lets at most
    `half_open_max_calls` trial calls through; one success closes it, one failure
    opens it again.
    """

    def __init__(
        self,
        name: str,
        settings: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        listener: Listener | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._listeners: list[Listener] = [listener] if listener else []
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trials_in_flight = 0
        self._opened_count = 0
        self._last_failure = ""

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> BreakerState:
        self._maybe_half_open()
        return self._state

    def retry_after(self) -> float:
        """Seconds until a trial call will be let through; 0 unless open."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.settings.recovery_timeout - self._clock())

    def before_call(self) -> bool:
        """Admit one call or raise CircuitOpenError; return True for a half-open trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and self._trials_in_flight < self.settings.half_open_max_calls:
            self._trials_in_flight += 1
            return True
        raise CircuitOpenError(self.name, max(self.retry_after(), 0.1))

    def after_call(self, outcome: Outcome, *, trial: bool = False, detail: str = "") -> None:
        """Record the outcome of a call admitted by before_call."""
        if trial:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)

        if outcome is Outcome.SUCCESS:
            self._failures = 0
            if self._state is not BreakerState.CLOSED:
                self._transition(BreakerState.CLOSED, "trial call succeeded")
        elif outcome is Outcome.FAILURE:
            self._failures += 1
            self._last_failure = detail
            if self._state is BreakerState.HALF_OPEN:
                self._open(f"trial call failed: {detail}")
            elif self._state is BreakerState.CLOSED and self._failures >= self.settings.failure_threshold:
                self._open(f"{self._failures} consecutive failures, last: {detail}")

    def record_failure(self, detail: str) -> None:
        """Count a failure seen outside a call, such as a failed liveness ping."""
        self.after_call(Outcome.FAILURE, detail=detail)

    def reset(self) -> None:
        """Close the breaker and forget its failures."""
        self._failures = 0
        self._trials_in_flight = 0
        if self._state is not BreakerState.CLOSED:
            self._transition(BreakerState.CLOSED, "reset")

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self.state,
            consecutive_failures=self._failures,
            retry_after=self.retry_after(),
            opened_count=self._opened_count,
            last_failure=self._last_failure,
        )

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._opened_count += 1
        self._trials_in_flight = 0
        self._transition(BreakerState.OPEN, reason)

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.settings.recovery_timeout:
            self._trials_in_flight = 0
            self._transition(BreakerState.HALF_OPEN, "recovery timeout elapsed")

    def _transition(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        level = logging.WARNING if new is BreakerState.OPEN else logging.INFO
        log.log(level, "breaker=%s transition=%s->%s reason=%s", self.name, old.value, new.value, reason)
        for listener in self._listeners:
            try:
                listener(self.name, old, new, reason)
            except Exception:  # A faulty listener must not break the caller's call path.
                log.exception("breaker=%s listener failed", self.name)
