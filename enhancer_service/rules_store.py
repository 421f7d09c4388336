"""The running rules: loaded with aiofiles, swapped whole on reload, watched on disk."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiofiles
import aiofiles.os

from .errors import RulesError
from .rules import RuleSet, parse_rules

log = logging.getLogger(__name__)

# A rules file is a few kilobytes; a much larger file is a mistake.
MAX_RULES_FILE_BYTES = 1024 * 1024

# (modification time in ns, size, inode): any change means the file was rewritten.
FileSignature = tuple[int, int, int]


class RulesStore:
    """Owns the current RuleSet; a reload that fails keeps the previous one running."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.last_error = ""
        self.reloads = 0
        self.failed_reloads = 0
        self._rules: RuleSet | None = None
        self._signature: FileSignature | None = None
        self._lock = asyncio.Lock()

    @property
    def rules(self) -> RuleSet:
        if self._rules is None:
            raise RuntimeError("rules are used before RulesStore.load() succeeded")
        return self._rules

    async def load(self) -> RuleSet:
        """Read and validate the file, then make it the running rules; raise RulesError if invalid."""
        async with self._lock:
            signature = None
            try:
                signature = await self._stat()
                rules = parse_rules(await self._read(), self.path)
            except RulesError as error:
                # Remember the bad file's signature so the watcher retries only after the next edit.
                self._signature = signature or self._signature
                if self._rules is not None:
                    self.failed_reloads += 1
                    self.last_error = str(error)
                raise

            first_load = self._rules is None
            self._rules = rules
            self._signature = signature
            self.last_error = ""
            if not first_load:
                self.reloads += 1
            log.info(
                "rules loaded path=%s sha256=%s clients=%s models=%s",
                self.path,
                rules.sha256[:12],
                len(rules.clients),
                ",".join(rules.model_names()),
            )
            return rules

    async def watch(self, interval: float) -> None:
        """Reload whenever the file's modification time, size or inode changes; run until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                signature = await self._stat()
            except RulesError as error:
                if self.last_error != str(error):
                    log.warning("rules file check failed path=%s error=%s", self.path, error)
                    self.last_error = str(error)
                continue
            if signature == self._signature:
                continue

            log.info("rules file changed path=%s", self.path)
            try:
                await self.load()
            except RulesError as error:
                log.error("rules reload failed, keeping the running rules: %s", error)

    async def _stat(self) -> FileSignature:
        try:
            result = await aiofiles.os.stat(self.path)
        except OSError as error:
            raise RulesError(f"rules file {self.path}: cannot read it: {error.strerror or error}") from None
        return (result.st_mtime_ns, result.st_size, result.st_ino)

    async def _read(self) -> bytes:
        try:
            async with aiofiles.open(self.path, "rb") as file:
                raw = await file.read(MAX_RULES_FILE_BYTES + 1)
        except OSError as error:
            raise RulesError(f"rules file {self.path}: cannot read it: {error.strerror or error}") from None
        if len(raw) > MAX_RULES_FILE_BYTES:
            raise RulesError(f"rules file {self.path}: larger than {MAX_RULES_FILE_BYTES} bytes")
        return raw
