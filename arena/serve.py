"""The arena server: FastAPI with the rater page at ``/``, its API at ``/api`` (see
:mod:`arena.api`) and the study's images at ``/images``.

Security floor: Gradio's monitoring dashboard is off (and ``/monitoring`` answers 404 before
Gradio sees it), server-side rendering is off, the API/settings footer and the browser's run
history are off, and the image route only serves files that were ingested for this study, from
its image folder, unmodified.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from arena.admin import ADMIN_PASSWORD_ENV, admin_router
from arena.api import api_router
from arena.app import build_app, page_assets
from arena.store import Store

if TYPE_CHECKING:
    from arena.live.hub import LiveHub
    from arena.study import Study

__all__ = ["create_server", "serve", "IMAGE_CACHE", "SHADOWED"]

log = logging.getLogger(__name__)

#: Images never change once ingested (ingest refuses a changed file), so caches may keep them.
IMAGE_CACHE = "public, max-age=31536000, immutable"


class _VerifiedFiles:
    """Which image files were checked against their ingested sha256, by their stat.

    A file is hashed once; it is hashed again only when its size, mtime or inode changes, so
    a file replaced on disk after ingest is never served under the old hash's URL.
    """

    def __init__(self) -> None:
        self._ok: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def check(self, path: str, sha256: str) -> bool:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode):  # a link, a folder, a device
            return False
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            if self._ok.get(path) == key:
                return True
        digest = hashlib.sha256()
        try:
            with open(path, "rb", opener=_no_follow) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            return False
        if digest.hexdigest() != sha256:
            log.warning("%s differs from its ingested sha256; not served", path)
            return False
        with self._lock:
            self._ok[path] = key
        return True


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def _image_route(app: FastAPI, study: Study, store: Store) -> None:
    root = study.image_dir.resolve()
    verified = _VerifiedFiles()

    # A plain (sync) handler: Starlette runs it in its thread pool, so the store lookup
    # (a dict hit after the first request) and the first hash never block the event loop.
    @app.get("/images/{name:path}", include_in_schema=False)
    def image(name: str) -> FileResponse:
        ref = store.image(study.name, name)
        if ref is None:
            raise HTTPException(status_code=404, detail="No such image.")
        path = os.path.normpath(root / ref.path)
        # Stored paths were checked at ingest, but the folder may have changed since: no link
        # anywhere on the way, nothing outside the folder, and the bytes that were ingested.
        if os.path.realpath(path) != path or not Path(path).is_relative_to(root):
            raise HTTPException(status_code=404, detail="No such image.")
        if not verified.check(path, ref.sha256):
            raise HTTPException(status_code=404, detail="No such image.")
        return FileResponse(path, headers={"Cache-Control": IMAGE_CACHE})


#: Gradio routes the arena turns off: the monitoring dashboard, the upload route (the page has
#: no upload, and Gradio's accepts any file of any size from anyone) and the API schemas.
SHADOWED = (
    "/monitoring",
    "/monitoring/{rest:path}",
    "/gradio_api/upload",
    "/gradio_api/upload/{rest:path}",
    "/upload",
    "/openapi.json",
    "/gradio_api/openapi.json",
    "/docs",
    "/redoc",
)


def _shadow(app: FastAPI) -> None:
    # Routes on the parent app match before the Gradio mount at "/", so these shadow Gradio's.
    def shadowed(rest: str = "") -> None:
        raise HTTPException(status_code=404, detail="Not Found")

    for path in SHADOWED:
        app.add_api_route(path, shadowed, methods=["GET", "POST"], include_in_schema=False)


def _admin(app: FastAPI, study: Study, store: Store, password: str | None) -> None:
    if password:
        app.include_router(admin_router(study, store, password))
        return

    @app.get("/admin", include_in_schema=False)
    def admin_off() -> None:
        raise HTTPException(
            status_code=404, detail=f"The admin page is off; set {ADMIN_PASSWORD_ENV}."
        )


def create_server(
    study: Study,
    store: Store,
    *,
    admin_password: str | None = None,
    live: LiveHub | None = None,
) -> FastAPI:
    """The ASGI app for one study: images, the admin page, then the Gradio page at ``/``.

    ``admin_password`` turns on ``/admin`` behind HTTP Basic auth (user ``admin``); ``live``
    (:func:`arena.live.hub.open_live`) adds the live page at ``/live``; its owner closes it.
    """
    router, stop_api = api_router(study, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        stop_api()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.include_router(router)
    if live is not None:
        from arena.live.routes import live_router

        app.include_router(live_router(study, live, live.display_names))
    else:

        @app.get("/live", include_in_schema=False)
        def live_off() -> None:
            raise HTTPException(
                status_code=404,
                detail="This study has no live page; its study file has no [live] table.",
            )

    _image_route(app, study, store)
    _shadow(app)
    _admin(app, study, store, admin_password)
    assets = page_assets()
    return gr.mount_gradio_app(
        app,
        build_app(study, store),
        path="/",
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        enable_monitoring=False,
        mcp_server=False,
        show_error=False,  # unexpected errors stay in the log
        max_file_size=1,  # no uploads (the route is shadowed too)
        js=assets["js"],
        css=assets["css"],
    )


def serve(
    study: Study,
    store: Store,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    admin_password: str | None = None,
) -> None:
    """Run the arena with uvicorn until interrupted."""
    import uvicorn

    from arena.live.hub import open_live

    live = open_live(study, store)  # the [live] table's worker process, if the study has one
    try:
        app = create_server(study, store, admin_password=admin_password, live=live)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if live is not None:
            live.close()
