"""Settings of the enhancer as small value objects, built once by the entry point."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from mcp_router.breaker import BreakerSettings

DEFAULT_LISTEN = "127.0.0.1:50052"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
OLLAMA_DEFAULT_PORT = 11434

# The shipped rules live in config/ at the repository root, next to this package.
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "config" / "rules.json"


@dataclass(frozen=True)
class OllamaTimeouts:
    """Per-phase HTTP timeouts in seconds; every call is also capped by its budget."""

    # Short: a local Ollama accepts connections at once or not at all.
    connect: float = 2.0
    # Long: Ollama sends no headers until a cold model has loaded, which can
    # take tens of seconds.
    first_byte: float = 120.0
    write: float = 10.0
    # Waiting for a free connection from the pool.
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.first_byte, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class OllamaLimits:
    """Connection pool bounds of the one shared HTTP client."""

    max_connections: int = 16
    max_keepalive_connections: int = 8
    keepalive_expiry: float = 30.0

    def to_httpx(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive_connections,
            keepalive_expiry=self.keepalive_expiry,
        )


@dataclass(frozen=True)
class RetrySettings:
    """Retries of one Ollama call; all of them stay within the call's budget."""

    # Total attempts for 429 (too many requests) and 503 (busy) responses.
    busy_attempts: int = 3
    # Total attempts for a 500 response, such as from a crashed model runner.
    server_error_attempts: int = 2
    # Exponential backoff with full jitter: a random pause up to
    # min(backoff_max, backoff_base * 2**retry) seconds.
    backoff_base: float = 0.2
    backoff_max: float = 2.0


@dataclass(frozen=True)
class OllamaSettings:
    """Location of Ollama and the client's timeouts, limits, retries and breaker."""

    url: str = DEFAULT_OLLAMA_URL
    timeouts: OllamaTimeouts = field(default_factory=OllamaTimeouts)
    limits: OllamaLimits = field(default_factory=OllamaLimits)
    retries: RetrySettings = field(default_factory=RetrySettings)
    # Stream NDJSON from /api/chat; `stream` is sent explicitly either way.
    stream: bool = True
    # Seconds between /api/version probes that drive the `ollama` health status.
    probe_interval: float = 5.0
    breaker: BreakerSettings = field(default_factory=BreakerSettings)


@dataclass(frozen=True)
class CacheSettings:
    """Bounds of the enhancement cache."""

    max_entries: int = 1024
    # UTF-8 bytes of the cached rewrites together.
    max_bytes: int = 16 * 1024 * 1024
    ttl_seconds: float = 3600.0


@dataclass(frozen=True)
class BudgetSettings:
    """Time budgets of Ollama calls, in seconds."""

    # Used alone when the caller sets no gRPC deadline; caps it otherwise.
    budget: float = 60.0
    # Kept back from the caller's deadline so the response arrives before it.
    deadline_margin: float = 0.2


@dataclass(frozen=True)
class EnhancerSettings:
    """Everything the enhancer service needs to run."""

    listen: str = DEFAULT_LISTEN
    rules_path: Path = DEFAULT_RULES_PATH
    # Seconds between checks of the rules file's modification time and size.
    rules_poll_interval: float = 2.0
    ollama: OllamaSettings = field(default_factory=OllamaSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    shutdown_grace: float = 5.0


def normalize_ollama_url(value: str) -> str:
    """Turn an Ollama address into a base URL, accepting OLLAMA_HOST's short forms.

    Like the ollama CLI, a value without a scheme means http, a missing host means
    127.0.0.1 and a missing port means 11434 for a scheme-less value (80 or 443 when
    the scheme is given). Raise ValueError naming the value when it cannot be a URL.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty Ollama address: expected a URL such as http://127.0.0.1:11434")
    has_scheme = "://" in text
    if not has_scheme:
        text = f"http://{text}"

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"invalid Ollama address {value!r}: the scheme must be http or https")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"invalid port in Ollama address {value!r}: {error}") from error

    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    if port is None and not has_scheme:
        port = OLLAMA_DEFAULT_PORT
    elif port is None:
        port = 443 if parts.scheme == "https" else 80
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}:{port}{path}"


def resolve_ollama_url(flag_value: str | None, environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """Pick the Ollama URL: the --ollama-url flag, else OLLAMA_HOST, else the default."""
    if flag_value:
        return normalize_ollama_url(flag_value)
    env_value = environ.get("OLLAMA_HOST", "").strip()
    if env_value:
        return normalize_ollama_url(env_value)
    return DEFAULT_OLLAMA_URL
