"""The router's errors. The gRPC servicer maps each class to one status code."""

from __future__ import annotations


# Caller-supplied names are cut to this length in messages, so a hostile name
# cannot blow up an error's size.
MAX_SHOWN_CHARS = 200


def shown(name: str) -> str:
    """Return `name` for an error message, cut short if it is long."""
    if len(name) <= MAX_SHOWN_CHARS:
        return name
    return f"{name[:MAX_SHOWN_CHARS]}... ({len(name)} characters)"


class RouterError(Exception):
    """Base class of every error the router reports to a caller."""


# Caller errors


class ServerNotFound(RouterError):
    """No server with this name is configured."""


class ServerExists(RouterError):
    """AddServer named a server that is already configured."""


class ManagementDisabled(RouterError):
    """AddServer or UpdateServer while server management is off."""


class ToolNotFound(RouterError):
    """No running server has a tool with this name."""


class AmbiguousTool(RouterError):
    """A bare tool name that more than one server has."""


class InvalidArguments(RouterError):
    """The tool arguments are not a JSON object."""


class InvalidRequest(RouterError):
    """A forwarded JSON-RPC request is malformed or not allowed."""


# Server state and transport errors


class ServerUnavailable(RouterError):
    """The server is not running, its breaker is open, or it died during the call."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SessionClosed(ServerUnavailable):
    """The server's stdio session ended (exit, EOF or a failed write)."""


class StartupFailed(RouterError):
    """The server process did not start or did not complete the MCP handshake."""


class UpstreamTimeout(RouterError):
    """The server did not respond within the call's time budget."""


class LimitExceeded(RouterError):
    """A size or in-flight limit was reached; the caller may retry later or send less."""


class MessageTooLarge(RouterError):
    """The server's reply exceeded the configured maximum message size."""


class UpstreamError(RouterError):
    """The server responded with a JSON-RPC error."""

    def __init__(self, message: str, code: int, error_json: str) -> None:
        super().__init__(message)
        self.code = code
        self.error_json = error_json


# The enhancer


class EnhancerNotConfigured(RouterError):
    """The router was started without an enhancer address."""


class EnhancerFailed(RouterError):
    """The enhancer responded with an error status, or could not be reached."""

    def __init__(self, code: object, message: str) -> None:
        super().__init__(message)
        # A grpc.StatusCode; passed through to the router's caller unchanged.
        self.code = code
