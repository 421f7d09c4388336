"""The gRPC floor: a grpc.aio server with only the health service, in its own process.

A health Check against it costs what any Python grpc.aio unary call costs on
this machine, with no application work, so it is the floor for the router.
Run as `python -m bench.floor_server HOST:PORT`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def serve(listen: str) -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(listen)
    await server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main() -> None:
    # asyncio's own loop, as the router's, so the two are comparable.
    asyncio.run(serve(sys.argv[1]))


if __name__ == "__main__":
    main()
