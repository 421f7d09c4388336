"""Bearer-token authentication with two roles, as a grpc.aio server interceptor.

Callers send `authorization: Bearer <token>` metadata. A `client` token may
list, call, forward, enhance and read stats; an `admin` token may also change
servers, reset breakers, reload rules and clear caches. Tokens are compared in
constant time.
"""

from __future__ import annotations

import enum
import hmac
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Iterable, Mapping

import aiofiles
import grpc

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
BEARER = "Bearer "
# Environment variables that add one token each.
ADMIN_TOKEN_ENV = "MCP_ROUTER_ADMIN_TOKEN"
CLIENT_TOKEN_ENV = "MCP_ROUTER_CLIENT_TOKEN"
MIN_TOKEN_CHARS = 16
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")
# Health and reflection need only a client token when they are protected at all.
INFRASTRUCTURE_SERVICES = (HEALTH_SERVICE, *REFLECTION_SERVICES)
# Rejected calls are logged at most once per this many seconds, with the running count.
DENIAL_LOG_INTERVAL_SECONDS = 10.0


class Role(enum.IntEnum):
    CLIENT = 1
    ADMIN = 2


class AuthConfigError(ValueError):
    """The tokens file or a token variable is missing or invalid."""


@dataclass(frozen=True)
class Token:
    name: str
    secret: str
    role: Role


def parse_tokens(text: str, source: str) -> list[Token]:
    """Parse a tokens file: {"tokens": [{"name": ..., "token": ..., "role": "client"|"admin"}]}."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise AuthConfigError(f"{source}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    entries = document.get("tokens") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AuthConfigError(f'{source}: expected {{"tokens": [{{"name": ..., "token": ..., "role": "client" or "admin"}}]}}')
    tokens = []
    for index, entry in enumerate(entries):
        where = f"{source}: tokens[{index}]"
        if not isinstance(entry, dict):
            raise AuthConfigError(f"{where}: must be an object")
        name, secret, role = entry.get("name"), entry.get("token"), entry.get("role")
        if not isinstance(name, str) or not name:
            raise AuthConfigError(f"{where}.name: missing")
        tokens.append(_token(name, secret, role, f"{where}"))
    return tokens


def _token(name: str, secret: object, role: object, where: str) -> Token:
    if not isinstance(secret, str) or len(secret) < MIN_TOKEN_CHARS or secret != secret.strip():
        raise AuthConfigError(f"{where}.token: must be a string of at least {MIN_TOKEN_CHARS} characters without surrounding spaces")
    if role not in ("client", "admin"):
        raise AuthConfigError(f'{where}.role: must be "client" or "admin"')
    return Token(name, secret, Role.ADMIN if role == "admin" else Role.CLIENT)


async def load_tokens(path: Path | None, environ: Mapping[str, str]) -> list[Token]:
    """Read tokens from a file (with aiofiles) and from the two token variables."""
    tokens: list[Token] = []
    if path is not None:
        try:
            async with aiofiles.open(path, "r", encoding="utf-8") as file:
                tokens.extend(parse_tokens(await file.read(), str(path)))
        except OSError as error:
            raise AuthConfigError(f"{path}: cannot read the tokens file: {error.strerror}") from None
    for variable, role in ((ADMIN_TOKEN_ENV, "admin"), (CLIENT_TOKEN_ENV, "client")):
        if environ.get(variable):
            tokens.append(_token(variable, environ[variable], role, variable))
    secrets = [token.secret for token in tokens]
    if len(set(secrets)) != len(secrets):
        raise AuthConfigError("the same token appears twice; give every caller its own token")
    return tokens


class Authenticator:
    """Finds the token a call presents, comparing against every known token in constant time."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = list(tokens)

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Token | None:
        presented = _bearer(metadata)
        if presented is None:
            return None
        found = None
        encoded = presented.encode("utf-8", "surrogatepass")
        for token in self.tokens:
            # Every token is compared, so the time taken does not tell which one matched.
            if hmac.compare_digest(encoded, token.secret.encode("utf-8")):
                found = token
        return found


def _bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        # The scheme name is case-insensitive (RFC 6750 follows RFC 7235 here).
        if key == AUTHORIZATION and isinstance(value, str) and value[: len(BEARER)].lower() == BEARER.lower():
            return value[len(BEARER) :].strip()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without a valid token (UNAUTHENTICATED) or with too weak a role (PERMISSION_DENIED).

    Methods missing from `roles` need an admin token, so a new method is closed
    until someone decides who may call it.
    """

    def __init__(self, authenticator: Authenticator, roles: Mapping[str, Role], open_services: Iterable[str] = ()) -> None:
        self.authenticator = authenticator
        self.roles = dict(roles)
        self.open_services = set(open_services)
        self._denials = 0
        self._last_denial_log = 0.0

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        method = details.method
        service = method.split("/")[1] if method.count("/") >= 2 else ""
        if service in self.open_services:
            return await continuation(details)

        token = self.authenticator.identify(details.invocation_metadata)
        if token is None:
            presented = _bearer(details.invocation_metadata) is not None
            message = "invalid token" if presented else "missing token: send the metadata 'authorization: Bearer <token>'"
            return self._deny(grpc.StatusCode.UNAUTHENTICATED, message, method)
        required = self.roles.get(method, Role.CLIENT if service in INFRASTRUCTURE_SERVICES else Role.ADMIN)
        if token.role < required:
            return self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"token '{token.name}' has role {token.role.name.lower()}; {method} needs role {required.name.lower()}",
                method,
            )
        return await continuation(details)

    def _deny(self, code: grpc.StatusCode, message: str, method: str) -> grpc.RpcMethodHandler:
        self._denials += 1
        now = time.monotonic()
        if now - self._last_denial_log >= DENIAL_LOG_INTERVAL_SECONDS:
            log.warning("auth rejected method=%s code=%s rejected_total=%d reason=%s", method, code.name, self._denials, message)
            self._last_denial_log = now

        async def reject(request: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(code, message)

        # Raw bytes in, nothing out: the call is rejected before its request is decoded.
        return grpc.unary_unary_rpc_method_handler(reject)


def open_services(protect_all: bool) -> set[str]:
    """Services reachable without a token: health and reflection, unless `protect_all`."""
    return set() if protect_all else {HEALTH_SERVICE, *REFLECTION_SERVICES}


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """Metadata that carries `token` on an outgoing call."""
    return ((AUTHORIZATION, BEARER + token),) if token else None
