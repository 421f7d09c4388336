"""The enhancer's errors and the reasons Enhance reports.

Every lower-level failure (httpx, JSON, the breaker) is translated into one of
these classes inside the Ollama client, so the layers above see no other
library's error types. servicer.py maps the classes to gRPC status codes.
"""

from __future__ import annotations

import enum


class Reason(enum.Enum):
    """Reason for the text that Enhance returned; mirrors the EnhanceReason proto enum."""

    APPLIED = "applied"
    DISABLED = "disabled"
    OLLAMA_UNREACHABLE = "ollama_unreachable"
    CIRCUIT_OPEN = "circuit_open"
    MODEL_MISSING = "model_missing"
    TIMEOUT = "timeout"
    TOO_LONG = "too_long"
    EMPTY_OUTPUT = "empty_output"
    OLLAMA_ERROR = "ollama_error"


class EnhancerError(Exception):
    """Base class of every error the enhancer reports to its callers."""

    reason: Reason = Reason.OLLAMA_ERROR


# --- Caller errors -------------------------------------------------------------


class InvalidRequestError(EnhancerError):
    """The request is missing a field or has an invalid value."""


class EnhancementDisabledError(EnhancerError):
    """The client's rule turns enhancement off."""

    reason = Reason.DISABLED


class PromptTooLongError(EnhancerError):
    """The prompt fits the context window of none of the rule's models."""

    reason = Reason.TOO_LONG


# --- Rules ---------------------------------------------------------------------


class RulesError(EnhancerError):
    """The rules file cannot be read or fails validation."""


# --- Ollama --------------------------------------------------------------------


class OllamaError(EnhancerError):
    """Ollama responded with an error."""

    reason = Reason.OLLAMA_ERROR

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class OllamaServerError(OllamaError):
    """Ollama responded with 5xx or sent an error line in a stream, because its model runner failed."""


class OllamaBusyError(OllamaError):
    """Ollama responded with 429 or 503 to every attempt."""


class OllamaUnreachableError(OllamaError):
    """Could not connect to Ollama, or the connection broke."""

    reason = Reason.OLLAMA_UNREACHABLE


class OllamaTimeoutError(OllamaError):
    """Ollama did not respond within the call's budget."""

    reason = Reason.TIMEOUT


class ModelMissingError(OllamaError):
    """Ollama does not have the requested model (404)."""

    reason = Reason.MODEL_MISSING

    def __init__(self, message: str, *, model: str) -> None:
        super().__init__(message, status=404)
        self.model = model


class EmptyOutputError(OllamaError):
    """The model returned no text, for example only `thinking` text."""

    reason = Reason.EMPTY_OUTPUT


class CircuitOpenError(OllamaError):
    """The Ollama breaker is open, so the call was not attempted."""

    reason = Reason.CIRCUIT_OPEN

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
