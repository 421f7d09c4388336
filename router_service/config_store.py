"""The config file as a store: validated edits, atomic writes, and reloads of hand edits.

Edits change the file's raw JSON document, so keys the router does not know
survive. A write goes to a temporary file in the same folder, is fsynced and
then renamed over the config, so a crash at any moment leaves either the old or
the new file. The previous version is kept as `<file>.bak`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Awaitable, Callable

import aiofiles
import aiofiles.os

from .config import SERVER_NAME, ConfigError, RouterConfig, check_paths, parse_config
from .errors import InvalidRequest, ServerExists, ServerNotFound, shown
from .events import CONFIG, EventBus

log = logging.getLogger(__name__)

# How often the file is checked for hand edits.
POLL_SECONDS = 1.0
FILE_MODE = 0o600

ApplyConfig = Callable[[RouterConfig], Awaitable[None]]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ConfigStore:
    """Serializes every change to the config file and applies it to the running router."""

    def __init__(self, config: RouterConfig, text: str, apply: ApplyConfig, events: EventBus) -> None:
        self.path = config.path
        self.config = config
        self._apply = apply
        self._events = events
        self._digest = _digest(text)
        self._lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None

    # Edits through the API

    async def add_server(self, name: str, entry_json: str) -> RouterConfig:
        return await self._edit(name, entry_json, must_exist=False)

    async def update_server(self, name: str, entry_json: str) -> RouterConfig:
        return await self._edit(name, entry_json, must_exist=True)

    async def remove_server(self, name: str) -> RouterConfig:
        return await self._edit(name, None, must_exist=True)

    async def _edit(self, name: str, entry_json: str | None, must_exist: bool) -> RouterConfig:
        if not SERVER_NAME.match(name):
            raise InvalidRequest(f"invalid server name {shown(name)!r}: use 1 to 64 letters, digits, '_' or '-'")
        entry = None
        if entry_json is not None:
            try:
                entry = json.loads(entry_json)
            except json.JSONDecodeError as error:
                raise InvalidRequest(f"config_json is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
            except RecursionError:
                raise InvalidRequest("config_json is nested too deeply") from None
            if not isinstance(entry, dict):
                raise InvalidRequest('config_json must be a JSON object such as {"command": "npx", "args": ["-y", "pkg"]}')

        async with self._lock:
            # Start from the file as it is now, so a hand edit made meanwhile is kept.
            text = await self._read()
            try:
                document = json.loads(text.removeprefix("\ufeff"))
                servers = document.setdefault("mcpServers", {})
            except (json.JSONDecodeError, AttributeError, RecursionError):
                raise InvalidRequest(f"{self.path} is not valid JSON now; fix the file by hand first") from None
            if must_exist and name not in servers:
                raise ServerNotFound(f"server '{name}' is not in {self.path}")
            if not must_exist and name in servers:
                raise ServerExists(f"server '{name}' already exists in {self.path}; use UpdateServer to change it")
            if entry is None:
                del servers[name]
            else:
                servers[name] = entry

            new_text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            try:
                config = parse_config(new_text, self.path)
                await check_paths(config)
            except ConfigError as error:
                raise InvalidRequest(str(error)) from None
            await self._write(new_text)
            if entry is None:
                action = "removed"
            elif must_exist:
                action = "updated"
            else:
                action = "added"
            await self._apply_locked(config, action, f"server '{name}' {action} through the API")
            return config

    # Hand edits

    def start_watching(self, poll_seconds: float = POLL_SECONDS) -> None:
        self._watch = asyncio.create_task(self._watch_file(poll_seconds), name="config-watch")

    async def stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)

    async def _watch_file(self, poll_seconds: float) -> None:
        while True:
            await asyncio.sleep(poll_seconds)
            try:
                await self.reload_if_changed()
            except Exception:  # The watch must outlive any one bad reload.
                log.exception("config=%s reload failed", self.path)

    async def reload_if_changed(self) -> bool:
        """Apply the file if its content changed since the router last read or wrote it."""
        async with self._lock:
            try:
                text = await self._read()
            except ConfigError as error:
                log.warning("config=%s reload skipped: %s", self.path, error)
                return False
            digest = _digest(text)
            if digest == self._digest:
                return False
            self._digest = digest
            try:
                config = parse_config(text, self.path)
                await check_paths(config)
            except ConfigError as error:
                log.warning("config=%s edit rejected; the running servers keep going: %s", self.path, error)
                self._events.publish(CONFIG, "", action="rejected", detail=str(error))
                return False
            await self._apply_locked(config, "reloaded", "the file changed on disk")
            return True

    # File access

    async def _read(self) -> str:
        try:
            async with aiofiles.open(self.path, "r", encoding="utf-8") as file:
                return await file.read()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{self.path}: cannot read the config file: {error}") from None

    async def _write(self, text: str) -> None:
        """Write `text` atomically and keep the previous file as .bak."""
        folder = self.path.parent
        temporary = folder / f".{self.path.name}.{os.getpid()}.tmp"
        backup = self.path.with_name(self.path.name + ".bak")
        try:
            if await aiofiles.os.path.exists(self.path):
                await self._write_synced(backup.with_name(backup.name + ".tmp"), await self._read())
                await aiofiles.os.replace(backup.with_name(backup.name + ".tmp"), backup)
            await self._write_synced(temporary, text)
            await aiofiles.os.replace(temporary, self.path)
            await asyncio.to_thread(_fsync_folder, folder)
        except OSError as error:
            raise InvalidRequest(f"{self.path}: cannot write the config file: {error.strerror}") from None
        finally:
            if await aiofiles.os.path.exists(temporary):
                await aiofiles.os.remove(temporary)
        self._digest = _digest(text)
        log.info("config=%s written sha256=%s", self.path, self._digest[:12])

    @staticmethod
    async def _write_synced(path: Path, text: str) -> None:
        async with aiofiles.open(path, "w", encoding="utf-8") as file:
            await asyncio.to_thread(os.chmod, path, FILE_MODE)
            await file.write(text)
            await file.flush()
            await asyncio.to_thread(os.fsync, file.fileno())

    async def _apply_locked(self, config: RouterConfig, action: str, detail: str) -> None:
        self.config = config
        log.info("config=%s %s: %s", self.path, action, detail)
        self._events.publish(CONFIG, "", action=action, detail=detail)
        await self._apply(config)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
