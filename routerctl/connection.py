"""The router connection of routerctl and the stdio front: its address, a token, and TLS files."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from mcp_router.auth import call_metadata
from mcp_router.security import SecurityError, TlsFiles, channel_credentials
from mcp_router.serving import ServerLimits, split_host_port

from .errors import UsageError

DEFAULT_TARGET = "127.0.0.1:50051"
TARGET_ENV = "MCP_ROUTER_TARGET"
TOKEN_ENV = "MCP_ROUTER_TOKEN"


@dataclass(frozen=True)
class RouterConnection:
    """Address and credentials of one router."""

    target: str
    # Sent as `authorization: Bearer <token>` on every call when set.
    token: str | None = None
    # Where the token came from, so that an exported host config can name the file instead of the secret.
    token_file: Path | None = None
    # TLS is on when any file is set. Without a `ca` file, the system's CA certificates verify the router.
    tls: TlsFiles | None = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...] | None:
        return call_metadata(self.token)

    async def open_channel(self) -> grpc.aio.Channel:
        options = ServerLimits().options()
        if self.tls is None:
            return grpc.aio.insecure_channel(self.target, options=options)
        try:
            credentials = await channel_credentials(self.tls)
        except SecurityError as error:
            raise UsageError(str(error)) from None
        return grpc.aio.secure_channel(self.target, credentials, options=options)

    def front_args(self) -> list[str]:
        """Return the stdio front's options for this connection, naming the token's file but never the token."""
        args = ["--target", self.target]
        if self.token_file is not None:
            args += ["--token-file", str(self.token_file.absolute())]
        if self.tls is not None:
            for option, path in (("--tls-ca", self.tls.ca), ("--tls-cert", self.tls.cert), ("--tls-key", self.tls.key)):
                if path is not None:
                    args += [option, str(path.absolute())]
        return args


def add_connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add --target, --token-file and the TLS options. With `suppress`, an unset option keeps the value given before the command."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--target",
        default=default(os.environ.get(TARGET_ENV) or DEFAULT_TARGET),
        metavar="HOST:PORT",
        help=f"address of router-service (default: ${TARGET_ENV}, else {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=default(None),
        metavar="FILE",
        help=f"file that contains the token for a router started with tokens (default: the token in ${TOKEN_ENV})",
    )
    parser.add_argument("--tls-ca", type=Path, default=default(None), metavar="FILE", help="PEM CA bundle that verifies a router serving TLS, and turns TLS on")
    parser.add_argument("--tls-cert", type=Path, default=default(None), metavar="FILE", help="PEM client certificate for mutual TLS (needs --tls-key), and turns TLS on")
    parser.add_argument("--tls-key", type=Path, default=default(None), metavar="FILE", help="PEM private key of --tls-cert")


def connection_from_args(args: argparse.Namespace) -> RouterConnection:
    """Build the connection from parsed options and the environment; a UsageError names the option at fault."""
    try:
        split_host_port(args.target)
    except ValueError as error:
        raise UsageError(f"--target: {error}") from None

    token, token_file = read_token(args.token_file)
    tls = None
    if args.tls_ca or args.tls_cert or args.tls_key:
        if bool(args.tls_cert) != bool(args.tls_key):
            raise UsageError("--tls-cert and --tls-key go together: give both for mutual TLS, or neither")
        tls = TlsFiles(cert=args.tls_cert, key=args.tls_key, ca=args.tls_ca)
    return RouterConnection(args.target, token, token_file, tls)


def read_token(token_file: Path | None) -> tuple[str | None, Path | None]:
    """Return the token from `token_file`, else from the environment, and the file it came from."""
    if token_file is None:
        token = os.environ.get(TOKEN_ENV, "").strip()
        return token or None, None
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UsageError(f"--token-file: cannot read {token_file}: {error.strerror or error}") from None
    if not token or any(character.isspace() for character in token):
        raise UsageError(f"--token-file: {token_file} must contain one token and nothing else")
    return token, token_file
