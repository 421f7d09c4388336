"""`mcp-router-health`: exit 0 when a grpc.health.v1 service is SERVING, 1 otherwise.

Container health checks run it; it needs no grpcurl or grpc_health_probe binary.
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mcp-router-health", description="Check one gRPC health service and exit 0 only when it is SERVING.")
    parser.add_argument("--target", default="127.0.0.1:50051", help="HOST:PORT of the service (default: 127.0.0.1:50051)")
    parser.add_argument("--service", default="", help='health service name; "" is the server as a whole (default: "")')
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the response (default: 3)")
    args = parser.parse_args(argv)

    with grpc.insecure_channel(args.target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as error:
            print(f"{args.target} service {args.service!r}: {error.code().name}: {error.details()}", file=sys.stderr)
            sys.exit(1)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{args.target} service {args.service!r}: {status}")
    sys.exit(0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1)


if __name__ == "__main__":
    main()
