"""JSON answers and refusals shared by the rater API (:mod:`arena.api`) and the live page
(:mod:`arena.live.routes`): one error shape, ``{"error": {code, message, retry}}``
(docs/http-api.md), and the checks of a request body that both apply.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

__all__ = ["ERRORS", "MAX_BODY", "Refusal", "error_response", "json_response", "read_body",
           "string_field"]  # fmt: skip

#: Largest request body accepted (a vote is about 150 bytes).
MAX_BODY = 4096
#: Error code -> HTTP status. Refusals (4xx) are final; the 5xx ones say ``retry: true``.
ERRORS: dict[str, int] = {
    "invalid": 400,
    "invalid_link": 400,
    "too_large": 413,
    "unknown_rater": 404,
    "unknown_trial": 404,
    "not_yours": 403,
    "closed": 403,
    "consent_required": 403,
    "busy": 503,
    "unavailable": 503,
    "storage_full": 507,
    "internal": 500,
}


class Refusal(Exception):
    """A request refused with an error ``code`` of :data:`ERRORS` and a message for the rater."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(code: str, message: str) -> Response:
    status = ERRORS[code]
    retry = status >= 500
    body = {"error": {"code": code, "message": message, "retry": retry}}
    return json_response(body, status, {"Retry-After": "2"} if retry else None)


async def read_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Refusal("too_large", f"The request is larger than {MAX_BODY} bytes.")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Refusal("too_large", f"The request is larger than {MAX_BODY} bytes.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refusal("invalid", "The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise Refusal("invalid", "The request body must be a JSON object.")
    return body


def string_field(body: dict[str, Any], key: str, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Refusal("invalid", f"The field '{key}' must be a string.")
    return value
