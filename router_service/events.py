"""Router events for WatchEvents: one bus, many subscribers, each with a bounded queue."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)

# Events a slow subscriber may fall behind by before the oldest are dropped.
SUBSCRIBER_QUEUE_SIZE = 1000

STATE = "state"
RESTART = "restart"
BREAKER = "breaker"
TOOLS = "tools"
STDERR = "stderr"
CONFIG = "config"


@dataclass(frozen=True)
class RouterEvent:
    """Something that happened to a server or to the router's config."""

    kind: str
    server: str
    fields: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class Subscription:
    """One watcher's queue; iterate it to receive events."""

    def __init__(self, bus: "EventBus", server: str, include_stderr: bool) -> None:
        self._bus = bus
        self.server = server
        self.include_stderr = include_stderr
        self.queue: asyncio.Queue[RouterEvent] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.dropped = 0

    def wants(self, event: RouterEvent) -> bool:
        if event.kind == STDERR and not self.include_stderr:
            return False
        return not self.server or not event.server or event.server == self.server

    def offer(self, event: RouterEvent) -> None:
        if self.queue.full():
            # A watcher that cannot keep up loses the oldest events, never blocks the router.
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fans router events out to every current subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    @property
    def wants_stderr(self) -> bool:
        return any(subscriber.include_stderr for subscriber in self._subscribers)

    def subscribe(self, server: str = "", include_stderr: bool = False) -> Subscription:
        subscription = Subscription(self, server, include_stderr)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self, kind: str, server: str, **fields: Any) -> None:
        if not self._subscribers:
            return
        event = RouterEvent(kind, server, fields)
        for subscriber in list(self._subscribers):
            if subscriber.wants(event):
                subscriber.offer(event)
