"""The arena server: FastAPI with the rater page at ``/`` and the study's images at ``/images``.

Security floor: Gradio's monitoring dashboard is off (and ``/monitoring`` answers 404 before
Gradio sees it), server-side rendering is off, the API/settings footer and the browser's run
history are off, and the image route only serves files that were ingested for this study, from
its image folder, unmodified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from arena.admin import ADMIN_PASSWORD_ENV, admin_router
from arena.app import build_app, page_assets
from arena.store import Store

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["create_server", "serve", "IMAGE_CACHE"]

#: Images never change once ingested (ingest refuses a changed file), so caches may keep them.
IMAGE_CACHE = "public, max-age=31536000, immutable"


def _image_route(app: FastAPI, study: Study, store: Store) -> None:
    root = study.image_dir.resolve()

    # A plain (sync) handler: Starlette runs it in its thread pool, so the store lookup
    # (a dict hit after the first request) never blocks the event loop.
    @app.get("/images/{name:path}", include_in_schema=False)
    def image(name: str) -> FileResponse:
        rel = store.image_file(study.name, name)
        if rel is None:
            raise HTTPException(status_code=404, detail="No such image.")
        path = (root / rel).resolve()
        # Defence in depth: stored paths were checked at ingest, but the folder may have changed.
        if not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(status_code=404, detail="No such image.")
        return FileResponse(path, headers={"Cache-Control": IMAGE_CACHE})


def _no_monitoring(app: FastAPI) -> None:
    # Routes on the parent app match before the Gradio mount at "/", so these shadow Gradio's.
    @app.get("/monitoring", include_in_schema=False)
    @app.get("/monitoring/{rest:path}", include_in_schema=False)
    def monitoring(rest: str = "") -> None:
        raise HTTPException(status_code=404, detail="Not Found")


def _admin(app: FastAPI, study: Study, store: Store, password: str | None) -> None:
    if password:
        app.include_router(admin_router(study, store, password))
        return

    @app.get("/admin", include_in_schema=False)
    def admin_off() -> None:
        raise HTTPException(
            status_code=404, detail=f"The admin page is off; set {ADMIN_PASSWORD_ENV}."
        )


def create_server(study: Study, store: Store, *, admin_password: str | None = None) -> FastAPI:
    """The ASGI app for one study: images, the admin page, then the Gradio page at ``/``.

    ``admin_password`` turns on ``/admin`` behind HTTP Basic auth (user ``admin``).
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    _image_route(app, study, store)
    _no_monitoring(app)
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
        show_error=False,  # unexpected errors stay in the log; gr.Error messages still show
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

    app = create_server(study, store, admin_password=admin_password)
    uvicorn.run(app, host=host, port=port, log_level="warning")
