"""The router's connection to the enhancer service: one channel, a breaker, a health watch.

This is the one module below the servicer that speaks gRPC, because the
enhancer is a gRPC service. Callers get fail-open results or the router's own
errors, never a grpc exception.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mcp_router.auth import call_metadata
from mcp_router.breaker import CircuitBreaker, CircuitOpenError, Outcome
from mcp_router.deadlines import call_budget
from mcp_router.serving import ServerLimits
from mcp_router.v1 import enhancer_pb2, enhancer_pb2_grpc

from . import jsonrpc
from .config import EnhancerSettings
from .errors import EnhancerFailed, ServerUnavailable, UpstreamError

log = logging.getLogger(__name__)

ENHANCER_SERVICE = enhancer_pb2.DESCRIPTOR.services_by_name["EnhancerService"].full_name
CLIENT_METADATA_KEY = "x-client-name"
# Status codes that mean the enhancer is down or broken; every other code means it responded.
FAILURE_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}
HEALTH_RETRY_INITIAL_SECONDS = 0.5
HEALTH_RETRY_MAX_SECONDS = 10.0
STATS_TIMEOUT_SECONDS = 1.0
# A tool call's arguments may use at most this share of the caller's remaining
# deadline for enhancement, so the tool call itself keeps the rest.
TOOL_ARGUMENT_SHARE = 0.5

HealthListener = Callable[[bool], Awaitable[None]]


@dataclass(frozen=True)
class ArgumentEnhancement:
    name: str
    applied: bool
    reason: int
    detail: str
    cached: bool = False


@dataclass(frozen=True)
class EnhancementReport:
    """The outcome of enhancing one tool call's arguments."""

    applied: bool
    reason: int
    detail: str
    elapsed_ms: float
    arguments: tuple[ArgumentEnhancement, ...] = ()


@dataclass
class LinkCounters:
    calls: int = 0
    failures: int = 0
    skipped_breaker_open: int = 0


def not_configured_report(detail: str) -> EnhancementReport:
    return EnhancementReport(False, enhancer_pb2.ENHANCE_REASON_NOT_CONFIGURED, detail, 0.0)


class EnhancerLink:
    """A long-lived channel to EnhancerService with the router's breaker in front of it."""

    def __init__(self, settings: EnhancerSettings, limits: ServerLimits, credentials: grpc.ChannelCredentials | None = None) -> None:
        assert settings.address is not None  # Built only when an address is configured.
        self.settings = settings
        self.address = settings.address
        # round_robin spreads calls over every address the name resolves to, such as
        # the replicas of `docker compose up --scale enhancer=3` behind dns:///enhancer.
        options = [*limits.options(), ("grpc.lb_policy_name", "round_robin")]
        if credentials is not None:
            self.channel = grpc.aio.secure_channel(self.address, credentials, options=options)
        else:
            self.channel = grpc.aio.insecure_channel(self.address, options=options)
        self._auth = call_metadata(settings.token) or ()
        self.stub = enhancer_pb2_grpc.EnhancerServiceStub(self.channel)
        self.breaker = CircuitBreaker("enhancer", settings.breaker)
        self.health = "UNKNOWN"
        self.counters = LinkCounters()
        self._watch: asyncio.Task[None] | None = None

    def start(self, on_health: HealthListener) -> None:
        """Start mirroring the enhancer's health into `on_health`."""
        self._watch = asyncio.create_task(self._watch_health(on_health), name="enhancer-health")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.channel.close()

    # Calls

    async def call(
        self, method: str, request: Any, time_remaining: float | None, client: str = "", share: float = 1.0, *, counted: bool = True
    ) -> Any:
        """Call one EnhancerService method under the breaker and the deadline budget.

        Raises ServerUnavailable when the breaker is open and EnhancerFailed with
        the enhancer's status code otherwise.
        """
        remaining = None if time_remaining is None else time_remaining * share
        budget = call_budget(remaining, self.settings.budget, self.settings.margin)
        if budget <= 0:
            raise EnhancerFailed(grpc.StatusCode.DEADLINE_EXCEEDED, "the caller's deadline left no time for the enhancer")
        try:
            trial = self.breaker.before_call()
        except CircuitOpenError as error:
            self.counters.skipped_breaker_open += 1
            raise ServerUnavailable(
                f"enhancer circuit breaker is open after repeated failures; retry after {error.retry_after:.1f}s",
                retry_after=error.retry_after,
            ) from None

        if counted:
            self.counters.calls += 1
        metadata = (*self._auth, *(((CLIENT_METADATA_KEY, client),) if client else ()))
        outcome, detail = Outcome.IGNORED, ""
        try:
            response = await getattr(self.stub, method)(request, timeout=budget, metadata=metadata)
            outcome = Outcome.SUCCESS
            return response
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code in FAILURE_CODES:
                outcome, detail = Outcome.FAILURE, f"{code.name}: {error.details()}"
                self.counters.failures += 1
            elif code is not grpc.StatusCode.CANCELLED:
                outcome = Outcome.SUCCESS
            raise EnhancerFailed(code, f"enhancer {method} failed with {code.name}: {error.details()}") from None
        finally:
            self.breaker.after_call(outcome, trial=trial, detail=detail)

    async def enhance(self, request: enhancer_pb2.EnhanceRequest, time_remaining: float | None, share: float = 1.0) -> enhancer_pb2.EnhanceResponse:
        """Enhance one prompt, failing open: router-side failures return the original prompt.

        With `request.require`, failures raise instead.
        """
        started = time.perf_counter()
        try:
            return await self.call("Enhance", request, time_remaining, request.client, share)
        except ServerUnavailable as error:
            if request.require:
                raise
            reason, detail = enhancer_pb2.ENHANCE_REASON_ENHANCER_CIRCUIT_OPEN, str(error)
        except EnhancerFailed as error:
            if request.require:
                raise
            timed_out = error.code is grpc.StatusCode.DEADLINE_EXCEEDED
            reason = enhancer_pb2.ENHANCE_REASON_TIMEOUT if timed_out else enhancer_pb2.ENHANCE_REASON_ENHANCER_UNAVAILABLE
            detail = str(error)
        return enhancer_pb2.EnhanceResponse(
            original=request.prompt,
            enhanced=request.prompt,
            applied=False,
            reason=reason,
            detail=detail,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    async def enhance_arguments(
        self, arguments: dict[str, Any], names: tuple[str, ...], client: str, time_remaining: float | None
    ) -> tuple[dict[str, Any], EnhancementReport]:
        """Rewrite the named string arguments concurrently; keep the originals wherever that fails."""
        started = time.perf_counter()
        targets = [name for name in names if isinstance(arguments.get(name), str) and arguments[name].strip()]
        if not targets:
            return arguments, not_configured_report("none of the configured arguments is a non-empty string in this call")

        responses = await asyncio.gather(
            *(
                self.enhance(enhancer_pb2.EnhanceRequest(prompt=arguments[name], client=client), time_remaining, TOOL_ARGUMENT_SHARE)
                for name in targets
            )
        )
        rewritten = dict(arguments)
        results = []
        for name, response in zip(targets, responses):
            if response.applied:
                rewritten[name] = response.enhanced
            results.append(ArgumentEnhancement(name, response.applied, response.reason, response.detail, response.cached))
        applied = any(result.applied for result in results)
        first = next((result for result in results if result.applied), results[0])
        return rewritten, EnhancementReport(
            applied=applied,
            reason=first.reason,
            detail=first.detail,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            arguments=tuple(results),
        )

    async def sample(self, server: str, params: Any, time_remaining: float | None) -> str:
        """Complete an MCP sampling/createMessage request through the enhancer; return the result JSON."""
        request = sampling_request(server, params)
        try:
            response = await self.call("Complete", request, time_remaining, request.client)
        except (ServerUnavailable, EnhancerFailed) as error:
            raise UpstreamError(f"sampling failed: {error}", jsonrpc.INTERNAL_ERROR, "{}") from None
        result = {
            "role": "assistant",
            "content": {"type": "text", "text": response.content},
            "model": response.model,
            "stopReason": "maxTokens" if response.done_reason == "length" else "endTurn",
        }
        return jsonrpc.dumps(result)

    async def stats(self, time_remaining: float | None) -> tuple[enhancer_pb2.EnhancerStats | None, str]:
        """Fetch the enhancer's own stats, unless the breaker is open; return (stats, error)."""
        remaining = STATS_TIMEOUT_SECONDS if time_remaining is None else min(STATS_TIMEOUT_SECONDS, time_remaining)
        try:
            # Stats polling is not traffic the operator asked about, so it is not counted.
            return await self.call("GetStats", enhancer_pb2.GetStatsRequest(), remaining, counted=False), ""
        except (ServerUnavailable, EnhancerFailed) as error:
            return None, str(error)

    # Health

    async def _watch_health(self, on_health: HealthListener) -> None:
        stub = health_pb2_grpc.HealthStub(self.channel)
        delay = HEALTH_RETRY_INITIAL_SECONDS
        while True:
            try:
                stream = stub.Watch(health_pb2.HealthCheckRequest(service=ENHANCER_SERVICE), metadata=self._auth or None)
                async for reply in stream:
                    delay = HEALTH_RETRY_INITIAL_SECONDS
                    await self._set_health(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status), on_health)
            except grpc.aio.AioRpcError as error:
                log.debug("enhancer=%s health watch ended: %s", self.address, error.code().name)
            await self._set_health("NOT_SERVING", on_health)
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(HEALTH_RETRY_MAX_SECONDS, delay * 2)

    async def _set_health(self, status: str, on_health: HealthListener) -> None:
        if status != self.health:
            log.info("enhancer=%s health=%s", self.address, status)
            self.health = status
            await on_health(status == "SERVING")


def sampling_request(server: str, params: Any) -> enhancer_pb2.CompleteRequest:
    """Translate MCP sampling/createMessage params into a CompleteRequest; text content only."""
    if not isinstance(params, dict) or not isinstance(params.get("messages"), list):
        raise UpstreamError("sampling/createMessage needs params.messages", jsonrpc.INVALID_PARAMS, "{}")
    request = enhancer_pb2.CompleteRequest(client=server)
    for index, message in enumerate(params["messages"]):
        role = message.get("role") if isinstance(message, dict) else None
        blocks = message.get("content") if isinstance(message, dict) else None
        blocks = blocks if isinstance(blocks, list) else [blocks]
        texts = [block.get("text") for block in blocks if isinstance(block, dict) and block.get("type") == "text"]
        if role not in ("user", "assistant") or len(texts) != len(blocks) or not all(isinstance(text, str) for text in texts):
            raise UpstreamError(
                f"sampling/createMessage messages[{index}]: only user or assistant messages with text content are supported",
                jsonrpc.INVALID_PARAMS,
                "{}",
            )
        request.messages.append(enhancer_pb2.CompletionMessage(role=role, content="\n".join(texts)))
    if isinstance(params.get("systemPrompt"), str):
        request.system_prompt = params["systemPrompt"]
    if isinstance(params.get("maxTokens"), int) and params["maxTokens"] > 0:
        request.max_tokens = params["maxTokens"]
    if isinstance(params.get("temperature"), (int, float)):
        request.temperature = float(params["temperature"])
    if isinstance(params.get("stopSequences"), list):
        request.stop_sequences.extend(text for text in params["stopSequences"] if isinstance(text, str))
    return request
