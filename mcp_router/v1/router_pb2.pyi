from mcp_router.v1 import common_pb2 as _common_pb2
from mcp_router.v1 import enhancer_pb2 as _enhancer_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union
from mcp_router.v1.common_pb2 import BreakerState as BreakerState

DESCRIPTOR: _descriptor.FileDescriptor
BREAKER_STATE_UNSPECIFIED: _common_pb2.BreakerState
CLOSED: _common_pb2.BreakerState
OPEN: _common_pb2.BreakerState
HALF_OPEN: _common_pb2.BreakerState

class ServerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVER_STATE_UNSPECIFIED: _ClassVar[ServerState]
    STOPPED: _ClassVar[ServerState]
    STARTING: _ClassVar[ServerState]
    RUNNING: _ClassVar[ServerState]
    BACKOFF: _ClassVar[ServerState]
    STOPPING: _ClassVar[ServerState]
    FATAL: _ClassVar[ServerState]
SERVER_STATE_UNSPECIFIED: ServerState
STOPPED: ServerState
STARTING: ServerState
RUNNING: ServerState
BACKOFF: ServerState
STOPPING: ServerState
FATAL: ServerState

class Server(_message.Message):
    __slots__ = ("name", "state", "pid", "restarts", "last_restart_reason", "last_error", "stderr_tail", "protocol_version", "server_info_json", "tool_count", "last_exit_code", "consecutive_failures", "uptime_seconds", "breaker", "noise_lines", "command", "degraded", "env")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LAST_RESTART_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    STDERR_TAIL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_INFO_JSON_FIELD_NUMBER: _ClassVar[int]
    TOOL_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    NOISE_LINES_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: ServerState
    pid: int
    restarts: int
    last_restart_reason: str
    last_error: str
    stderr_tail: str
    protocol_version: str
    server_info_json: str
    tool_count: int
    last_exit_code: int
    consecutive_failures: int
    uptime_seconds: float
    breaker: _common_pb2.BreakerState
    noise_lines: int
    command: str
    degraded: bool
    env: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[ServerState, str]] = ..., pid: _Optional[int] = ..., restarts: _Optional[int] = ..., last_restart_reason: _Optional[str] = ..., last_error: _Optional[str] = ..., stderr_tail: _Optional[str] = ..., protocol_version: _Optional[str] = ..., server_info_json: _Optional[str] = ..., tool_count: _Optional[int] = ..., last_exit_code: _Optional[int] = ..., consecutive_failures: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., breaker: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., noise_lines: _Optional[int] = ..., command: _Optional[str] = ..., degraded: _Optional[bool] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListServersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListServersResponse(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[Server]
    def __init__(self, servers: _Optional[_Iterable[_Union[Server, _Mapping]]] = ...) -> None: ...

class GetServerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartServerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopServerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RestartServerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("server", "name", "qualified_name", "description", "input_schema_json", "tool_json")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUALIFIED_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    TOOL_JSON_FIELD_NUMBER: _ClassVar[int]
    server: str
    name: str
    qualified_name: str
    description: str
    input_schema_json: str
    tool_json: str
    def __init__(self, server: _Optional[str] = ..., name: _Optional[str] = ..., qualified_name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema_json: _Optional[str] = ..., tool_json: _Optional[str] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ("server",)
    SERVER_FIELD_NUMBER: _ClassVar[int]
    server: str
    def __init__(self, server: _Optional[str] = ...) -> None: ...

class ListToolsResponse(_message.Message):
    __slots__ = ("tools",)
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ...) -> None: ...

class CallToolRequest(_message.Message):
    __slots__ = ("server", "tool", "arguments_json", "enhance", "client")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    ENHANCE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    server: str
    tool: str
    arguments_json: str
    enhance: bool
    client: str
    def __init__(self, server: _Optional[str] = ..., tool: _Optional[str] = ..., arguments_json: _Optional[str] = ..., enhance: _Optional[bool] = ..., client: _Optional[str] = ...) -> None: ...

class CallToolResponse(_message.Message):
    __slots__ = ("result_json", "is_error", "server", "tool", "elapsed_ms", "timeout_ms", "enhancement")
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ENHANCEMENT_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    is_error: bool
    server: str
    tool: str
    elapsed_ms: float
    timeout_ms: int
    enhancement: Enhancement
    def __init__(self, result_json: _Optional[str] = ..., is_error: _Optional[bool] = ..., server: _Optional[str] = ..., tool: _Optional[str] = ..., elapsed_ms: _Optional[float] = ..., timeout_ms: _Optional[int] = ..., enhancement: _Optional[_Union[Enhancement, _Mapping]] = ...) -> None: ...

class Enhancement(_message.Message):
    __slots__ = ("applied", "reason", "detail", "elapsed_ms", "arguments")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    reason: _enhancer_pb2.EnhanceReason
    detail: str
    elapsed_ms: float
    arguments: _containers.RepeatedCompositeFieldContainer[EnhancedArgument]
    def __init__(self, applied: _Optional[bool] = ..., reason: _Optional[_Union[_enhancer_pb2.EnhanceReason, str]] = ..., detail: _Optional[str] = ..., elapsed_ms: _Optional[float] = ..., arguments: _Optional[_Iterable[_Union[EnhancedArgument, _Mapping]]] = ...) -> None: ...

class EnhancedArgument(_message.Message):
    __slots__ = ("name", "applied", "reason", "detail", "cached")
    NAME_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    name: str
    applied: bool
    reason: _enhancer_pb2.EnhanceReason
    detail: str
    cached: bool
    def __init__(self, name: _Optional[str] = ..., applied: _Optional[bool] = ..., reason: _Optional[_Union[_enhancer_pb2.EnhanceReason, str]] = ..., detail: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("progress", "total", "message")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    progress: float
    total: float
    message: str
    def __init__(self, progress: _Optional[float] = ..., total: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class LogMessage(_message.Message):
    __slots__ = ("level", "logger", "data_json")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    level: str
    logger: str
    data_json: str
    def __init__(self, level: _Optional[str] = ..., logger: _Optional[str] = ..., data_json: _Optional[str] = ...) -> None: ...

class CallToolEvent(_message.Message):
    __slots__ = ("progress", "log", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    log: LogMessage
    result: CallToolResponse
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., log: _Optional[_Union[LogMessage, _Mapping]] = ..., result: _Optional[_Union[CallToolResponse, _Mapping]] = ...) -> None: ...

class ForwardRequest(_message.Message):
    __slots__ = ("server", "request_json")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    server: str
    request_json: str
    def __init__(self, server: _Optional[str] = ..., request_json: _Optional[str] = ...) -> None: ...

class ForwardResponse(_message.Message):
    __slots__ = ("response_json",)
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    response_json: str
    def __init__(self, response_json: _Optional[str] = ...) -> None: ...

class ResetBreakersRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResetBreakersResponse(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[Server]
    def __init__(self, servers: _Optional[_Iterable[_Union[Server, _Mapping]]] = ...) -> None: ...

class GetRouterStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnhancerLinkStats(_message.Message):
    __slots__ = ("address", "breaker", "consecutive_failures", "retry_after_seconds", "health", "calls", "failures", "skipped_breaker_open", "enhancer", "enhancer_error")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BREAKER_OPEN_FIELD_NUMBER: _ClassVar[int]
    ENHANCER_FIELD_NUMBER: _ClassVar[int]
    ENHANCER_ERROR_FIELD_NUMBER: _ClassVar[int]
    address: str
    breaker: _common_pb2.BreakerState
    consecutive_failures: int
    retry_after_seconds: float
    health: str
    calls: int
    failures: int
    skipped_breaker_open: int
    enhancer: _enhancer_pb2.EnhancerStats
    enhancer_error: str
    def __init__(self, address: _Optional[str] = ..., breaker: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., consecutive_failures: _Optional[int] = ..., retry_after_seconds: _Optional[float] = ..., health: _Optional[str] = ..., calls: _Optional[int] = ..., failures: _Optional[int] = ..., skipped_breaker_open: _Optional[int] = ..., enhancer: _Optional[_Union[_enhancer_pb2.EnhancerStats, _Mapping]] = ..., enhancer_error: _Optional[str] = ...) -> None: ...

class ServerStats(_message.Message):
    __slots__ = ("name", "state", "breaker", "calls", "errors", "timeouts", "in_flight", "p50_ms", "p95_ms", "p99_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: ServerState
    breaker: _common_pb2.BreakerState
    calls: int
    errors: int
    timeouts: int
    in_flight: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[ServerState, str]] = ..., breaker: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., calls: _Optional[int] = ..., errors: _Optional[int] = ..., timeouts: _Optional[int] = ..., in_flight: _Optional[int] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ...) -> None: ...

class RecentRequest(_message.Message):
    __slots__ = ("at", "server", "tool", "client", "status", "elapsed_ms")
    AT_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    at: str
    server: str
    tool: str
    client: str
    status: str
    elapsed_ms: float
    def __init__(self, at: _Optional[str] = ..., server: _Optional[str] = ..., tool: _Optional[str] = ..., client: _Optional[str] = ..., status: _Optional[str] = ..., elapsed_ms: _Optional[float] = ...) -> None: ...

class RouterStats(_message.Message):
    __slots__ = ("enhancer", "servers", "recent", "uptime_seconds")
    ENHANCER_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    enhancer: EnhancerLinkStats
    servers: _containers.RepeatedCompositeFieldContainer[ServerStats]
    recent: _containers.RepeatedCompositeFieldContainer[RecentRequest]
    uptime_seconds: float
    def __init__(self, enhancer: _Optional[_Union[EnhancerLinkStats, _Mapping]] = ..., servers: _Optional[_Iterable[_Union[ServerStats, _Mapping]]] = ..., recent: _Optional[_Iterable[_Union[RecentRequest, _Mapping]]] = ..., uptime_seconds: _Optional[float] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("include_stderr", "server")
    INCLUDE_STDERR_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    include_stderr: bool
    server: str
    def __init__(self, include_stderr: _Optional[bool] = ..., server: _Optional[str] = ...) -> None: ...

class StateChanged(_message.Message):
    __slots__ = ("from_state", "to_state", "reason")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_state: ServerState
    to_state: ServerState
    reason: str
    def __init__(self, from_state: _Optional[_Union[ServerState, str]] = ..., to_state: _Optional[_Union[ServerState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ServerRestarted(_message.Message):
    __slots__ = ("reason", "restarts")
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    restarts: int
    def __init__(self, reason: _Optional[str] = ..., restarts: _Optional[int] = ...) -> None: ...

class BreakerChanged(_message.Message):
    __slots__ = ("from_state", "to_state", "reason")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_state: _common_pb2.BreakerState
    to_state: _common_pb2.BreakerState
    reason: str
    def __init__(self, from_state: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., to_state: _Optional[_Union[_common_pb2.BreakerState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ToolsChanged(_message.Message):
    __slots__ = ("tool_count", "added", "removed")
    TOOL_COUNT_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    tool_count: int
    added: _containers.RepeatedScalarFieldContainer[str]
    removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tool_count: _Optional[int] = ..., added: _Optional[_Iterable[str]] = ..., removed: _Optional[_Iterable[str]] = ...) -> None: ...

class StderrLine(_message.Message):
    __slots__ = ("line",)
    LINE_FIELD_NUMBER: _ClassVar[int]
    line: str
    def __init__(self, line: _Optional[str] = ...) -> None: ...

class ConfigChanged(_message.Message):
    __slots__ = ("action", "detail")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    action: str
    detail: str
    def __init__(self, action: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class RouterEvent(_message.Message):
    __slots__ = ("at", "server", "state", "restart", "breaker", "tools", "stderr", "config")
    AT_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    at: str
    server: str
    state: StateChanged
    restart: ServerRestarted
    breaker: BreakerChanged
    tools: ToolsChanged
    stderr: StderrLine
    config: ConfigChanged
    def __init__(self, at: _Optional[str] = ..., server: _Optional[str] = ..., state: _Optional[_Union[StateChanged, _Mapping]] = ..., restart: _Optional[_Union[ServerRestarted, _Mapping]] = ..., breaker: _Optional[_Union[BreakerChanged, _Mapping]] = ..., tools: _Optional[_Union[ToolsChanged, _Mapping]] = ..., stderr: _Optional[_Union[StderrLine, _Mapping]] = ..., config: _Optional[_Union[ConfigChanged, _Mapping]] = ...) -> None: ...

class AddServerRequest(_message.Message):
    __slots__ = ("name", "config_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    config_json: str
    def __init__(self, name: _Optional[str] = ..., config_json: _Optional[str] = ...) -> None: ...

class UpdateServerRequest(_message.Message):
    __slots__ = ("name", "config_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    config_json: str
    def __init__(self, name: _Optional[str] = ..., config_json: _Optional[str] = ...) -> None: ...

class RemoveServerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RemoveServerResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
