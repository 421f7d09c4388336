"""The router's config file: Claude Desktop's `mcpServers` map plus router options.

The file is read with aiofiles and validated into typed objects here; nothing
else in the router sees raw JSON config. Every error names the file, the
server and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from mcp_router.breaker import BreakerSettings
from mcp_router.security import TlsFiles
from mcp_router.serving import split_host_port

# Matches ${VAR} and ${VAR:-default}.
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RESTART_POLICIES = ("always", "on-failure", "never")
MIB = 1024 * 1024


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class ServerSettings:
    """Router options of one server; the `router` section sets defaults for all."""

    request_timeout: float = 60.0
    startup_timeout: float = 120.0
    restart: str = "on-failure"
    # A start counts as successful once the process stayed up this long after its handshake.
    min_uptime: float = 2.0
    max_start_failures: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    # 0 turns the periodic MCP ping off.
    ping_interval: float = 0.0
    ping_timeout: float = 5.0
    max_line_bytes: int = 64 * MIB
    stderr_tail_lines: int = 200
    # Each stage of a stop: after closing stdin, then after SIGTERM.
    stop_timeout: float = 5.0
    roots: tuple[dict[str, Any], ...] = ()
    # Calls in flight on this server at once; more get RESOURCE_EXHAUSTED.
    max_in_flight: int = 256


@dataclass(frozen=True)
class ServerConfig:
    """One entry of `mcpServers`, with ${VAR} references already expanded."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    enabled: bool = True
    settings: ServerSettings = field(default_factory=ServerSettings)
    # Tool name -> names of its string arguments that CallTool with `enhance` rewrites.
    enhance: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        return [self.command, *self.args]


@dataclass(frozen=True)
class EnhancerSettings:
    """Connection settings of the enhancer service; `address` None turns enhancement off."""

    address: str | None = None
    # Cap on one enhancer call; the caller's remaining deadline minus `margin` may cut it.
    budget: float = 10.0
    margin: float = 0.05
    breaker: BreakerSettings = field(default_factory=lambda: BreakerSettings(failure_threshold=3, recovery_timeout=10.0))
    # Advertise MCP sampling to servers and respond to it through the enhancer.
    sampling: bool = True
    # Bearer token sent to the enhancer, when it requires one.
    token: str | None = None
    # TLS to the enhancer: `ca` verifies it; `cert` and `key` identify the router (mutual TLS).
    tls: TlsFiles | None = None


@dataclass(frozen=True)
class RouterConfig:
    """The whole validated config file."""

    path: Path
    servers: dict[str, ServerConfig]
    defaults: ServerSettings
    max_message_bytes: int = 64 * MIB
    shutdown_grace: float = 10.0
    enhancer: EnhancerSettings = field(default_factory=EnhancerSettings)
    # AddServer and UpdateServer run arbitrary commands, so they are off unless enabled.
    allow_server_management: bool = False
    # Largest request the gRPC server accepts, and largest arguments_json of one call.
    max_request_bytes: int = 32 * MIB
    max_arguments_bytes: int = 16 * MIB
    # Calls one client (token, x-client-name or connection) may have in flight at once.
    max_in_flight_per_client: int = 64


_SETTING_KEYS = {
    "requestTimeoutSeconds": ("request_timeout", float),
    "startupTimeoutSeconds": ("startup_timeout", float),
    "restart": ("restart", str),
    "minUptimeSeconds": ("min_uptime", float),
    "maxStartFailures": ("max_start_failures", int),
    "backoffInitialSeconds": ("backoff_initial", float),
    "backoffMaxSeconds": ("backoff_max", float),
    "pingIntervalSeconds": ("ping_interval", float),
    "pingTimeoutSeconds": ("ping_timeout", float),
    "maxLineBytes": ("max_line_bytes", int),
    "stderrTailLines": ("stderr_tail_lines", int),
    "stopTimeoutSeconds": ("stop_timeout", float),
    "breaker": ("breaker", dict),
    "roots": ("roots", list),
    "maxInFlight": ("max_in_flight", int),
}
_GLOBAL_KEYS = {
    "maxMessageBytes",
    "shutdownGraceSeconds",
    "enhancer",
    "allowServerManagement",
    "maxRequestBytes",
    "maxArgumentsBytes",
    "maxInFlightPerClient",
}


class _Reader:
    """Validation context: builds messages that name the file and the field."""

    def __init__(self, path: Path, environ: dict[str, str]) -> None:
        self.path = path
        self.environ = environ

    def error(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}")

    def expand(self, text: str, where: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            raise self.error(where, f"environment variable {name} is not set (write ${{{name}:-default}} to allow a default)")

        return _VARIABLE.sub(substitute, text)

    def process_text(self, text: str, where: str) -> str:
        """Expand ${VAR} in a string that becomes part of a process's argv or environment."""
        expanded = self.expand(text, where)
        if "\0" in expanded:
            raise self.error(where, "contains a NUL character, which no command line or environment can hold")
        try:
            expanded.encode("utf-8")
        except UnicodeEncodeError:
            raise self.error(where, "contains a lone UTF-16 surrogate, which is not valid Unicode") from None
        return expanded

    def number(self, value: Any, where: str, kind: type, minimum: float) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(where, f"must be a number, got {json.dumps(value)[:100]}")
        if not math.isfinite(value):
            raise self.error(where, f"must be a finite number, got {value}")
        if kind is int and not float(value).is_integer():
            raise self.error(where, f"must be a whole number, got {value}")
        if value < minimum:
            raise self.error(where, f"must be at least {minimum}, got {value}")
        return kind(value)


def _parse_settings(reader: _Reader, raw: dict[str, Any], base: ServerSettings, where: str) -> ServerSettings:
    changes: dict[str, Any] = {}
    for key, (attribute, kind) in _SETTING_KEYS.items():
        if key not in raw:
            continue
        value, field_where = raw[key], f"{where}.{key}"
        if key == "restart":
            if value not in RESTART_POLICIES:
                raise reader.error(field_where, f"must be one of {', '.join(RESTART_POLICIES)}, got {json.dumps(value)}")
            changes[attribute] = value
        elif key == "breaker":
            changes[attribute] = _parse_breaker(reader, value, base.breaker, field_where)
        elif key == "roots":
            changes[attribute] = _parse_roots(reader, value, field_where)
        else:
            minimum = 1 if key in ("maxStartFailures", "maxLineBytes", "stderrTailLines", "maxInFlight") else 0
            changes[attribute] = reader.number(value, field_where, kind, minimum)
    settings = replace(base, **changes)
    if settings.backoff_max < settings.backoff_initial:
        raise reader.error(f"{where}.backoffMaxSeconds", "must not be less than backoffInitialSeconds")
    if settings.request_timeout <= 0 or settings.startup_timeout <= 0:
        raise reader.error(where, "requestTimeoutSeconds and startupTimeoutSeconds must be greater than 0")
    return settings


def _parse_breaker(reader: _Reader, value: Any, base: BreakerSettings, where: str) -> BreakerSettings:
    if not isinstance(value, dict):
        raise reader.error(where, "must be an object with failureThreshold, recoveryTimeoutSeconds, halfOpenMaxCalls")
    known = {"failureThreshold": "failure_threshold", "recoveryTimeoutSeconds": "recovery_timeout", "halfOpenMaxCalls": "half_open_max_calls"}
    for key in value:
        if key not in known:
            raise reader.error(f"{where}.{key}", f"unknown breaker option; expected one of {', '.join(known)}")
    return BreakerSettings(
        failure_threshold=reader.number(value.get("failureThreshold", base.failure_threshold), f"{where}.failureThreshold", int, 1),
        recovery_timeout=reader.number(value.get("recoveryTimeoutSeconds", base.recovery_timeout), f"{where}.recoveryTimeoutSeconds", float, 0),
        half_open_max_calls=reader.number(value.get("halfOpenMaxCalls", base.half_open_max_calls), f"{where}.halfOpenMaxCalls", int, 1),
    )


def _parse_roots(reader: _Reader, value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise reader.error(where, 'must be a list of file:// URIs or {"uri": ..., "name": ...} objects')
    roots = []
    for index, root in enumerate(value):
        if isinstance(root, str):
            root = {"uri": root}
        if not isinstance(root, dict) or not isinstance(root.get("uri"), str) or not root["uri"].startswith("file://"):
            raise reader.error(f"{where}[{index}]", 'must be a file:// URI or an object {"uri": "file://...", "name": "..."}')
        roots.append(root)
    return tuple(roots)


def _parse_server(reader: _Reader, name: str, raw: Any, defaults: ServerSettings) -> ServerConfig:
    where = f"mcpServers.{name}"
    if not SERVER_NAME.match(name):
        raise reader.error(where, "invalid server name: use 1 to 64 letters, digits, '_' or '-'")
    if not isinstance(raw, dict):
        raise reader.error(where, "must be an object with at least a command")
    server_type = raw.get("type", "stdio")
    if server_type != "stdio":
        raise reader.error(f"{where}.type", f"only stdio servers are supported, got {json.dumps(server_type)}")

    command = raw.get("command")
    if command is None or (isinstance(command, str) and not command.strip()):
        raise reader.error(f"{where}.command", "missing or empty: the program to start, for example \"npx\"")
    if not isinstance(command, str):
        raise reader.error(f"{where}.command", f"must be a string, got {json.dumps(command)[:100]}")
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise reader.error(f"{where}.args", "must be a list of strings")
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(value, str) for value in env.values()):
        raise reader.error(f"{where}.env", "must be an object whose values are strings")
    cwd = raw.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise reader.error(f"{where}.cwd", "must be a string path")
    enabled = raw.get("enabled", not raw.get("disabled", False))
    if not isinstance(enabled, bool) or not isinstance(raw.get("disabled", False), bool):
        raise reader.error(f"{where}.enabled", "enabled and disabled must be true or false")
    if "enabled" in raw and "disabled" in raw and raw["enabled"] == raw["disabled"]:
        raise reader.error(f"{where}.enabled", "enabled and disabled contradict each other; keep one of them")
    for key in env:
        if not key or "=" in key or "\0" in key:
            raise reader.error(f"{where}.env", f"invalid variable name {json.dumps(key)[:100]}: it must be non-empty without '=' or NUL")

    return ServerConfig(
        name=name,
        command=reader.process_text(command, f"{where}.command"),
        args=tuple(reader.process_text(arg, f"{where}.args[{index}]") for index, arg in enumerate(args)),
        env={key: reader.process_text(value, f"{where}.env.{key}") for key, value in env.items()},
        cwd=reader.process_text(cwd, f"{where}.cwd") if cwd is not None else None,
        enabled=enabled,
        settings=_parse_settings(reader, raw, defaults, where),
        enhance=_parse_enhance(reader, raw.get("enhance", {}), f"{where}.enhance"),
    )


def _parse_enhance(reader: _Reader, value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not all(
        isinstance(arguments, list) and all(isinstance(name, str) and name for name in arguments) for arguments in value.values()
    ):
        raise reader.error(where, 'must map tool names to lists of argument names, for example {"search": ["query"]}')
    return {tool: tuple(arguments) for tool, arguments in value.items()}


def _parse_enhancer(reader: _Reader, value: Any) -> EnhancerSettings:
    where = "router.enhancer"
    if not isinstance(value, dict):
        raise reader.error(where, 'must be an object such as {"address": "127.0.0.1:50052"}')
    known = {"address", "budgetSeconds", "marginSeconds", "breaker", "sampling", "token", "tls"}
    for key in value:
        if key not in known:
            raise reader.error(f"{where}.{key}", f"unknown option; expected one of {', '.join(sorted(known))}")

    base = EnhancerSettings()
    address = value.get("address")
    if address is not None:
        if not isinstance(address, str):
            raise reader.error(f"{where}.address", "must be a HOST:PORT string")
        address = reader.expand(address, f"{where}.address") or None
        if address is not None:
            try:
                split_host_port(address)
            except ValueError as error:
                raise reader.error(f"{where}.address", str(error)) from None

    sampling = value.get("sampling", base.sampling)
    if not isinstance(sampling, bool):
        raise reader.error(f"{where}.sampling", "must be true or false")
    token = value.get("token", "${MCP_ROUTER_ENHANCER_TOKEN:-}")
    if not isinstance(token, str):
        raise reader.error(f"{where}.token", "must be a string, for example \"${ENHANCER_TOKEN}\"")

    tls = value.get("tls")
    if tls is not None:
        if not isinstance(tls, dict) or not set(tls) <= {"ca", "cert", "key"} or not all(isinstance(path, str) for path in tls.values()):
            raise reader.error(f"{where}.tls", 'must be an object {"ca": FILE, "cert": FILE, "key": FILE}; each key is optional')
        if ("cert" in tls) != ("key" in tls):
            raise reader.error(f"{where}.tls", "cert and key go together")
        paths = {key: Path(reader.expand(path, f"{where}.tls.{key}")) for key, path in tls.items()}
        tls = TlsFiles(paths.get("cert"), paths.get("key"), paths.get("ca"))

    return EnhancerSettings(
        address=address,
        budget=reader.number(value.get("budgetSeconds", base.budget), f"{where}.budgetSeconds", float, 0.01),
        margin=reader.number(value.get("marginSeconds", base.margin), f"{where}.marginSeconds", float, 0),
        breaker=_parse_breaker(reader, value["breaker"], base.breaker, f"{where}.breaker") if "breaker" in value else base.breaker,
        sampling=sampling,
        token=reader.expand(token, f"{where}.token") or None,
        tls=tls,
    )


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys without a word; a config should not.
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def parse_config(text: str, path: Path, environ: dict[str, str] | None = None) -> RouterConfig:
    """Validate the text of a config file; raise ConfigError naming what is wrong."""
    reader = _Reader(path, dict(os.environ) if environ is None else environ)
    try:
        raw = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise ConfigError(f"{path}: JSON nested too deeply") from None
    except _DuplicateKey as error:
        raise ConfigError(f"{path}: the key {json.dumps(error.key)[:100]} appears twice in one object; keep one") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object with an mcpServers map")

    router = raw.get("router", {})
    if not isinstance(router, dict):
        raise reader.error("router", "must be an object")
    for key in router:
        if key not in _SETTING_KEYS and key not in _GLOBAL_KEYS:
            raise reader.error(f"router.{key}", "unknown option")
    defaults = _parse_settings(reader, router, ServerSettings(), "router")
    max_message_bytes = reader.number(router.get("maxMessageBytes", 64 * MIB), "router.maxMessageBytes", int, 4 * MIB)
    shutdown_grace = reader.number(router.get("shutdownGraceSeconds", 10.0), "router.shutdownGraceSeconds", float, 0)

    allow_management = router.get("allowServerManagement", False)
    if not isinstance(allow_management, bool):
        raise reader.error("router.allowServerManagement", "must be true or false")

    servers_raw = raw.get("mcpServers")
    if not isinstance(servers_raw, dict):
        raise reader.error("mcpServers", "missing or not an object; it maps server names to {command, args, env, cwd}")
    servers = {name: _parse_server(reader, name, entry, defaults) for name, entry in servers_raw.items()}
    return RouterConfig(
        path=path,
        servers=servers,
        defaults=defaults,
        max_message_bytes=max_message_bytes,
        shutdown_grace=shutdown_grace,
        enhancer=_parse_enhancer(reader, router.get("enhancer", {})),
        allow_server_management=allow_management,
        max_request_bytes=reader.number(router.get("maxRequestBytes", 32 * MIB), "router.maxRequestBytes", int, 1024),
        max_arguments_bytes=reader.number(router.get("maxArgumentsBytes", 16 * MIB), "router.maxArgumentsBytes", int, 2),
        max_in_flight_per_client=reader.number(router.get("maxInFlightPerClient", 64), "router.maxInFlightPerClient", int, 1),
    )


async def check_paths(config: RouterConfig) -> None:
    """Raise ConfigError for a server whose cwd is not an existing directory."""
    for name, server in config.servers.items():
        if server.cwd is not None and not await aiofiles.os.path.isdir(server.cwd):
            raise ConfigError(f"{config.path}: mcpServers.{name}.cwd: directory not found: {server.cwd}")


async def read_config(path: Path, environ: dict[str, str] | None = None) -> tuple[RouterConfig, str]:
    """Read and validate a config file without blocking the event loop; return it with its text."""
    try:
        async with aiofiles.open(path, "r", encoding="utf-8") as file:
            text = await file.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not valid UTF-8 at byte {error.start}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None
    config = parse_config(text, path, environ)
    await check_paths(config)
    return config, text


async def load_config(path: Path, environ: dict[str, str] | None = None) -> RouterConfig:
    """Read and validate a config file without blocking the event loop."""
    config, _ = await read_config(path, environ)
    return config
