"""Logging set-up shared by both services: one event per line, on stderr."""

from __future__ import annotations

import logging
import sys

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str) -> None:
    """Send log records at `level` and above to stderr."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format=LOG_FORMAT)
