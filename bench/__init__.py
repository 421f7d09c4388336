"""Benchmarks of the router against direct stdio, the gRPC floor and mcp-proxy (`make bench`)."""
