"""`router-service`: serve every configured MCP server's tools over gRPC until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from mcp_router.logs import LOG_LEVELS, configure_logging
from mcp_router.serving import ServerLimits, ServiceHost, install_stop_signals, split_host_port
from mcp_router.v1 import router_pb2_grpc

from .config import ConfigError, load_config
from .router import Router
from .servicer import SERVER_HEALTH_PREFIX, SERVICE_NAME, RouterServicer
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
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="log detail on stderr (default: info)")
    args = parser.parse_args(argv)
    try:
        split_host_port(args.listen)
    except ValueError as error:
        parser.error(str(error))
    return args


async def serve(args: argparse.Namespace) -> int:
    config = await load_config(args.config)
    router = Router(config)
    host = ServiceHost(args.listen, ServerLimits(config.max_message_bytes), [SERVICE_NAME])
    router_pb2_grpc.add_RouterServiceServicer_to_server(RouterServicer(router), host.server)

    async def publish_health(supervisor: ServerSupervisor) -> None:
        await host.set_serving(SERVER_HEALTH_PREFIX + supervisor.name, supervisor.state is ServerState.RUNNING)

    router.add_state_listener(publish_health)
    for supervisor in router.supervisors.values():
        await publish_health(supervisor)
    await host.set_serving(SERVICE_NAME, True)
    await host.start()
    log.info("config=%s servers=%d", config.path, len(config.servers))

    stop = asyncio.Event()
    install_stop_signals(stop)
    await router.start()
    await stop.wait()

    log.info("shutting down grace=%.1fs", config.shutdown_grace)
    await host.shut_down(config.shutdown_grace)
    await router.stop()
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        code = asyncio.run(serve(args))
    except ConfigError as error:
        print(f"router-service: invalid config: {error}", file=sys.stderr)
        code = 2
    except OSError as error:
        print(f"router-service: {error}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
