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

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from arena import app_page
from arena.http_json import (
    ERRORS,
    MAX_BODY,
    Refusal,
    error_response,
    json_response,
    read_body,
    string_field,
)
from arena.store import Progress, Store, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["api_router", "payload", "MAX_BODY", "ERRORS"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Threads running store calls where the database takes concurrent writers.
POOL_THREADS = 8

_RETRY_MESSAGES = {
    "busy": "The server is busy and your answer was not saved; please try again in a moment.",
    "unavailable": "The study's database is not answering; please try again in a moment.",
    "storage_full": (
        "The server has run out of storage and your answer was not saved; "
        "please try again later, or tell the researcher."
    ),
    "internal": "Something went wrong on the server; please try again.",
}


def _database_failure(exc: DBAPIError) -> Refusal:
    """Name what a failed database call means for the rater; the details go to the log."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        code = "busy"
    elif "full" in text or "no space" in text:
        code = "storage_full"
    else:
        code = "unavailable"
    log.warning("store call failed (%s): %s", code, text)
    return Refusal(code, _RETRY_MESSAGES[code])


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


def _params(body: dict[str, Any]) -> dict[str, str]:
    params = body.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise Refusal("invalid", "The field 'params' must be an object of strings.")
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
            return json_response(await work())
        except Refusal as exc:
            return error_response(exc.code, str(exc))
        except VoteRefused as exc:
            return error_response(exc.code, str(exc))
        except Exception:
            log.exception("unexpected error in the rater API")
            return error_response("internal", _RETRY_MESSAGES["internal"])

    @router.post("/api/start", include_in_schema=False)
    async def start(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await read_body(request)
            params, secret = _params(body), string_field(body, "secret", optional=True)
            consent = body.get("consent", False)
            if not isinstance(consent, bool):
                raise Refusal("invalid", "The field 'consent' must be true or false.")
            try:
                who = app_page.identify(params)
            except ValueError as exc:
                raise Refusal("invalid_link", str(exc)) from None
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
            body = await read_body(request)
            rater, secret = string_field(body, "rater"), string_field(body, "secret", optional=True)
            token, choice = body.get("token"), body.get("choice")
            receipt, progress = await call(
                store.vote_and_next, study, rater, token, choice, body.get("decision_ms"), secret
            )
            return {**payload(progress, study), "recorded": receipt.recorded}

        return await answer(work)

    return router, lambda: pool.shutdown(wait=False, cancel_futures=True)
