"""Errors the server answers with: always {"code", "message", "field"} and the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_server.contract.common import ErrorBody

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    # Commit what the request wrote before failing (a counted failed login, a logged denial).
    keep_changes = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers
        self.extra = extra or {}
        if code:
            self.code = code

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, field=self.field, **self.extra)


class ValidationFailed(AppError):
    status = 422
    code = "invalid"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class StaleVersion(Conflict):
    code = "stale_version"


class Gone(AppError):
    """It existed and was removed on purpose (an expired export's file, an old import's upload)."""

    status = 410
    code = "gone"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return _json(exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        # Only the first part says where (body, query…): a field may itself be called "body".
        parts = [str(p) for p in first.get("loc", ())]
        loc = parts[1:] if parts and parts[0] in ("body", "query", "path", "header") else parts
        field = ".".join(loc) or None
        message = str(first.get("msg", "Invalid value"))
        if field:
            message = f"{field}: {message}"
        return _json(422, ErrorBody(code="invalid", message=message, field=field))

    @app.exception_handler(DataError)
    async def unfit(_: Request, exc: DataError) -> JSONResponse:
        # The last line of defence: a value the database cannot hold (or give back) got past the
        # door. Never a 500 for it; the log says which, so its door can learn to name the field.
        detail = str(exc.orig or exc).strip().splitlines()[0]
        log.warning("a value the database refused got past validation: %s", detail)
        return _json(422, ErrorBody(code="out_of_range", message=f"A value does not fit: {detail}."))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return database_error(exc)

    @app.exception_handler(StaleDataError)
    async def stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return _json(409, ErrorBody(code="stale_version", message="Someone else changed this record; reload it."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json(exc.status_code, ErrorBody(code=code, message=str(exc.detail)))


# A request that meets a database which is down, restarting, or out of disk space answers at once
# with words and a Retry-After (a desktop retries, a load balancer tries another process): never a
# 500, never a hang. Nothing was saved: the request's transaction rolled back with the error.
RETRY_AFTER_SECONDS = 2


def database_error(exc: Exception) -> JSONResponse:
    """503 database_unavailable, or 507 disk_full when PostgreSQL could not write for lack of space."""
    orig = getattr(exc, "orig", None) or exc
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if getattr(orig, "sqlstate", None) == "53100":
        log.error("the database's disk is full: %s", str(orig).strip().splitlines()[0] if str(orig) else "")
        message = (
            "The database has run out of disk space, so this change was not saved. Reading still works; "
            "ask IT to free space on the database server, then try again."
        )
        return _json(507, ErrorBody(code="disk_full", message=message), headers)
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
    log.warning("the database is unavailable: %s", first)
    message = "The database cannot be reached right now, so nothing was saved. Try again in a moment."
    return _json(503, ErrorBody(code="database_unavailable", message=message), headers)
