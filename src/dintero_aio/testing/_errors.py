"""Dintero's error body, `{"error": {"code": ..., "message": ..., "errors": [...]}}`, as the
emulator sends it: raised by the state model and the routes, rendered once by the app."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """An answer in Dintero's error shape; raised anywhere below a route, rendered by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors
        self.headers = dict(headers or {})

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        """The JSON response, with this error's headers and then `headers`."""
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            error["errors"] = self.errors
        return JSONResponse(
            {"error": error}, self.status, headers={**self.headers, **(headers or {})}
        )


def status_code_name(status: int) -> str:
    """An error code for a status without a more specific one: 503 -> "service_unavailable"."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"
