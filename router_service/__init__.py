"""The router service: supervises stdio MCP servers and serves their tools over gRPC."""
