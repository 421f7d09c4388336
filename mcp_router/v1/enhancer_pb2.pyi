from mcp_router.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnhanceReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENHANCE_REASON_UNSPECIFIED: _ClassVar[EnhanceReason]
    ENHANCE_REASON_APPLIED: _ClassVar[EnhanceReason]
    ENHANCE_REASON_DISABLED: _ClassVar[EnhanceReason]
    ENHANCE_REASON_OLLAMA_UNREACHABLE: _ClassVar[EnhanceReason]
    ENHANCE_REASON_CIRCUIT_OPEN: _ClassVar[EnhanceReason]
    ENHANCE_REASON_MODEL_MISSING: _ClassVar[EnhanceReason]
    ENHANCE_REASON_TIMEOUT: _ClassVar[EnhanceReason]
    ENHANCE_REASON_TOO_LONG: _ClassVar[EnhanceReason]
    ENHANCE_REASON_EMPTY_OUTPUT: _ClassVar[EnhanceReason]
    ENHANCE_REASON_OLLAMA_ERROR: _ClassVar[EnhanceReason]
    ENHANCE_REASON_ENHANCER_UNAVAILABLE: _ClassVar[EnhanceReason]
    ENHANCE_REASON_ENHANCER_CIRCUIT_OPEN: _ClassVar[EnhanceReason]
    ENHANCE_REASON_NOT_CONFIGURED: _ClassVar[EnhanceReason]
ENHANCE_REASON_UNSPECIFIED: EnhanceReason
ENHANCE_REASON_APPLIED: EnhanceReason
ENHANCE_REASON_DISABLED: EnhanceReason
ENHANCE_REASON_OLLAMA_UNREACHABLE: EnhanceReason
ENHANCE_REASON_CIRCUIT_OPEN: EnhanceReason
ENHANCE_REASON_MODEL_MISSING: EnhanceReason
ENHANCE_REASON_TIMEOUT: EnhanceReason
ENHANCE_REASON_TOO_LONG: EnhanceReason
ENHANCE_REASON_EMPTY_OUTPUT: EnhanceReason
ENHANCE_REASON_OLLAMA_ERROR: EnhanceReason
ENHANCE_REASON_ENHANCER_UNAVAILABLE: EnhanceReason
ENHANCE_REASON_ENHANCER_CIRCUIT_OPEN: EnhanceReason
ENHANCE_REASON_NOT_CONFIGURED: EnhanceReason

class EnhanceRequest(_message.Message):
    __slots__ = ("prompt", "client", "model", "require")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    client: str
    model: str
    require: bool
    def __init__(self, prompt: _Optional[str] = ..., client: _Optional[str] = ..., model: _Optional[str] = ..., require: _Optional[bool] = ...) -> None: ...

class EnhanceResponse(_message.Message):
    __slots__ = ("original", "enhanced", "model", "cached", "applied", "reason", "elapsed_ms", "detail", "rule", "truncated", "prompt_tokens_estimate", "prompt_eval_count", "budget_ms")
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    ENHANCED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_EVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    original: str
    enhanced: str
    model: str
    cached: bool
    applied: bool
    reason: EnhanceReason
    elapsed_ms: float
    detail: str
    rule: str
    truncated: bool
    prompt_tokens_estimate: int
    prompt_eval_count: int
    budget_ms: int
    def __init__(self, original: _Optional[str] = ..., enhanced: _Optional[str] = ..., model: _Optional[str] = ..., cached: _Optional[bool] = ..., applied: _Optional[bool] = ..., reason: _Optional[_Union[EnhanceReason, str]] = ..., elapsed_ms: _Optional[float] = ..., detail: _Optional[str] = ..., rule: _Optional[str] = ..., truncated: _Optional[bool] = ..., prompt_tokens_estimate: _Optional[int] = ..., prompt_eval_count: _Optional[int] = ..., budget_ms: _Optional[int] = ...) -> None: ...

class CompletionMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("messages", "system_prompt", "max_tokens", "model", "client", "temperature", "stop_sequences")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[CompletionMessage]
    system_prompt: str
    max_tokens: int
    model: str
    client: str
    temperature: float
    stop_sequences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, messages: _Optional[_Iterable[_Union[CompletionMessage, _Mapping]]] = ..., system_prompt: _Optional[str] = ..., max_tokens: _Optional[int] = ..., model: _Optional[str] = ..., client: _Optional[str] = ..., temperature: _Optional[float] = ..., stop_sequences: _Optional[_Iterable[str]] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("content", "model", "done_reason", "prompt_eval_count", "eval_count", "truncated", "elapsed_ms", "rule")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DONE_REASON_FIELD_NUMBER: _ClassVar[int]
    PROMPT_EVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    EVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    content: str
    model: str
    done_reason: str
    prompt_eval_count: int
    eval_count: int
    truncated: bool
    elapsed_ms: float
    rule: str
    def __init__(self, content: _Optional[str] = ..., model: _Optional[str] = ..., done_reason: _Optional[str] = ..., prompt_eval_count: _Optional[int] = ..., eval_count: _Optional[int] = ..., truncated: _Optional[bool] = ..., elapsed_ms: _Optional[float] = ..., rule: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OllamaModel(_message.Message):
    __slots__ = ("name", "size_bytes", "digest", "modified_at", "family", "parameter_size", "quantization_level")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_SIZE_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    size_bytes: int
    digest: str
    modified_at: str
    family: str
    parameter_size: str
    quantization_level: str
    def __init__(self, name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., digest: _Optional[str] = ..., modified_at: _Optional[str] = ..., family: _Optional[str] = ..., parameter_size: _Optional[str] = ..., quantization_level: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "missing_models", "ollama_url")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MISSING_MODELS_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_URL_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[OllamaModel]
    missing_models: _containers.RepeatedScalarFieldContainer[str]
    ollama_url: str
    def __init__(self, models: _Optional[_Iterable[_Union[OllamaModel, _Mapping]]] = ..., missing_models: _Optional[_Iterable[str]] = ..., ollama_url: _Optional[str] = ...) -> None: ...

class GetRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RuleModel(_message.Message):
    __slots__ = ("name", "num_ctx")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_CTX_FIELD_NUMBER: _ClassVar[int]
    name: str
    num_ctx: int
    def __init__(self, name: _Optional[str] = ..., num_ctx: _Optional[int] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("client", "enabled", "models", "system_prompt", "prompt_template", "options_json")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    client: str
    enabled: bool
    models: _containers.RepeatedCompositeFieldContainer[RuleModel]
    system_prompt: str
    prompt_template: str
    options_json: str
    def __init__(self, client: _Optional[str] = ..., enabled: _Optional[bool] = ..., models: _Optional[_Iterable[_Union[RuleModel, _Mapping]]] = ..., system_prompt: _Optional[str] = ..., prompt_template: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class RulesInfo(_message.Message):
    __slots__ = ("path", "sha256", "loaded_at", "rules", "last_error", "reloads", "failed_reloads")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    RELOADS_FIELD_NUMBER: _ClassVar[int]
    FAILED_RELOADS_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    loaded_at: str
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    last_error: str
    reloads: int
    failed_reloads: int
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., loaded_at: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., last_error: _Optional[str] = ..., reloads: _Optional[int] = ..., failed_reloads: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnhanceCacheStats(_message.Message):
    __slots__ = ("hits", "misses", "hit_rate", "entries", "max_entries", "bytes", "max_bytes", "evictions", "expirations", "ttl_seconds")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRATIONS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    hit_rate: float
    entries: int
    max_entries: int
    bytes: int
    max_bytes: int
    evictions: int
    expirations: int
    ttl_seconds: float
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ..., hit_rate: _Optional[float] = ..., entries: _Optional[int] = ..., max_entries: _Optional[int] = ..., bytes: _Optional[int] = ..., max_bytes: _Optional[int] = ..., evictions: _Optional[int] = ..., expirations: _Optional[int] = ..., ttl_seconds: _Optional[float] = ...) -> None: ...

class OllamaBreakerTransition(_message.Message):
    __slots__ = ("from_state", "to_state", "reason", "at")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    from_state: _common_pb2.BreakerState
    to_state: _common_pb2.BreakerState
    reason: str
    at: str
    def __init__(self, from_state: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., to_state: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., reason: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class OllamaBreaker(_message.Message):
    __slots__ = ("state", "consecutive_failures", "failure_threshold", "retry_after_seconds", "recovery_timeout_seconds", "opened_count", "last_failure", "transitions")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    FAILURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OPENED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.BreakerState
    consecutive_failures: int
    failure_threshold: int
    retry_after_seconds: float
    recovery_timeout_seconds: float
    opened_count: int
    last_failure: str
    transitions: _containers.RepeatedCompositeFieldContainer[OllamaBreakerTransition]
    def __init__(self, state: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., consecutive_failures: _Optional[int] = ..., failure_threshold: _Optional[int] = ..., retry_after_seconds: _Optional[float] = ..., recovery_timeout_seconds: _Optional[float] = ..., opened_count: _Optional[int] = ..., last_failure: _Optional[str] = ..., transitions: _Optional[_Iterable[_Union[OllamaBreakerTransition, _Mapping]]] = ...) -> None: ...

class EnhancerStats(_message.Message):
    __slots__ = ("cache", "breaker", "reasons", "enhance_calls", "complete_calls", "ollama_url", "ollama_reachable", "ollama_version", "ollama_last_error", "rules_sha256", "rules_last_error", "uptime_seconds")
    class ReasonsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CACHE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ENHANCE_CALLS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_CALLS_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_URL_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_REACHABLE_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    OLLAMA_LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    RULES_SHA256_FIELD_NUMBER: _ClassVar[int]
    RULES_LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    cache: EnhanceCacheStats
    breaker: OllamaBreaker
    reasons: _containers.ScalarMap[str, int]
    enhance_calls: int
    complete_calls: int
    ollama_url: str
    ollama_reachable: bool
    ollama_version: str
    ollama_last_error: str
    rules_sha256: str
    rules_last_error: str
    uptime_seconds: float
    def __init__(self, cache: _Optional[_Union[EnhanceCacheStats, _Mapping]] = ..., breaker: _Optional[_Union[OllamaBreaker, _Mapping]] = ..., reasons: _Optional[_Mapping[str, int]] = ..., enhance_calls: _Optional[int] = ..., complete_calls: _Optional[int] = ..., ollama_url: _Optional[str] = ..., ollama_reachable: _Optional[bool] = ..., ollama_version: _Optional[str] = ..., ollama_last_error: _Optional[str] = ..., rules_sha256: _Optional[str] = ..., rules_last_error: _Optional[str] = ..., uptime_seconds: _Optional[float] = ...) -> None: ...

class ClearCacheRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClearCacheResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...
