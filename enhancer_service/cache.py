"""An LRU cache of rewritten prompts with a time to live and a size bound."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from .settings import CacheSettings


@dataclass(frozen=True)
class CacheKey:
    """Identifies one rewrite: the rule (by client and content), the model and the prompt."""

    rule: str
    rule_sha256: str
    model: str
    prompt_sha256: str


@dataclass(frozen=True)
class CacheEntry:
    enhanced: str
    model: str
    prompt_tokens_estimate: int
    truncated: bool
    stored_at: float
    size_bytes: int


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int
    evictions: int
    expirations: int

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


def make_cache_key(rule: str, rule_sha256: str, model: str, prompt: str) -> CacheKey:
    """Build a key; a hash keeps the prompt text out of the key."""
    prompt_sha256 = hashlib.sha256(prompt.encode("utf-8", errors="surrogatepass")).hexdigest()
    return CacheKey(rule=rule, rule_sha256=rule_sha256, model=model, prompt_sha256=prompt_sha256)


class EnhanceCache:
    """Keeps at most `max_entries` rewrites and `max_bytes` of text, each for `ttl_seconds`."""

    def __init__(self, settings: CacheSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._entries: OrderedDict[CacheKey, CacheEntry] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    def lookup(self, keys: list[CacheKey]) -> CacheEntry | None:
        """Return the first live entry among `keys` and mark it most recently used, or None.

        One lookup counts as one hit or one miss, however many keys it checks.
        """
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            if self._clock() - entry.stored_at >= self.settings.ttl_seconds:
                self._remove(key)
                self._expirations += 1
                continue
            self._entries.move_to_end(key)
            self._hits += 1
            return entry
        self._misses += 1
        return None

    def put(self, key: CacheKey, enhanced: str, model: str, prompt_tokens_estimate: int, truncated: bool) -> None:
        """Store a rewrite, evicting the least recently used entries beyond the bounds."""
        if self.settings.max_entries <= 0 or self.settings.ttl_seconds <= 0:
            return
        size_bytes = len(enhanced.encode("utf-8", errors="surrogatepass"))
        if size_bytes > self.settings.max_bytes:
            return

        if key in self._entries:
            self._remove(key)
        self._entries[key] = CacheEntry(
            enhanced=enhanced,
            model=model,
            prompt_tokens_estimate=prompt_tokens_estimate,
            truncated=truncated,
            stored_at=self._clock(),
            size_bytes=size_bytes,
        )
        self._bytes += size_bytes

        while len(self._entries) > self.settings.max_entries or self._bytes > self.settings.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self._evictions += 1

    def clear(self) -> int:
        """Remove every entry and return how many there were; the counters stay."""
        removed = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        return removed

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            entries=len(self._entries),
            bytes=self._bytes,
            evictions=self._evictions,
            expirations=self._expirations,
        )

    def _remove(self, key: CacheKey) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size_bytes
