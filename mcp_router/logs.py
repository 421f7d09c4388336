"""Logging set-up shared by both services: one event per line, on stderr."""

from __future__ import annotations

import logging
import sys

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str) -> None:
    """Send log records at `level` and above to stderr."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format=LOG_FORMAT)
    # grpc's own debug records (one per event-loop lookup) would bury the service's lines.
    logging.getLogger("grpc").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
