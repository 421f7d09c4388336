"""A plain gRPC-to-stdio proxy, written the obvious way: CallTool forwarded to one pipelined stdio server.

It has no config, supervision, catalogue, breaker, deadline budget or
stats, so it shows what grpc.aio plus one stdio pipe cost on this machine
without the router's features. Run as
`python -m bench.plain_proxy HOST:PORT SERVER_ARGV...`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench.clients import CHANNEL_OPTIONS, StdioClient
from mcp_router.v1 import router_pb2, router_pb2_grpc


class PlainProxy(router_pb2_grpc.RouterServiceServicer):
    """CallTool only: strip the `<server>__` prefix and forward the call."""

    def __init__(self, server: StdioClient) -> None:
        self.server = server

    async def CallTool(self, request, context):
        tool = request.tool.split("__", 1)[-1]
        result = await self.server.request("tools/call", {"name": tool, "arguments": json.loads(request.arguments_json or "{}")})
        return router_pb2.CallToolResponse(result_json=json.dumps(result), is_error=result.get("isError") is True, tool=tool)


async def serve(listen: str, server_argv: list[str]) -> None:
    server = StdioClient(server_argv, "", {})
    await server.start()
    grpc_server = grpc.aio.server(options=CHANNEL_OPTIONS)
    router_pb2_grpc.add_RouterServiceServicer_to_server(PlainProxy(server), grpc_server)
    # The health service only lets the benchmark see that the proxy is up.
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    grpc_server.add_insecure_port(listen)
    await grpc_server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await grpc_server.stop(1.0)
    await server.close()


def main() -> None:
    asyncio.run(serve(sys.argv[1], sys.argv[2:]))


if __name__ == "__main__":
    main()
