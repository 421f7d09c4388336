"""Security options shared by both services: tokens, TLS, and the rule for binding.

A service that can start processes is remote code execution for whoever can
reach it, so both bind 127.0.0.1 by default and refuse any other address unless
tokens are configured or the operator overrides the rule deliberately.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import aiofiles
import grpc

from .auth import AuthConfigError, AuthInterceptor, Authenticator, Role, Token, load_tokens, open_services
from .serving import split_host_port

log = logging.getLogger(__name__)

ALLOW_REMOTE_FLAG = "--allow-unauthenticated-remote"


class SecurityError(ValueError):
    """A security option is invalid, or the listen address is not allowed."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a server (or client) identity; `ca` verifies the other side."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None


@dataclass
class Security:
    tokens: list[Token] = field(default_factory=list)
    tls: TlsFiles | None = None
    protect_all: bool = False
    allow_remote_without_auth: bool = False

    @property
    def authenticator(self) -> Authenticator:
        return Authenticator(self.tokens)

    def interceptors(self, roles: Mapping[str, Role]) -> list[grpc.aio.ServerInterceptor]:
        if not self.tokens:
            return []
        return [AuthInterceptor(self.authenticator, roles, open_services(self.protect_all))]


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security")
    group.add_argument(
        "--tokens",
        type=Path,
        metavar="FILE",
        help='JSON file {"tokens": [{"name": ..., "token": ..., "role": "client" or "admin"}]}; the variables '
        "MCP_ROUTER_ADMIN_TOKEN and MCP_ROUTER_CLIENT_TOKEN add one token each. With any token, every call "
        "needs 'authorization: Bearer <token>' metadata",
    )
    group.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate chain to serve TLS with (needs --tls-key)")
    group.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    group.add_argument(
        "--tls-client-ca", type=Path, metavar="FILE", help="PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)"
    )
    group.add_argument(
        "--auth-health-and-reflection",
        action="store_true",
        help="require a token for grpc.health.v1 and server reflection too (open by default so probes and grpcurl work)",
    )
    group.add_argument(
        ALLOW_REMOTE_FLAG,
        action="store_true",
        help="allow listening on a non-loopback address without tokens; anyone who reaches the port can then call "
        "every method. Use only behind a network boundary you control, such as a container's published 127.0.0.1 port",
    )


async def load_security(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Security:
    """Build the Security object from parsed arguments; raise SecurityError naming the problem."""
    try:
        tokens = await load_tokens(args.tokens, os.environ if environ is None else environ)
    except AuthConfigError as error:
        raise SecurityError(str(error)) from None
    tls = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            raise SecurityError("TLS needs both --tls-cert and --tls-key")
        tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)
    return Security(tokens, tls, args.auth_health_and_reflection, getattr(args, "allow_unauthenticated_remote", False))


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen_address(listen: str, security: Security) -> None:
    """Reject a non-loopback listen address unless tokens are set or the override was given."""
    if listen.startswith("unix:"):
        return
    host, _ = split_host_port(listen)
    if is_loopback(host) or security.tokens:
        if not is_loopback(host) and security.tls is None:
            log.warning("listening on %s with tokens but without TLS: tokens travel in clear text", listen)
        return
    if security.allow_remote_without_auth:
        log.warning("listening on %s without authentication (%s): anyone who reaches it can call every method", listen, ALLOW_REMOTE_FLAG)
        return
    raise SecurityError(
        f"refusing to listen on {listen} without authentication: anyone who reaches that address could call "
        f"every method (the router's include starting processes). Configure tokens (--tokens FILE or MCP_ROUTER_ADMIN_TOKEN), listen on 127.0.0.1, or pass "
        f"{ALLOW_REMOTE_FLAG} to override deliberately"
    )


async def _read_bytes(path: Path, what: str) -> bytes:
    try:
        async with aiofiles.open(path, "rb") as file:
            return await file.read()
    except OSError as error:
        raise SecurityError(f"cannot read {what} {path}: {error.strerror}") from None


async def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """TLS credentials for a server; with `ca`, clients must present a certificate (mutual TLS)."""
    assert tls.cert is not None and tls.key is not None
    key = await _read_bytes(tls.key, "TLS key")
    cert = await _read_bytes(tls.cert, "TLS certificate")
    ca = await _read_bytes(tls.ca, "TLS client CA") if tls.ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


async def channel_credentials(tls: TlsFiles) -> grpc.ChannelCredentials:
    """TLS credentials for a client: `ca` verifies the server, `cert` and `key` identify the client."""
    ca = await _read_bytes(tls.ca, "TLS CA") if tls.ca else None
    key = await _read_bytes(tls.key, "TLS client key") if tls.key else None
    cert = await _read_bytes(tls.cert, "TLS client certificate") if tls.cert else None
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
