"""Ollama model names: `name` and `name:latest` are the same model."""

from __future__ import annotations

DEFAULT_TAG = "latest"


def normalize_model_name(name: str) -> str:
    """Return `name` with Ollama's implicit `:latest` tag added when it has no tag.

    A colon inside a registry host (`host:5000/model`) is not a tag, so only the
    part after the last slash is checked.
    """
    name = name.strip()
    if not name:
        return name
    last_segment = name.rsplit("/", 1)[-1]
    if ":" in last_segment:
        return name
    return f"{name}:{DEFAULT_TAG}"


def same_model(left: str, right: str) -> bool:
    return normalize_model_name(left) == normalize_model_name(right)
