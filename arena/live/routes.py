"""The live page's routes: ``GET /live``, ``POST /api/live/prompt|poll|vote`` and
``GET /live/images/<sha256>``.

Errors have the rater API's shape (``{code, message, retry}``, docs/http-api.md). A poll is a
dictionary read in memory (a long poll waits on the event loop, woken by the hub's listener,
never on a thread); the prompt and the vote are queued to the hub's own store thread,
so live mode adds no work to the controlled study's vote path (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from arena.http_json import Refusal, error_response, json_response, read_body, string_field
from arena.live.hub import Battle, Busy, LiveHub
from arena.live.page import live_html

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["live_router", "BUSY_MESSAGE", "EMPTY_MESSAGE"]

BUSY_MESSAGE = "The live models are busy; try again in a few seconds."
EMPTY_MESSAGE = "Type a prompt first; the box is empty."
UNAVAILABLE_MESSAGE = "The live models could not be loaded; please tell the researcher."
FAILED_MESSAGE = "This prompt could not be drawn; please try another one."
_SHA_PNG = re.compile(r"^([0-9a-f]{64})\.png$")
_RATER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
#: Longest a vote waits for its store write before the rater is asked to retry.
VOTE_WAIT_S = 30.0
#: Longest a poll may wait for the next image (``wait_ms``); the page asks for 2 s at a time.
MAX_POLL_WAIT_MS = 10_000


def _poll_wait(body: dict[str, Any]) -> tuple[int, float]:
    """The poll's ``seen`` (sides the page has, 0 to 2) and ``wait_ms`` as seconds (0: none)."""
    seen, wait_ms = body.get("seen", 0), body.get("wait_ms", 0)
    if isinstance(seen, bool) or not isinstance(seen, int) or not 0 <= seen <= 2:
        raise Refusal("invalid", "The field 'seen' must be 0, 1 or 2 (images the page has).")
    if (
        isinstance(wait_ms, bool)
        or not isinstance(wait_ms, int | float)
        or not 0 <= wait_ms <= MAX_POLL_WAIT_MS
    ):
        raise Refusal(
            "invalid",
            f"The field 'wait_ms' must be a number of milliseconds from 0 to {MAX_POLL_WAIT_MS}.",
        )
    return seen, wait_ms / 1000


def _image(battle: Battle, side: str) -> dict[str, Any] | None:
    image = battle.images.get(side)
    if image is None:
        return None
    return {
        "url": f"live/images/{image['sha256']}.png",
        "width": int(image["width"]),
        "height": int(image["height"]),
    }


def _state(battle: Battle) -> dict[str, Any]:
    """What the page may know of a battle: images by hash, never the models before a vote."""
    sides = ("left", "right")
    out: dict[str, Any] = {
        "token": battle.token,
        "images": {s: _image(battle, s) for s in sides},
        "failed": FAILED_MESSAGE if battle.failed else None,
        "done": all(s in battle.images or s in battle.failed for s in sides),
        "voted": battle.choice is not None,
    }
    return out


def live_router(study: Study, hub: LiveHub, display_names: dict[str, str]) -> APIRouter:
    """The live routes of ``study``; ``display_names`` (model id -> name) are shown after a vote."""
    router = APIRouter()
    settings = hub.settings
    page = live_html(study, settings)
    root = settings.image_dir.resolve()

    def battle_of(body: dict[str, Any]) -> Battle:
        token = string_field(body, "token")
        battle = hub.battle(token)
        if battle is None:
            raise Refusal("unknown_trial", "This drawing is not known here; type the prompt again.")
        return battle

    async def answer(work) -> Response:
        try:
            return json_response(await work())
        except Refusal as exc:
            return error_response(exc.code, str(exc))

    @router.get("/live", include_in_schema=False)
    async def live_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.post("/api/live/prompt", include_in_schema=False)
    async def prompt(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await read_body(request)
            text = (string_field(body, "prompt") or "").strip()
            rater = string_field(body, "rater", optional=True) or ""
            if not text:
                raise Refusal("invalid", EMPTY_MESSAGE)
            if len(text) > settings.max_prompt_chars:
                raise Refusal(
                    "invalid",
                    f"The prompt is {len(text)} characters long; the most is "
                    f"{settings.max_prompt_chars}.",
                )
            if not _RATER.match(rater):
                raise Refusal("invalid", "The field 'rater' must be an id of letters and digits.")
            try:
                battle = hub.submit(text, rater)
            except Busy:
                if hub.fatal:  # the worker could not load the models: the log says why
                    raise Refusal("unavailable", UNAVAILABLE_MESSAGE) from None
                raise Refusal("busy", BUSY_MESSAGE) from None
            return _state(battle)

        return await answer(work)

    async def settled(battle: Battle, seen: int, wait_s: float) -> None:
        """Return when ``battle`` has more than ``seen`` sides settled, or after ``wait_s``."""
        loop = asyncio.get_running_loop()
        arrived = loop.create_future()

        def wake() -> None:  # the hub's listener thread: hand over to the event loop
            with contextlib.suppress(RuntimeError):  # a loop already closed: nobody waits
                loop.call_soon_threadsafe(lambda: arrived.done() or arrived.set_result(None))

        if not hub.watch(battle, seen, wake):
            return
        try:
            await asyncio.wait_for(arrived, wait_s)
        except TimeoutError:
            pass
        finally:
            hub.unwatch(battle, wake)

    @router.post("/api/live/poll", include_in_schema=False)
    async def poll(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await read_body(request)
            battle = battle_of(body)
            seen, wait_s = _poll_wait(body)
            if wait_s > 0:
                # A long poll: the answer leaves as the image arrives, not at the next tick.
                await settled(battle, seen, wait_s)
            return _state(battle)

        return await answer(work)

    @router.post("/api/live/vote", include_in_schema=False)
    async def vote(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            body = await read_body(request)
            battle = battle_of(body)
            choice, ms = body.get("choice"), body.get("decision_ms")
            if choice not in study.choices:
                raise Refusal(
                    "invalid", f"The field 'choice' must be one of {list(study.choices)}."
                )
            if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms < 86_400_000:
                raise Refusal(
                    "invalid", "The field 'decision_ms' must be a number of milliseconds."
                )
            if not all(s in battle.images for s in ("left", "right")):
                raise Refusal("invalid", "Both images must be on screen before a vote.")
            future = hub.vote(battle, choice, float(ms))
            try:
                recorded = await asyncio.wait_for(asyncio.wrap_future(future), VOTE_WAIT_S)
            except Exception:
                raise Refusal("busy", "Your vote was not saved; please try again.") from None
            names = {
                s: display_names.get(m, m)
                for s, m in zip(("left", "right"), battle.models, strict=True)
            }
            return {**_state(battle), "recorded": recorded, "models": names}

        return await answer(work)

    @router.get("/live/images/{name}", include_in_schema=False)
    def image(name: str) -> FileResponse:
        match = _SHA_PNG.match(name)
        rel = hub.image_path(match.group(1)) if match else None
        # Only files of the live/ folder, by their hash, unlinked, unchanged.
        if rel is None or not rel.startswith("live/"):
            raise HTTPException(status_code=404, detail="No such image.")
        path = os.path.normpath(root / rel)
        if os.path.realpath(path) != path or not Path(path).is_relative_to(root / "live"):
            raise HTTPException(status_code=404, detail="No such image.")
        try:
            data = Path(path).read_bytes()
        except OSError:
            raise HTTPException(status_code=404, detail="No such image.") from None
        if hashlib.sha256(data).hexdigest() != match.group(1):
            raise HTTPException(status_code=404, detail="No such image.")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return router
