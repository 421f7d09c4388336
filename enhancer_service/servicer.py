"""The EnhancerService gRPC servicer: protobuf in, domain calls, protobuf or a status code out."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import NoReturn

import grpc

from mcp_router.breaker import BreakerState
from mcp_router.retry_hint import retry_trailers
from mcp_router.v1 import common_pb2, enhancer_pb2, enhancer_pb2_grpc

from .enhancer import EnhanceResult, Enhancer
from .errors import (
    CircuitOpenError,
    EmptyOutputError,
    EnhancementDisabledError,
    EnhancerError,
    InvalidRequestError,
    ModelMissingError,
    OllamaBusyError,
    OllamaError,
    OllamaServerError,
    OllamaTimeoutError,
    OllamaUnreachableError,
    PromptTooLongError,
    Reason,
    RulesError,
)
from .ollama_status import OllamaStatus
from .rules import RuleSet
from .rules_store import RulesStore

CLIENT_METADATA_KEY = "x-client-name"

# The one place where enhancer errors become gRPC status codes. A class not
# listed here uses its nearest listed base class.
STATUS_CODES: dict[type[EnhancerError], grpc.StatusCode] = {
    EnhancerError: grpc.StatusCode.INTERNAL,
    InvalidRequestError: grpc.StatusCode.INVALID_ARGUMENT,
    PromptTooLongError: grpc.StatusCode.INVALID_ARGUMENT,
    EnhancementDisabledError: grpc.StatusCode.FAILED_PRECONDITION,
    RulesError: grpc.StatusCode.FAILED_PRECONDITION,
    ModelMissingError: grpc.StatusCode.FAILED_PRECONDITION,
    OllamaTimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
    OllamaUnreachableError: grpc.StatusCode.UNAVAILABLE,
    CircuitOpenError: grpc.StatusCode.UNAVAILABLE,
    OllamaServerError: grpc.StatusCode.UNAVAILABLE,
    OllamaBusyError: grpc.StatusCode.UNAVAILABLE,
    EmptyOutputError: grpc.StatusCode.INTERNAL,
    # Other Ollama error responses, such as 400 for options the model rejects.
    OllamaError: grpc.StatusCode.INTERNAL,
}

REASONS: dict[Reason, int] = {
    Reason.APPLIED: enhancer_pb2.ENHANCE_REASON_APPLIED,
    Reason.DISABLED: enhancer_pb2.ENHANCE_REASON_DISABLED,
    Reason.OLLAMA_UNREACHABLE: enhancer_pb2.ENHANCE_REASON_OLLAMA_UNREACHABLE,
    Reason.CIRCUIT_OPEN: enhancer_pb2.ENHANCE_REASON_CIRCUIT_OPEN,
    Reason.MODEL_MISSING: enhancer_pb2.ENHANCE_REASON_MODEL_MISSING,
    Reason.TIMEOUT: enhancer_pb2.ENHANCE_REASON_TIMEOUT,
    Reason.TOO_LONG: enhancer_pb2.ENHANCE_REASON_TOO_LONG,
    Reason.EMPTY_OUTPUT: enhancer_pb2.ENHANCE_REASON_EMPTY_OUTPUT,
    Reason.OLLAMA_ERROR: enhancer_pb2.ENHANCE_REASON_OLLAMA_ERROR,
}

BREAKER_STATES: dict[BreakerState, int] = {
    BreakerState.CLOSED: common_pb2.CLOSED,
    BreakerState.OPEN: common_pb2.OPEN,
    BreakerState.HALF_OPEN: common_pb2.HALF_OPEN,
}


def status_code_for(error: EnhancerError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return grpc.StatusCode.INTERNAL


class EnhancerServicer(enhancer_pb2_grpc.EnhancerServiceServicer):
    """Translates EnhancerService calls into Enhancer calls."""

    def __init__(self, enhancer: Enhancer, rules: RulesStore, status: OllamaStatus) -> None:
        self.enhancer = enhancer
        self.rules = rules
        self.status = status
        self.started = time.monotonic()

    async def Enhance(self, request: enhancer_pb2.EnhanceRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.EnhanceResponse:
        client = request.client or _metadata_client(context)
        try:
            result = await self.enhancer.enhance(
                request.prompt,
                client,
                model=request.model,
                require=request.require,
                time_remaining=context.time_remaining(),
            )
        except EnhancerError as error:
            await _abort(context, error)
        return _enhance_response(result)

    async def Complete(self, request: enhancer_pb2.CompleteRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.CompleteResponse:
        client = request.client or _metadata_client(context)
        messages = [{"role": message.role, "content": message.content} for message in request.messages]
        try:
            result = await self.enhancer.complete(
                messages,
                client,
                system_prompt=request.system_prompt,
                max_tokens=request.max_tokens,
                model=request.model,
                temperature=request.temperature if request.HasField("temperature") else None,
                stop_sequences=list(request.stop_sequences),
                time_remaining=context.time_remaining(),
            )
        except EnhancerError as error:
            await _abort(context, error)
        return enhancer_pb2.CompleteResponse(
            content=result.content,
            model=result.model,
            done_reason=result.done_reason,
            prompt_eval_count=result.prompt_eval_count,
            eval_count=result.eval_count,
            truncated=result.truncated,
            elapsed_ms=result.elapsed_ms,
            rule=result.rule,
        )

    async def ListModels(self, request: enhancer_pb2.ListModelsRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.ListModelsResponse:
        try:
            listing = await self.enhancer.list_models(context.time_remaining())
        except EnhancerError as error:
            await _abort(context, error)
        return enhancer_pb2.ListModelsResponse(
            models=[
                enhancer_pb2.OllamaModel(
                    name=model.name,
                    size_bytes=model.size_bytes,
                    digest=model.digest,
                    modified_at=model.modified_at,
                    family=model.family,
                    parameter_size=model.parameter_size,
                    quantization_level=model.quantization_level,
                )
                for model in listing.models
            ],
            missing_models=listing.missing,
            ollama_url=self.enhancer.ollama.url,
        )

    async def GetRules(self, request: enhancer_pb2.GetRulesRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.RulesInfo:
        return _rules_info(self.rules)

    async def ReloadRules(self, request: enhancer_pb2.ReloadRulesRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.RulesInfo:
        try:
            await self.rules.load()
        except RulesError as error:
            await _abort(context, error)
        return _rules_info(self.rules)

    async def GetStats(self, request: enhancer_pb2.GetStatsRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.EnhancerStats:
        enhancer = self.enhancer
        cache_stats = enhancer.cache.stats()
        cache_settings = enhancer.cache.settings
        breaker = self.status.breaker
        snapshot = breaker.snapshot()
        ollama = enhancer.ollama
        return enhancer_pb2.EnhancerStats(
            cache=enhancer_pb2.EnhanceCacheStats(
                hits=cache_stats.hits,
                misses=cache_stats.misses,
                hit_rate=cache_stats.hit_rate,
                entries=cache_stats.entries,
                max_entries=cache_settings.max_entries,
                bytes=cache_stats.bytes,
                max_bytes=cache_settings.max_bytes,
                evictions=cache_stats.evictions,
                expirations=cache_stats.expirations,
                ttl_seconds=cache_settings.ttl_seconds,
            ),
            breaker=enhancer_pb2.OllamaBreaker(
                state=BREAKER_STATES[snapshot.state],
                consecutive_failures=snapshot.consecutive_failures,
                failure_threshold=breaker.settings.failure_threshold,
                retry_after_seconds=snapshot.retry_after,
                recovery_timeout_seconds=breaker.settings.recovery_timeout,
                opened_count=snapshot.opened_count,
                last_failure=snapshot.last_failure,
                transitions=[
                    enhancer_pb2.OllamaBreakerTransition(
                        from_state=BREAKER_STATES[transition.old],
                        to_state=BREAKER_STATES[transition.new],
                        reason=transition.reason,
                        at=_rfc3339(transition.at),
                    )
                    for transition in self.status.transitions
                ],
            ),
            reasons={reason.name: count for reason, count in enhancer.reason_counts.items()},
            enhance_calls=enhancer.enhance_calls,
            complete_calls=enhancer.complete_calls,
            ollama_url=ollama.url,
            ollama_reachable=bool(ollama.reachable),
            ollama_version=ollama.version,
            ollama_last_error=ollama.last_error,
            rules_sha256=self.rules.rules.sha256,
            rules_last_error=self.rules.last_error,
            uptime_seconds=time.monotonic() - self.started,
        )

    async def ClearCache(self, request: enhancer_pb2.ClearCacheRequest, context: grpc.aio.ServicerContext) -> enhancer_pb2.ClearCacheResponse:
        return enhancer_pb2.ClearCacheResponse(removed=self.enhancer.cache.clear())


def _metadata_client(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_METADATA_KEY:
            return value if isinstance(value, str) else value.decode("utf-8", errors="replace")
    return ""


async def _abort(context: grpc.aio.ServicerContext, error: EnhancerError) -> NoReturn:
    """End the call with the error's status code; an open breaker adds a RetryInfo detail."""
    code = status_code_for(error)
    trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()
    if isinstance(error, CircuitOpenError):
        trailing_metadata = retry_trailers(code, str(error), error.retry_after)
    await context.abort(code, str(error), trailing_metadata=trailing_metadata)
    raise AssertionError("context.abort returned")  # grpc.aio's abort always raises.


def _enhance_response(result: EnhanceResult) -> enhancer_pb2.EnhanceResponse:
    return enhancer_pb2.EnhanceResponse(
        original=result.original,
        enhanced=result.enhanced,
        model=result.model,
        cached=result.cached,
        applied=result.applied,
        reason=REASONS[result.reason],
        elapsed_ms=result.elapsed_ms,
        detail=result.detail,
        rule=result.rule,
        truncated=result.truncated,
        prompt_tokens_estimate=result.prompt_tokens_estimate,
        prompt_eval_count=result.prompt_eval_count,
        budget_ms=max(0, result.budget_ms),
    )


def _rules_info(store: RulesStore) -> enhancer_pb2.RulesInfo:
    rules: RuleSet = store.rules
    return enhancer_pb2.RulesInfo(
        path=str(store.path),
        sha256=rules.sha256,
        loaded_at=_rfc3339(rules.loaded_at),
        rules=[
            enhancer_pb2.Rule(
                client=rule.client,
                enabled=rule.enabled,
                models=[enhancer_pb2.RuleModel(name=choice.name, num_ctx=choice.num_ctx) for choice in rule.models],
                system_prompt=rule.system_prompt,
                prompt_template=rule.prompt_template,
                options_json=json.dumps(rule.options, sort_keys=True),
            )
            for rule in rules.all_rules()
        ],
        last_error=store.last_error,
        reloads=store.reloads,
        failed_reloads=store.failed_reloads,
    )


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
