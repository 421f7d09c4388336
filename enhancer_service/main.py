"""Entry point of enhancer-service: parse the command line, wire the parts, serve until a signal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Sequence

from mcp_router.breaker import BreakerSettings, CircuitBreaker
from mcp_router.logs import LOG_LEVELS, configure_logging
from mcp_router.auth import Role
from mcp_router.security import SecurityError, add_security_arguments, check_listen_address, load_security, server_credentials
from mcp_router.serving import ServerLimits, ServiceHost, install_stop_signals, split_host_port
from mcp_router.v1 import enhancer_pb2

from .cache import EnhanceCache
from .enhancer import Enhancer
from .errors import RulesError
from .ollama_client import OllamaClient
from .ollama_status import OllamaStatus
from .rules_store import RulesStore
from .servicer import EnhancerServicer
from .settings import (
    DEFAULT_LISTEN,
    DEFAULT_OLLAMA_URL,
    DEFAULT_RULES_PATH,
    BudgetSettings,
    CacheSettings,
    EnhancerSettings,
    OllamaSettings,
    OllamaTimeouts,
    RetrySettings,
    resolve_ollama_url,
)

log = logging.getLogger("enhancer_service")

SERVICE_DESCRIPTOR = enhancer_pb2.DESCRIPTOR.services_by_name["EnhancerService"]
SERVICE_NAME = SERVICE_DESCRIPTOR.full_name
# Methods a client token may call when tokens are configured; ReloadRules and ClearCache need an admin token.
METHOD_ROLES = {f"/{SERVICE_NAME}/{method}": Role.CLIENT for method in ("Enhance", "Complete", "ListModels", "GetRules", "GetStats")}
OLLAMA_HEALTH_NAME = "ollama"

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_BAD_RULES = 2
EXIT_BAD_SECURITY = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enhancer-service",
        description="Serve mcp_router.v1.EnhancerService: rewrite prompts with a local Ollama model.",
    )
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help="gRPC address to listen on (default: %(default)s)")
    parser.add_argument(
        "--ollama-url",
        default=None,
        metavar="URL",
        help=f"Ollama base URL; when not given, OLLAMA_HOST is used (forms like 127.0.0.1:11434 are accepted), "
        f"else {DEFAULT_OLLAMA_URL}",
    )
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH, metavar="FILE", help="rules file, JSON (default: the shipped %(default)s)")
    parser.add_argument(
        "--rules-poll-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between checks of the rules file for changes on disk; 0 turns reloading on change off (default: %(default)s)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="lowest level of log lines written to stderr (default: %(default)s)")

    budgets = parser.add_argument_group("time budgets")
    budgets.add_argument(
        "--budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="maximum seconds one Ollama call may take, retries included; a shorter gRPC deadline wins (default: %(default)s)",
    )
    budgets.add_argument(
        "--deadline-margin",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="seconds kept back from the caller's gRPC deadline so the response arrives before it (default: %(default)s)",
    )
    budgets.add_argument(
        "--connect-timeout", type=float, default=2.0, metavar="SECONDS", help="seconds to wait for a connection to Ollama (default: %(default)s)"
    )
    budgets.add_argument(
        "--first-byte-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="seconds to wait for Ollama's next bytes; a cold model load sends nothing until the model is loaded (default: %(default)s)",
    )
    budgets.add_argument(
        "--busy-attempts",
        type=int,
        default=3,
        metavar="N",
        help="attempts of one call while Ollama responds with 429 or 503, with jittered backoff between them (default: %(default)s)",
    )
    budgets.add_argument(
        "--probe-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between /api/version probes that set the `ollama` health status (default: %(default)s)",
    )
    budgets.add_argument(
        "--no-stream",
        action="store_true",
        help="ask Ollama for one JSON response (stream: false) instead of an NDJSON stream",
    )

    breaker = parser.add_argument_group("circuit breaker on Ollama")
    breaker.add_argument(
        "--breaker-failures",
        type=int,
        default=5,
        metavar="N",
        help="consecutive failures (transport errors, timeouts, 5xx responses) that open the breaker (default: %(default)s)",
    )
    breaker.add_argument(
        "--breaker-recovery",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds the breaker stays open before it lets one trial call through (default: %(default)s)",
    )

    cache = parser.add_argument_group("cache of rewritten prompts")
    cache.add_argument("--cache-entries", type=int, default=1024, metavar="N", help="maximum entries; 0 turns the cache off (default: %(default)s)")
    cache.add_argument(
        "--cache-bytes", type=int, default=16 * 1024 * 1024, metavar="BYTES", help="maximum UTF-8 bytes of cached rewrites (default: %(default)s)"
    )
    cache.add_argument("--cache-ttl", type=float, default=3600.0, metavar="SECONDS", help="seconds an entry stays valid (default: %(default)s)")

    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds in-flight calls get to finish after SIGTERM or SIGINT (default: %(default)s)",
    )
    add_security_arguments(parser)
    return parser


def settings_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> EnhancerSettings:
    """Build the settings from the parsed options; exit through parser.error on an invalid value."""
    try:
        split_host_port(args.listen)
        ollama_url = resolve_ollama_url(args.ollama_url)
    except ValueError as error:
        parser.error(str(error))

    positive = {
        "--budget": args.budget,
        "--connect-timeout": args.connect_timeout,
        "--first-byte-timeout": args.first_byte_timeout,
        "--probe-interval": args.probe_interval,
        "--breaker-recovery": args.breaker_recovery,
        "--cache-ttl": args.cache_ttl,
    }
    for flag, value in positive.items():
        if value <= 0:
            parser.error(f"{flag} must be more than 0, got {value}")
    at_least_one = {"--breaker-failures": args.breaker_failures, "--busy-attempts": args.busy_attempts}
    for flag, value in at_least_one.items():
        if value < 1:
            parser.error(f"{flag} must be 1 or more, got {value}")
    not_negative = {
        "--deadline-margin": args.deadline_margin,
        "--rules-poll-interval": args.rules_poll_interval,
        "--cache-entries": args.cache_entries,
        "--cache-bytes": args.cache_bytes,
        "--shutdown-grace": args.shutdown_grace,
    }
    for flag, value in not_negative.items():
        if value < 0:
            parser.error(f"{flag} must be 0 or more, got {value}")

    return EnhancerSettings(
        listen=args.listen,
        rules_path=args.rules,
        rules_poll_interval=args.rules_poll_interval,
        ollama=OllamaSettings(
            url=ollama_url,
            timeouts=OllamaTimeouts(connect=args.connect_timeout, first_byte=args.first_byte_timeout),
            retries=RetrySettings(busy_attempts=args.busy_attempts),
            stream=not args.no_stream,
            probe_interval=args.probe_interval,
            breaker=BreakerSettings(failure_threshold=args.breaker_failures, recovery_timeout=args.breaker_recovery),
        ),
        cache=CacheSettings(max_entries=args.cache_entries, max_bytes=args.cache_bytes, ttl_seconds=args.cache_ttl),
        budgets=BudgetSettings(budget=args.budget, deadline_margin=args.deadline_margin),
        shutdown_grace=args.shutdown_grace,
    )


async def serve(settings: EnhancerSettings, args: argparse.Namespace) -> int:
    """Run the service until SIGTERM or SIGINT and return the exit code."""
    try:
        security = await load_security(args)
        check_listen_address(settings.listen, security)
        credentials = await server_credentials(security.tls) if security.tls else None
    except SecurityError as error:
        log.error("cannot start: %s", error)
        return EXIT_BAD_SECURITY

    rules = RulesStore(settings.rules_path)
    try:
        await rules.load()
    except RulesError as error:
        log.error("cannot start: %s", error)
        return EXIT_BAD_RULES

    breaker = CircuitBreaker("ollama", settings.ollama.breaker)
    ollama = OllamaClient(settings.ollama, breaker)
    status = OllamaStatus(ollama, breaker)
    enhancer = Enhancer(rules, EnhanceCache(settings.cache), ollama, settings.budgets)

    host = ServiceHost(settings.listen, ServerLimits(), [SERVICE_NAME], security.interceptors(METHOD_ROLES))
    host.add_service(EnhancerServicer(enhancer, rules, status), SERVICE_DESCRIPTOR)
    await host.set_serving(SERVICE_NAME, True)
    await host.set_serving(OLLAMA_HEALTH_NAME, False)
    try:
        await host.start(credentials)
    except OSError as error:
        log.error("cannot start: %s", error)
        await ollama.aclose()
        return EXIT_START_FAILED
    log.info("enhancer started ollama_url=%s rules=%s stream=%s", ollama.url, rules.path, settings.ollama.stream)

    async def publish_ollama_health(available: bool) -> None:
        await host.set_serving(OLLAMA_HEALTH_NAME, available)

    tasks = [asyncio.create_task(status.run(settings.ollama.probe_interval, publish_ollama_health), name="ollama-status")]
    if settings.rules_poll_interval > 0:
        tasks.append(asyncio.create_task(rules.watch(settings.rules_poll_interval), name="rules-watch"))
    for task in tasks:
        task.add_done_callback(_log_task_end)

    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        await stop.wait()
        log.info("stopping: signal received, grace=%.1fs", settings.shutdown_grace)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await host.shut_down(settings.shutdown_grace)
        await ollama.aclose()
    return EXIT_OK


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from_args(parser, args)
    configure_logging(args.log_level)
    if args.log_level != "debug":
        # httpx logs every request at INFO; the enhancer logs each call once itself.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    sys.exit(asyncio.run(serve(settings, args)))


if __name__ == "__main__":
    main()
