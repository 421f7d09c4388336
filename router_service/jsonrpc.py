"""JSON-RPC 2.0 message text: parse top-level members with their exact source spans.

The router passes results and forwarded responses through verbatim, so it needs
to know where each top-level member sits in the original text, not only its
value. Values are decoded by the standard library's C scanner.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Any, NamedTuple

JSONRPC_VERSION = "2.0"

# Standard JSON-RPC 2.0 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_WHITESPACE_CHARS = " \t\n\r"
_scan_value = json.JSONDecoder().scan_once


class MessageError(ValueError):
    """The text is not a JSON object, or not a well-formed JSON-RPC message."""


class Member(NamedTuple):
    """One top-level member: its decoded value and the span of its value text."""

    value: Any
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Message:
    """A JSON object's text with its top-level members."""

    text: str
    members: dict[str, Member]

    def __contains__(self, key: str) -> bool:
        return key in self.members

    def get(self, key: str, default: Any = None) -> Any:
        member = self.members.get(key)
        return default if member is None else member.value

    def raw(self, key: str) -> str:
        """Return the exact source text of a member's value."""
        member = self.members[key]
        return self.text[member.start : member.end]

    def with_raw(self, key: str, raw_value: str) -> str:
        """Return the message text with one member's value text replaced."""
        member = self.members[key]
        return self.text[: member.start] + raw_value + self.text[member.end :]


def _skip_whitespace(text: str, index: int) -> int:
    # Compact JSON has no whitespace, so a character test avoids most regex calls.
    if index < len(text) and text[index] not in _WHITESPACE_CHARS:
        return index
    return _WHITESPACE.match(text, index).end()


def parse_message(text: str) -> Message:
    """Parse one JSON object and record each top-level member's value span.

    Raises MessageError naming the position of the first problem.
    """
    index = _skip_whitespace(text, 0)
    if index >= len(text) or text[index] != "{":
        raise MessageError("expected a JSON object")
    members: dict[str, Member] = {}
    index = _skip_whitespace(text, index + 1)
    try:
        if text[index] == "}":
            index += 1
        else:
            while True:
                if text[index] != '"':
                    raise MessageError(f"expected a member name at offset {index}")
                key, index = scanstring(text, index + 1, True)
                index = _skip_whitespace(text, index)
                if text[index] != ":":
                    raise MessageError(f"expected ':' at offset {index}")
                index = _skip_whitespace(text, index + 1)
                try:
                    value, end = _scan_value(text, index)
                except StopIteration as stop:
                    raise MessageError(f"invalid JSON value at offset {stop.value}") from None
                members[key] = Member(value, index, end)
                index = _skip_whitespace(text, end)
                if text[index] == ",":
                    index = _skip_whitespace(text, index + 1)
                    continue
                if text[index] == "}":
                    index += 1
                    break
                raise MessageError(f"expected ',' or '}}' at offset {index}")
    except IndexError:
        raise MessageError("unexpected end of JSON text") from None
    except json.JSONDecodeError as error:
        raise MessageError(f"invalid JSON: {error.msg} at offset {error.pos}") from None
    except RecursionError:
        raise MessageError("JSON nested too deeply") from None
    if _skip_whitespace(text, index) != len(text):
        raise MessageError(f"unexpected text after the JSON object at offset {index}")
    return Message(text, members)


def parse_object_text(text: str, what: str) -> dict[str, Any]:
    """Decode `text` as a JSON object; raise MessageError naming `what` otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise MessageError(f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise MessageError(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise MessageError(f"{what} must be a JSON object, got {_json_type(value)}")
    return value


# A \uD800-\uDFFF escape, or such a character itself: where a lone surrogate may hide.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def check_unicode(text: str, value: Any, what: str) -> None:
    """Raise MessageError if decoded JSON contains a lone UTF-16 surrogate anywhere.

    Such text is not valid Unicode, and servers fail on it in ways that range
    from an error to never answering, so it is rejected before it is sent.
    """
    if not _SURROGATE_HINT.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MessageError(f"{what} contains a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode") from None


def _json_type(value: Any) -> str:
    """Name a decoded value by its JSON type: null, boolean, number, string or array."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def single_line(text: str) -> str:
    """Remove raw line breaks from valid JSON text so it fits one stdio line.

    Valid JSON cannot contain a raw newline inside a string, so every raw line
    break is insignificant whitespace and a space keeps the meaning.
    """
    if "\n" in text or "\r" in text:
        return text.replace("\r", " ").replace("\n", " ")
    return text


def dumps(value: Any) -> str:
    """Encode compactly, keeping non-ASCII characters as they are."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def error_response(request_id_raw: str, code: int, message: str) -> str:
    """Build a JSON-RPC error response line; `request_id_raw` is the id's JSON text."""
    return '{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%s}}' % (request_id_raw, code, dumps(message))


def result_response(request_id_raw: str, result_text: str) -> str:
    return '{"jsonrpc":"2.0","id":%s,"result":%s}' % (request_id_raw, result_text)


def is_valid_id(value: Any) -> bool:
    """JSON-RPC ids are strings or numbers; null is not accepted in requests."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)
