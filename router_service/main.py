"""`router-service`: serve every configured MCP server's tools over gRPC until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from pathlib import Path

from mcp_router.logs import LOG_LEVELS, configure_logging
from mcp_router.security import SecurityError, add_security_arguments, channel_credentials, check_listen_address, load_security, server_credentials
from mcp_router.serving import ServerLimits, ServiceHost, install_stop_signals, split_host_port

from .config import ConfigError, RouterConfig, read_config
from .config_store import POLL_SECONDS, ConfigStore
from .enhancer_link import ENHANCER_SERVICE, EnhancerLink
from .router import Router
from .servicer import METHOD_ROLES, SERVER_HEALTH_PREFIX, SERVICE_DESCRIPTOR, SERVICE_NAME, RouterServicer
from .supervisor import ServerState, ServerSupervisor

log = logging.getLogger("router_service")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "router.json"
DEFAULT_LISTEN = "127.0.0.1:50051"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="router-service",
        description="Supervise the stdio MCP servers of a Claude-Desktop-style config file and serve all "
        "their tools through one gRPC endpoint (mcp_router.v1.RouterService), with gRPC health and reflection.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"JSON config file with an mcpServers map and optional router options (default: {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT to serve gRPC on; port 0 picks a free port (default: {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--enhancer",
        metavar="HOST:PORT",
        default=None,
        help="address of enhancer-service; overrides router.enhancer.address in the config. Without one, "
        "Enhance answers FAILED_PRECONDITION and tool-argument enhancement and MCP sampling are off",
    )
    parser.add_argument(
        "--allow-server-management",
        action="store_true",
        help="enable AddServer and UpdateServer, which start arbitrary commands (off by default; "
        "also router.allowServerManagement in the config)",
    )
    parser.add_argument(
        "--config-poll-seconds",
        type=float,
        default=POLL_SECONDS,
        help=f"how often the config file is checked for hand edits, in seconds (default: {POLL_SECONDS:g})",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="log detail on stderr (default: info)")
    add_security_arguments(parser)
    args = parser.parse_args(argv)
    for option, address in (("--listen", args.listen), ("--enhancer", args.enhancer)):
        try:
            if address is not None:
                split_host_port(address)
        except ValueError as error:
            parser.error(f"{option}: {error}")
    return args


async def serve(args: argparse.Namespace) -> int:
    config, text = await read_config(args.config)
    if args.enhancer:
        config = dataclasses.replace(config, enhancer=dataclasses.replace(config.enhancer, address=args.enhancer))
    if args.allow_server_management:
        config = dataclasses.replace(config, allow_server_management=True)
    security = await load_security(args)
    check_listen_address(args.listen, security)
    credentials = await server_credentials(security.tls) if security.tls else None

    limits = ServerLimits(config.max_message_bytes, config.max_request_bytes)
    enhancer = await connect_enhancer(config, limits)
    router = Router(config, enhancer)
    store = ConfigStore(config, text, router.apply_config, router.events)
    router.use_store(store)
    host = ServiceHost(args.listen, limits, [SERVICE_NAME], security.interceptors(METHOD_ROLES))
    host.add_service(RouterServicer(router, security.authenticator), SERVICE_DESCRIPTOR)
    await publish_health(host, router, enhancer)
    await host.start(credentials)
    log.info(
        "config=%s servers=%d enhancer=%s tokens=%d tls=%s",
        config.path, len(config.servers), config.enhancer.address or "off", len(security.tokens), security.tls is not None,
    )

    stop = asyncio.Event()
    install_stop_signals(stop)
    await router.start()
    store.start_watching(args.config_poll_seconds)
    await stop.wait()

    log.info("shutting down grace=%.1fs", config.shutdown_grace)
    await store.stop_watching()
    await host.shut_down(config.shutdown_grace)
    await router.stop()
    if enhancer is not None:
        await enhancer.close()
    log.info("stopped")
    return 0


async def connect_enhancer(config: RouterConfig, limits: ServerLimits) -> EnhancerLink | None:
    settings = config.enhancer
    if not settings.address:
        return None
    credentials = await channel_credentials(settings.tls) if settings.tls else None
    return EnhancerLink(settings, limits, credentials)


async def publish_health(host: ServiceHost, router: Router, enhancer: EnhancerLink | None) -> None:
    """Register every health entry and keep the per-server and enhancer entries current."""

    async def publish_server(supervisor: ServerSupervisor) -> None:
        await host.set_serving(SERVER_HEALTH_PREFIX + supervisor.name, supervisor.state is ServerState.RUNNING)

    router.add_state_listener(publish_server)
    for supervisor in router.supervisors.values():
        await publish_server(supervisor)
    await host.set_serving(SERVICE_NAME, True)
    if enhancer is not None:
        # The router's health mirrors the enhancer's own, as its watch sees it.
        await host.set_serving(ENHANCER_SERVICE, False)

        async def publish_enhancer(serving: bool) -> None:
            await host.set_serving(ENHANCER_SERVICE, serving)

        enhancer.start(publish_enhancer)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        code = asyncio.run(serve(args))
    except ConfigError as error:
        print(f"router-service: invalid config: {error}", file=sys.stderr)
        code = 2
    except SecurityError as error:
        print(f"router-service: {error}", file=sys.stderr)
        code = 2
    except OSError as error:
        print(f"router-service: {error}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
