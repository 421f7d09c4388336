"""routerctl's exit codes and the errors that end a command with one of them."""

from __future__ import annotations

# Exit codes that scripts can rely on. The README's operator guide lists them too.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_DEADLINE = 5
EXIT_EXISTS = 6
EXIT_DENIED = 7
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failed command, with a one-line message for stderr."""

    exit_code = EXIT_FAILED


class UsageError(CommandError):
    """An option or argument is invalid, such as malformed JSON."""

    exit_code = EXIT_USAGE


class RouterUnreachable(CommandError):
    """No connection to the router could be made, or the connection was lost."""

    exit_code = EXIT_UNREACHABLE


class NotFound(CommandError):
    """The router has no server or tool with that name."""

    exit_code = EXIT_NOT_FOUND


class DeadlineExceeded(CommandError):
    """The call did not finish within its deadline (--timeout, or the server's own limit)."""

    exit_code = EXIT_DEADLINE


class AlreadyExists(CommandError):
    """A server with that name is configured already."""

    exit_code = EXIT_EXISTS


class Denied(CommandError):
    """The router rejected the call: no valid token, a role without the right, or a feature turned off."""

    exit_code = EXIT_DENIED


class Unimplemented(CommandError):
    """The router does not implement the RPC, because it is older than routerctl."""


class ToolError(CommandError):
    """The tool ran and returned a result with isError set."""
