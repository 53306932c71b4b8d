"""The rater's page: a Gradio Blocks page whose two calls go to :mod:`arena.api`.

The page is laid out by Gradio (header, trial area, buttons, progress), but it has no Gradio
events: its script (``arena/static/arena.js``) calls ``POST api/start`` on load and ``POST
api/vote`` per vote, and writes the answers into the page. A Gradio event cost several times
the store's own work per vote (docs/benchmarks.md), and a plain JSON route answers every
failure with a status and a message the script can show. Images are not outputs: the trial
HTML holds ``<img>`` URLs the browser fetches from :mod:`arena.serve`'s image route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from arena import app_page
from arena.choices import OPTIONAL, SIDES, response
from arena.store import Store

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["build_app", "page_assets", "BUTTON_ORDER", "BUTTONS_CSS", "controls_html"]

#: The buttons from left to right: each side's button on its side, the optional responses
#: between them. The script reads the choice from ``data-choice``.
BUTTON_ORDER: tuple[str, ...] = (SIDES[0], *OPTIONAL, SIDES[1])


#: The buttons only make sense next to a trial's two images: hidden while the page loads, on
#: the completion screen and whenever no pair is shown.
BUTTONS_CSS = "#arena-controls:not(:has(#arena-trial .arena-pair)) #arena-buttons{display:none}\n"


def page_assets() -> dict[str, str]:
    """``js`` and ``css`` for ``gr.mount_gradio_app``/``launch`` (Gradio 6 takes them there)."""
    return {"js": app_page.asset("arena.js"), "css": app_page.asset("arena.css") + BUTTONS_CSS}


def controls_html(study: Study) -> str:
    """The trial area, the message line, the response buttons and the progress line."""
    # Left and right are the primary answers; tie and both bad look different on purpose.
    buttons = "".join(
        f'<button type="button" id="{response(choice).element_id}" data-choice="{choice}" '
        f'class="arena-choice arena-{"side" if choice in SIDES else "other"}">'
        f"{response(choice).label} {app_page.key_hint(choice)}</button>"
        for choice in BUTTON_ORDER
        if choice in study.choices
    )
    return (
        f'<div id="arena-controls" data-study="{app_page.text(study.name)}" '
        f'data-keys="{app_page.text(app_page.keys_json(study))}">'
        f"{app_page.consent_html(study)}"
        '<div id="arena-trial"><p>Loading&hellip;</p></div>'
        '<div id="arena-message" role="alert" hidden></div>'
        f'<div id="arena-buttons">{buttons}</div>'
        '<div id="arena-progress" aria-live="polite"></div>'
        "</div>"
    )


def build_app(study: Study, store: Store) -> gr.Blocks:
    """Build the rater page for ``study`` over ``store`` (no module-level state).

    Serve it with :func:`arena.serve.create_server`, which adds the rater API, the image
    route, the page's JS/CSS and the security settings.
    """
    # Index the images and scheduling cells now, not on the first rater's vote (a second for
    # a PartiPrompts-sized study).
    store.prepare(study)
    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
        gr.HTML(app_page.header_html(study), elem_id="arena-header")
        gr.HTML(controls_html(study), elem_id="arena-page")
    return demo
