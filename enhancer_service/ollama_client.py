"""The Ollama HTTP client: one shared httpx.AsyncClient behind the circuit breaker.

Every failure leaves this module as an errors.OllamaError subclass. The breaker
counts transport failures, timeouts and 5xx responses. It ignores 4xx responses
such as a missing model, because those do not mean that Ollama is unhealthy.
"""

from __future__ import annotations

import asyncio
import json
import os
import logging
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

import httpx

from mcp_router import breaker as breaker_module
from mcp_router.breaker import CircuitBreaker, Outcome

from .errors import (
    CircuitOpenError,
    EmptyOutputError,
    ModelMissingError,
    OllamaBusyError,
    OllamaError,
    OllamaServerError,
    OllamaTimeoutError,
    OllamaUnreachableError,
)
from .model_names import normalize_model_name
from .settings import OllamaSettings

log = logging.getLogger(__name__)

# Larger responses are cut off and reported as an Ollama error, because a
# rewritten prompt or a sampling reply is far smaller.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# Bytes of an error body kept for the message.
MAX_ERROR_BODY_BYTES = 4096
# HTTP statuses that mean "busy, try again later".
BUSY_STATUSES = (429, 503)

T = TypeVar("T")


@dataclass(frozen=True)
class ChatResult:
    """The parts of an /api/chat response that the enhancer uses."""

    model: str
    content: str
    done_reason: str
    # None when Ollama left the count out, for example for a fully cached prompt.
    prompt_eval_count: int | None
    eval_count: int | None


@dataclass(frozen=True)
class ModelInfo:
    """One entry of /api/tags."""

    name: str
    size_bytes: int
    digest: str
    modified_at: str
    family: str
    parameter_size: str
    quantization_level: str


class OllamaClient:
    """Calls Ollama's /api/chat, /api/tags and /api/version with bounded time and retries."""

    def __init__(self, settings: OllamaSettings, breaker: CircuitBreaker) -> None:
        self.settings = settings
        self.url = settings.url
        self.breaker = breaker
        self._http = httpx.AsyncClient(
            base_url=settings.url,
            timeout=settings.timeouts.to_httpx(),
            limits=settings.limits.to_httpx(),
            # OLLAMA_HOST-style settings must not be overridden by HTTP_PROXY.
            trust_env=False,
        )
        # None until the first probe or call finishes.
        self.reachable: bool | None = None
        self.last_error = ""
        self.version = ""
        self._listeners: list[Callable[[], None]] = []

    async def aclose(self) -> None:
        await self._http.aclose()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever reachability may have changed."""
        self._listeners.append(listener)

    # --- Public calls ----------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        budget: float,
    ) -> ChatResult:
        """Send one chat request and return the model's reply.

        Raise an OllamaError subclass on failure: EmptyOutputError when the model
        returned only whitespace or only `thinking` text.
        """
        model = normalize_model_name(model)
        body = {
            "model": model,
            "messages": messages,
            "stream": self.settings.stream,
            # Top level, not in options: thinking models otherwise spend the
            # budget on `thinking` text and may leave `content` empty.
            "think": False,
            "options": options,
        }
        result = await self._guarded(lambda: self._with_retries(lambda: self._chat_once(body), budget), budget)
        if not result.content.strip():
            raise EmptyOutputError(f"model {model!r} returned no text (only whitespace or thinking text)")
        return result

    async def list_models(self, budget: float) -> list[ModelInfo]:
        """Return the models installed in Ollama, from /api/tags."""
        payload = await self._guarded(lambda: self._get_json("/api/tags"), budget)
        models = []
        for entry in payload.get("models") or []:
            details = entry.get("details") or {}
            models.append(
                ModelInfo(
                    name=str(entry.get("name") or entry.get("model") or ""),
                    size_bytes=int(entry.get("size") or 0),
                    digest=str(entry.get("digest") or ""),
                    modified_at=str(entry.get("modified_at") or ""),
                    family=str(details.get("family") or ""),
                    parameter_size=str(details.get("parameter_size") or ""),
                    quantization_level=str(details.get("quantization_level") or ""),
                )
            )
        return models

    async def probe(self, timeout: float) -> bool:
        """Return whether Ollama responds to /api/version; the breaker does not count probes."""
        try:
            async with asyncio.timeout(timeout):
                payload = await self._get_json("/api/version")
        except TimeoutError:
            self._set_reachable(False, f"Ollama at {self.url} did not respond to /api/version within {timeout:.1f}s")
            return False
        except OllamaError as error:
            self._set_reachable(False, str(error))
            return False
        self.version = str(payload.get("version") or "")
        self._set_reachable(True, "")
        return True

    # --- Breaker, budget and retries -----------------------------------------

    async def _guarded(self, call: Callable[[], Awaitable[T]], budget: float) -> T:
        """Run `call` within `budget` seconds if the breaker admits it, and record the outcome."""
        # A caller whose deadline is already spent says nothing about Ollama, so the breaker never sees it.
        if budget <= 0:
            raise OllamaTimeoutError("the deadline was spent before Ollama was called")
        try:
            trial = self.breaker.before_call()
        except breaker_module.CircuitOpenError as error:
            raise CircuitOpenError(
                f"Ollama circuit breaker is open after repeated failures at {self.url}; "
                f"next trial call in {error.retry_after:.1f}s",
                retry_after=error.retry_after,
            ) from None

        try:
            try:
                async with asyncio.timeout(budget):
                    result = await call()
            except TimeoutError:
                raise OllamaTimeoutError(f"Ollama at {self.url} did not respond within {budget:.2f}s") from None
        except asyncio.CancelledError:
            self.breaker.after_call(Outcome.IGNORED, trial=trial)
            raise
        except EmptyOutputError as error:
            # Ollama itself worked; the model's answer was useless.
            self.breaker.after_call(Outcome.SUCCESS, trial=trial)
            self._set_reachable(True, str(error))
            raise
        except OllamaError as error:
            outcome = _breaker_outcome(error)
            self.breaker.after_call(outcome, trial=trial, detail=str(error))
            if isinstance(error, OllamaUnreachableError):
                self._set_reachable(False, str(error))
            else:
                self.last_error = str(error)
            raise
        self.breaker.after_call(Outcome.SUCCESS, trial=trial)
        self._set_reachable(True, "")
        return result

    async def _with_retries(self, attempt_call: Callable[[], Awaitable[T]], budget: float) -> T:
        """Retry 429 and 503 with backoff and jitter, 500 once, and nothing else."""
        retries = self.settings.retries
        loop = asyncio.get_running_loop()
        end = loop.time() + budget
        busy_attempts = 0
        server_error_attempts = 0
        while True:
            try:
                return await attempt_call()
            except OllamaError as error:
                if error.status in BUSY_STATUSES:
                    busy_attempts += 1
                    if busy_attempts >= retries.busy_attempts:
                        raise OllamaBusyError(
                            f"{error} (gave up after {busy_attempts} attempts)", status=error.status
                        ) from None
                    retry_number = busy_attempts
                elif error.status == 500:
                    server_error_attempts += 1
                    if server_error_attempts >= retries.server_error_attempts:
                        raise
                    retry_number = server_error_attempts
                else:
                    raise

                delay = random.uniform(0, min(retries.backoff_max, retries.backoff_base * 2 ** (retry_number - 1)))
                # A pause that would outlast the budget cannot lead to an answer in time.
                if loop.time() + delay >= end:
                    raise
                log.info("ollama retry status=%s retry=%s delay_s=%.2f error=%s", error.status, retry_number, delay, error)
                await asyncio.sleep(delay)

    # --- One HTTP exchange -----------------------------------------------------

    async def _chat_once(self, body: dict[str, Any]) -> ChatResult:
        model = body["model"]
        try:
            async with self._http.stream("POST", "/api/chat", json=body) as response:
                if response.status_code != 200:
                    raise await self._error_from_response(response, model)
                if body["stream"]:
                    return await self._read_stream(response, model)
                payload = _parse_json(await _read_bounded(response), "/api/chat")
                _raise_for_error_line(payload, self.url)
                return _chat_result(payload, model, payload.get("message") or {})
        except httpx.HTTPError as error:
            raise self._transport_error(error, "/api/chat") from error

    async def _read_stream(self, response: httpx.Response, model: str) -> ChatResult:
        """Read NDJSON chunks until `done: true`; an `error` line fails the call even under 200."""
        content_parts: list[str] = []
        size = 0
        async for line in response.aiter_lines():
            line = line.strip()
            if not line:
                continue
            chunk = _parse_json(line, "/api/chat stream")
            _raise_for_error_line(chunk, self.url)

            message = chunk.get("message") or {}
            piece = str(message.get("content") or "")
            size += len(piece)
            if size > MAX_RESPONSE_BYTES:
                raise OllamaError(f"Ollama response exceeds {MAX_RESPONSE_BYTES} bytes")
            content_parts.append(piece)
            if chunk.get("done"):
                return _chat_result(chunk, model, {"content": "".join(content_parts)})
        raise OllamaUnreachableError(f"Ollama at {self.url} closed the stream before its final `done` line")

    async def _get_json(self, path: str) -> dict[str, Any]:
        try:
            response = await self._http.get(path)
        except httpx.HTTPError as error:
            raise self._transport_error(error, path) from error
        if response.status_code != 200:
            raise await self._error_from_response(response, "")
        payload = _parse_json(response.content, path)
        _raise_for_error_line(payload, self.url)
        return payload

    async def _error_from_response(self, response: httpx.Response, model: str) -> OllamaError:
        """Build the error for a non-200 response from its `{"error": ...}` body."""
        raw = await _read_bounded(response, MAX_ERROR_BODY_BYTES)
        try:
            message = str(json.loads(raw).get("error") or "")
        except (ValueError, AttributeError):
            message = raw.decode("utf-8", errors="replace").strip()
        status = response.status_code

        if status == 404 and model:
            return ModelMissingError(
                f"model {model!r} not found in Ollama at {self.url}; pull it with `ollama pull {model}` "
                f"(Ollama said: {message or 'not found'})",
                model=model,
            )
        if status >= 500:
            return OllamaServerError(f"Ollama at {self.url} responded with HTTP {status}: {message}", status=status)
        return OllamaError(f"Ollama at {self.url} responded with HTTP {status}: {message}", status=status)

    def _transport_error(self, error: httpx.HTTPError, path: str) -> OllamaError:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return OllamaUnreachableError(
                f"cannot connect to Ollama at {self.url}: {_connect_failure_text(error)}; "
                "start Ollama or point --ollama-url (or OLLAMA_HOST) at it"
            )
        if isinstance(error, httpx.TimeoutException):
            return OllamaTimeoutError(f"Ollama at {self.url} timed out on {path}: {type(error).__name__}")
        return OllamaUnreachableError(f"connection to Ollama at {self.url} failed on {path}: {error!r}")

    def _set_reachable(self, reachable: bool, error: str) -> None:
        changed = reachable != self.reachable
        self.reachable = reachable
        if error or not reachable:
            self.last_error = error
        if changed:
            log.info("ollama url=%s reachable=%s error=%s", self.url, reachable, error or "-")
            for listener in self._listeners:
                listener()


def _connect_failure_text(error: BaseException) -> str:
    """Return the operating system's words for a failed connect, such as "Connection refused"."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            return os.strerror(cause.errno)
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__


def _breaker_outcome(error: OllamaError) -> Outcome:
    if isinstance(error, OllamaUnreachableError | OllamaTimeoutError | OllamaServerError):
        return Outcome.FAILURE
    if error.status >= 500:
        return Outcome.FAILURE
    return Outcome.IGNORED


async def _read_bounded(response: httpx.Response, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[:limit]


def _parse_json(raw: bytes | str, where: str) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise OllamaServerError(f"invalid JSON from Ollama {where}: {error}") from None
    if not isinstance(payload, dict):
        raise OllamaServerError(f"invalid response from Ollama {where}: expected a JSON object")
    return payload


def _raise_for_error_line(payload: dict[str, Any], url: str) -> None:
    if "error" in payload:
        raise OllamaServerError(f"Ollama at {url} reported an error: {payload['error']}")


def _chat_result(payload: dict[str, Any], model: str, message: dict[str, Any]) -> ChatResult:
    return ChatResult(
        model=str(payload.get("model") or model),
        content=str(message.get("content") or ""),
        done_reason=str(payload.get("done_reason") or ""),
        prompt_eval_count=_optional_int(payload.get("prompt_eval_count")),
        eval_count=_optional_int(payload.get("eval_count")),
    )


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None
