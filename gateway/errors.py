"""Typed errors of every package, mapped to HTTP answers in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from engines.errors import EngineError
from pipeline.errors import FormatConfigError, ImageError


class GatewayError(Exception):
    status = 400
    code = "bad_request"


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class Unprocessable(GatewayError):
    status, code = 422, "invalid"


class NotFoundError(GatewayError):
    status, code = 404, "not_found"


class Unavailable(GatewayError):
    status, code = 503, "unavailable"


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    from storage.errors import Conflict, InvalidQuery, NotFound, StorageError

    mapping: list[tuple[type[Exception], int, str | None]] = [
        (GatewayError, 0, None),
        (ImageError, 400, None),
        (FormatConfigError, 422, None),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (InvalidQuery, 422, "invalid_query"),
        (StorageError, 503, "storage_error"),
        (EngineError, 503, "engine_unavailable"),
    ]
    for exc_type, status, code in mapping:
        app.add_exception_handler(exc_type, make_handler(status, code))


def make_handler(status: int, code: str | None):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        http_status = status or getattr(exc, "status", 400)
        headers = {"WWW-Authenticate": "Bearer"} if http_status == 401 else None
        return JSONResponse(
            error_body(str(code or getattr(exc, "code", "error")), str(exc)), status_code=http_status, headers=headers
        )

    return handle
