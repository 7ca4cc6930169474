"""Hostile input stops at the door, in two places only:

- `BodyLimit`, an ASGI middleware in front of every route: a body over the cap is refused (413)
  by its Content-Length or while it streams in, before any route reads it; a JSON body nested
  deeper than MAX_DEPTH is refused (422) before anything parses it recursively.
- `check_request`, which TxRoute runs before every route (so before its own validation): integers
  outside PostgreSQL's bigint in the path, the query or a JSON body, control characters (NUL and
  the like) in any text, and times that leave the calendar once in UTC answer 422 naming the
  field. Text in a body may hold tab, line feed and carriage return; the path and the query may not.

Every refusal is the house's {"code", "message", "field"} error."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_server.errors import ValidationFailed

P = ParamSpec("P")
R = TypeVar("R")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32  # the deepest body the contract has is 4 levels; 32 leaves room and stops a bomb
# Text in a body: tab, LF and CR are allowed; other C0 controls and lone surrogates (which cannot
# be stored as UTF-8) are not. The path and query allow no control character at all.
_BODY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_STRICT_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_INTEGER = re.compile(r"\s*[+-]?\d[\d_]*\s*")
# A time at the edge of the calendar whose offset takes it past year 1 or 9999 in UTC: PostgreSQL
# stores it, but it cannot be read back into Python.
_EDGE_DATETIME = re.compile(r"\s*(0001|9999)-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d(:?\d\d)?)\s*")
_NOT_JSON = object()


class BodyTooLarge(ValidationFailed):
    status = 413
    code = "too_large"


# --- the middleware: size and nesting ------------------------------------------------------------


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _too_deep(value: Any, limit: int) -> str | None:
    """The path (a.b.0) to where `value` goes deeper than `limit`, or None. No recursion."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return path
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((child, depth + 1, f"{path}.{key}" if path else str(key)) for key, child in items)
    return None


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _deep_field(body: bytes, limit: int) -> str | None:
    """The top-level field of a JSON object under which it nests deeper than `limit`, found by
    scanning brackets (strings skipped whole) instead of parsing."""
    depth, last_key, key = 0, b"", b""
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token[:1] == b'"':
            if depth == 1:
                last_key = token
            continue
        if token in (b"[", b"{"):
            if depth == 1:
                key = last_key
            depth += 1
            if depth > limit:
                break
        else:
            depth -= 1
    try:
        name = json.loads(key) if key and body.lstrip()[:1] == b"{" else None
    except ValueError:
        return None
    return name if isinstance(name, str) else None


class BodyLimit:
    """Reads the request body up to `max_bytes` before the app sees any of it (413 past that),
    refuses JSON nested deeper than `max_depth` (422), then hands the app the body it read."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_DEPTH) -> None:
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, BodyTooLarge(self._too_large_text(), extra={"max_bytes": self.max_bytes}))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, BodyTooLarge(self._too_large_text(), extra={"max_bytes": self.max_bytes}))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if body and (_is_json(content_type) or not content_type.strip()):  # FastAPI reads no type as JSON
            refusal = self._nesting(body)
            if refusal is not None:
                await self._refuse(send, refusal)
                return
        await self.app(scope, self._replay(body, receive), send)

    def _too_large_text(self) -> str:
        return f"The request is larger than {self.max_bytes / 1048576:g} MB, the most this server takes."

    def _nesting(self, body: bytes) -> ValidationFailed | None:
        message = f"The JSON is nested more than {self.max_depth} levels deep."
        try:
            data = json.loads(body)
        except RecursionError:  # deeper than Python parses: find the field without parsing
            return ValidationFailed(message, field=_deep_field(body, self.max_depth), code="too_deep")
        except ValueError:  # not JSON: the route answers that in its own words
            return None
        where = _too_deep(data, self.max_depth)
        if where is None:
            return None
        return ValidationFailed(message, field=where.split(".", 1)[0] or None, code="too_deep")

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        return replay

    @staticmethod
    async def _refuse(send: Send, error: ValidationFailed) -> None:
        body = json.dumps(error.body().model_dump(exclude_none=True)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --- the route check: integers and control characters --------------------------------------------


def _out_of_range(text: str) -> bool:
    """True for text that reads as a whole number outside bigint (as pydantic would read it)."""
    if _INTEGER.fullmatch(text):
        number = int(text.strip().replace("_", ""))
    else:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            return False
        if not value.is_finite() or value != value.to_integral_value():
            return False
        number = int(value)
    return not INT64_MIN <= number <= INT64_MAX


def _out_of_calendar(text: str) -> bool:
    if not _EDGE_DATETIME.fullmatch(text):
        return False
    try:
        moment = datetime.fromisoformat(text.strip().replace("t", "T").replace("z", "Z"))
        moment.astimezone(UTC)
    except ValueError:
        return False  # not a time after all: the route's validation says what it is
    except OverflowError:
        return True
    return False


def _integer_schema(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if schema.get("type") == "integer":
        return True
    if schema.get("type") == "array":
        return _integer_schema(schema.get("items", {}), components)
    return any(_integer_schema(s, components) for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, ()))


def _integer_params(request: Request, path_format: str) -> set[tuple[str, str]]:
    """(where, name) of the integer parameters the OpenAPI document declares for this route. Read
    only when a value is out of range, so the document is built only then (and once)."""
    spec = request.app.openapi()
    operation = spec.get("paths", {}).get(path_format, {}).get(request.method.lower(), {})
    components = spec.get("components", {}).get("schemas", {})
    return {
        (p["in"], p["name"])
        for p in operation.get("parameters", ())
        if _integer_schema(p.get("schema", {}), components)
    }


def _refuse_text(field: str | None, strict: bool) -> ValidationFailed:
    allowed = "" if strict else " (tab and line breaks are fine)"
    where = f"{field}: " if field else ""
    return ValidationFailed(
        f"{where}the text holds control characters such as NUL that cannot be saved{allowed}.",
        field=field,
        code="control_characters",
    )


def _refuse_time(field: str | None) -> ValidationFailed:
    where = f"{field}: " if field else ""
    return ValidationFailed(
        f"{where}the time is outside the calendar (years 1 to 9999 in UTC).", field=field, code="out_of_range"
    )


def _refuse_number(field: str | None) -> ValidationFailed:
    where = f"{field}: " if field else ""
    return ValidationFailed(
        f"{where}the number is out of range (whole numbers go from {INT64_MIN:,} to {INT64_MAX:,}).",
        field=field,
        code="out_of_range",
    )


Path = tuple[str | int, ...]


def _dotted(parts: Path) -> str | None:
    """`a.b.0`; a key that is empty text is named `""` (a field named nothing is still a field)."""
    return ".".join('""' if p == "" else str(p) for p in parts) or None


def _walk(value: Any) -> Iterator[tuple[Path, Any]]:
    """Every scalar of a parsed JSON document with its path; keys come as their own path."""
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                yield (*where, key), key
                stack.append(((*where, key), child))
        elif isinstance(node, list):
            stack.extend(((*where, i), child) for i, child in enumerate(node))
        else:
            yield where, node


def _check_json(data: Any) -> list[Path]:
    """Refuse the first hostile value; answer the paths of text that reads as a whole number out
    of range, which is refused only where the field is an integer (pydantic reads "12" as 12)."""
    numbers_as_text: list[Path] = []
    for where, value in _walk(data):
        name = _dotted(where)
        if isinstance(value, str):
            if _BODY_CONTROL.search(value):
                raise _refuse_text(name, strict=False)
            if _out_of_calendar(value):
                raise _refuse_time(name)
            if _out_of_range(value):
                numbers_as_text.append(where)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise _refuse_number(name)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValidationFailed(
                f"{name + ': ' if name else ''}the number is not finite.", field=name, code="out_of_range"
            )
    return numbers_as_text


def _schemas_at(schema: dict[str, Any], parts: Path, components: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schemas a JSON schema gives the value at `parts` (several through anyOf and the like)."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            yield from _schemas_at(option, parts, components)
    if not parts:
        yield schema
        return
    head, rest = parts[0], parts[1:]
    if isinstance(head, int):
        items = schema.get("items")
        if isinstance(items, dict):
            yield from _schemas_at(items, rest, components)
        return
    child = schema.get("properties", {}).get(head, schema.get("additionalProperties"))
    if isinstance(child, dict):
        yield from _schemas_at(child, rest, components)


def _refuse_integer_text(request: Request, path_format: str, suspects: list[Path]) -> None:
    spec = request.app.openapi()
    operation = spec.get("paths", {}).get(path_format, {}).get(request.method.lower(), {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    components = spec.get("components", {}).get("schemas", {})
    for where in suspects:
        if any(_integer_schema(found, components) for found in _schemas_at(body, where, components)):
            raise _refuse_number(_dotted(where))


_RAW_BODY: set[Callable[..., Any]] = set()


def raw_body(endpoint: Callable[P, R]) -> Callable[P, R]:
    """Mark a route whose body is a provider's signed bytes: the route verifies and keeps them as
    sent (a signed event is never refused for its text); its path and query are still checked."""
    _RAW_BODY.add(endpoint)
    return endpoint


def takes_raw_body(endpoint: Callable[..., Any]) -> bool:
    """Whether `endpoint` was marked with @raw_body (routing.TxRoute then checks no body)."""
    return endpoint in _RAW_BODY


async def check_request(request: Request, path_format: str, *, body: bool = True) -> None:
    """Raise ValidationFailed for the first hostile value in the path, the query or (unless `body`
    is False) the body of a request to the route at `path_format`."""
    suspects: list[tuple[str, str]] = []
    for name, value in request.path_params.items():
        text = str(value)
        if _STRICT_CONTROL.search(text):
            raise _refuse_text(name, strict=True)
        if _out_of_range(text):
            suspects.append(("path", name))
    for name, value in request.query_params.multi_items():
        if _STRICT_CONTROL.search(name):
            raise _refuse_text(None, strict=True)
        if _STRICT_CONTROL.search(value):
            raise _refuse_text(name, strict=True)
        if _out_of_calendar(value):
            raise _refuse_time(name)
        if _out_of_range(value):
            suspects.append(("query", name))
    if suspects:
        declared = _integer_params(request, path_format)
        for where, name in suspects:
            if (where, name) in declared:
                raise _refuse_number(name)
    if not body:
        return
    raw = await request.body()
    if not raw:
        return
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if _is_json(content_type) or not media:  # FastAPI reads a body without a type as JSON
        try:
            data = await request.json()  # kept on the request: the route's own parse reuses it
        except (ValueError, RecursionError):
            data = _NOT_JSON
        if data is not _NOT_JSON:
            numbers_as_text = _check_json(data)
            if numbers_as_text:
                _refuse_integer_text(request, path_format, numbers_as_text)
            return
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return
        for name, value in pairs:
            if _BODY_CONTROL.search(name):
                raise _refuse_text(None, strict=False)
            if _BODY_CONTROL.search(value):
                raise _refuse_text(name, strict=False)
