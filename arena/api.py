"""The rater's HTTP API: ``POST /api/start`` and ``POST /api/vote``, plain JSON routes
(and ``POST /api/example``, a read-only example pair for MTurk's preview).

The rater's page is a Gradio page, but its two calls bypass Gradio's event machinery: per
vote, Gradio's request path cost several times the store's own work (docs/benchmarks.md), so
the round trip *vote -> next trial* is a JSON route on the same FastAPI app. The contract
(fields, answers, errors) is written down in docs/http-api.md; load tools and other front
ends use it as the page does.

Every store call runs on a worker thread owned by the app (never on the event loop: a write
lock held by another process would freeze image requests too). On SQLite, whose writers take
turns anyway, one thread does all of them, so threads never queue on the database's lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from arena import app_page
from arena.store import Progress, Store, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["api_router", "payload", "MAX_BODY", "ERRORS"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Largest request body accepted (a vote is about 150 bytes).
MAX_BODY = 4096
#: Threads running store calls where the database takes concurrent writers.
POOL_THREADS = 8

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
_RETRY_MESSAGES = {
    "busy": "The server is busy and your answer was not saved; please try again in a moment.",
    "unavailable": "The study's database is not answering; please try again in a moment.",
    "storage_full": (
        "The server has run out of storage and your answer was not saved; "
        "please try again later, or tell the researcher."
    ),
    "internal": "Something went wrong on the server; please try again.",
}


class _Failure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _error(code: str, message: str) -> Response:
    status = ERRORS[code]
    retry = status >= 500
    body = {"error": {"code": code, "message": message, "retry": retry}}
    return _json(body, status, {"Retry-After": "2"} if retry else None)


def _database_failure(exc: DBAPIError) -> _Failure:
    """Name what a failed database call means for the rater; the details go to the log."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        code = "busy"
    elif "full" in text or "no space" in text:
        code = "storage_full"
    else:
        code = "unavailable"
    log.warning("store call failed (%s): %s", code, text)
    return _Failure(code, _RETRY_MESSAGES[code])


def payload(progress: Progress, study: Study) -> dict[str, Any]:
    """The answer to ``start`` and ``vote``: the rater's progress and what to show now."""
    trial = progress.trial
    out: dict[str, Any] = {
        "rater": progress.rater,
        "answered": progress.answered,
        "total": progress.total,
        "done": trial is None,
        "trial": None,
        "completion": None,
    }
    if trial is None:
        out["completion"] = app_page.completion(study, progress)
        out["html"] = app_page.done_html(study, progress)
    else:
        out["trial"] = {
            "token": trial.token,
            "question": trial.question,
            "question_text": trial.question_text,
            "prompt": trial.prompt,
            "practice": trial.practice,
            "left": app_page.image_json(trial.left),
            "right": app_page.image_json(trial.right),
        }
        out["html"] = app_page.trial_html(progress)
    return out


async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Failure("too_large", f"The request is larger than {MAX_BODY} bytes.")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise _Failure("too_large", f"The request is larger than {MAX_BODY} bytes.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _Failure("invalid", "The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise _Failure("invalid", "The request body must be a JSON object.")
    return body


def _string(body: dict[str, Any], key: str, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Failure("invalid", f"The field '{key}' must be a string.")
    return value


def _params(body: dict[str, Any]) -> dict[str, str]:
    params = body.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise _Failure("invalid", "The field 'params' must be an object of strings.")
    return params


def api_router(study: Study, store: Store) -> tuple[APIRouter, Callable[[], None]]:
    """The two routes for ``study`` over ``store``, and a function that stops their threads."""
    threads = 1 if store.serialized else POOL_THREADS
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="arena-store")
    router = APIRouter()

    async def call(fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except VoteRefused:
            raise
        except DBAPIError as exc:
            raise _database_failure(exc) from None

    async def answer(work: Callable[[], Any]) -> Response:
        try:
            return _json(await work())
        except _Failure as exc:
            return _error(exc.code, str(exc))
        except VoteRefused as exc:
            return _error(exc.code, str(exc))
        except Exception:
            log.exception("unexpected error in the rater API")
            return _error("internal", _RETRY_MESSAGES["internal"])

    @router.post("/api/start", include_in_schema=False)
    async def start(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await _body(request)
            params, secret = _params(body), _string(body, "secret", optional=True)
            consent = body.get("consent", False)
            if not isinstance(consent, bool):
                raise _Failure("invalid", "The field 'consent' must be true or false.")
            try:
                who = app_page.identify(params)
            except ValueError as exc:
                raise _Failure("invalid_link", str(exc)) from None
            session = await call(store.start, study, who, secret, consent)
            return {**payload(session.progress, study), "secret": session.secret}

        return await answer(work)

    @router.post("/api/decline", include_in_schema=False)
    async def decline(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            await call(store.decline, study)
            return {"declined": True}

        return await answer(work)

    @router.post("/api/example", include_in_schema=False)
    async def example(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            trial = await call(store.example, study)
            if trial is None:
                return {"html": ""}
            return {"html": app_page.trial_html(Progress("", "", 0, 0, trial))}

        return await answer(work)

    @router.post("/api/vote", include_in_schema=False)
    async def vote(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await _body(request)
            rater, secret = _string(body, "rater"), _string(body, "secret", optional=True)
            token, choice = body.get("token"), body.get("choice")
            receipt, progress = await call(
                store.vote_and_next, study, rater, token, choice, body.get("decision_ms"), secret
            )
            return {**payload(progress, study), "recorded": receipt.recorded}

        return await answer(work)

    return router, lambda: pool.shutdown(wait=False, cancel_futures=True)
