"""The rater's page: a Gradio Blocks app over a :class:`~arena.store.Store`.

Two named endpoints carry the whole session, both unqueued and light (one short transaction,
no image processing; see "The hot path" in DESIGN.md):

- ``start(rater_param)``: register the rater and return the trial to show (a refresh resumes
  the unanswered one). The page calls it on load with an empty argument and the rater is read
  from the page URL; API clients pass an id or a query string.
- ``vote(rater_id, token, choice, decision_ms)``: record the vote and return the next trial.

Both return ``(rater_id, token, trial_html, progress, done)``. Images are not outputs: the
trial HTML holds ``<img>`` URLs the browser fetches from :mod:`arena.serve`'s image route.

Per vote, Gradio's own work costs more than the database's, so the vote event is kept to what
it must do: one store call (vote and next trial in one transaction), raw values in and out
(``preprocess=False``, ``postprocess=False``: every component's pre/postprocess is a thread
hop, and these are plain strings, a number and a bool), and no layout update. The response
buttons are shown by CSS only while a trial pair is on the page (:data:`BUTTONS_CSS`) instead
of by a ``gr.Row(visible=...)`` output, which Gradio answers by constructing a new Row per
request.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import gradio as gr

from arena import app_page
from arena.store import Progress, Store, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["build_app", "page_assets", "BUTTON_LABELS", "BUTTONS_CSS"]

#: Response -> (button label, element id). The element ids are what the keyboard JS clicks.
BUTTON_LABELS: dict[str, tuple[str, str]] = {
    "left": ("Left is better", "arena-left"),
    "tie": ("Tie", "arena-tie"),
    "both_bad": ("Both bad", "arena-both-bad"),
    "right": ("Right is better", "arena-right"),
}


#: The buttons only make sense next to a trial's two images: hidden while the page loads, on
#: the completion screen and whenever no pair is shown.
BUTTONS_CSS = ".gradio-container:not(:has(#arena-trial .arena-pair)) #arena-buttons{display:none}\n"


def page_assets() -> dict[str, str]:
    """``js`` and ``css`` for ``gr.mount_gradio_app``/``launch`` (Gradio 6 takes them there)."""
    return {"js": app_page.asset("arena.js"), "css": app_page.asset("arena.css") + BUTTONS_CSS}


def _refuse(message: str) -> gr.Error:
    # gr.Error renders its message as HTML; messages may quote what the client sent.
    return gr.Error(html.escape(message), print_exception=False)


def build_app(study: Study, store: Store) -> gr.Blocks:
    """Build the rater page for ``study`` over ``store`` (no module-level state).

    Serve it with :func:`arena.serve.create_server`, which adds the image route, the page's
    JS/CSS and the security settings.
    """
    # Index the images and scheduling cells now, not on the first rater's vote (a second for
    # a PartiPrompts-sized study).
    store.prepare(study)

    def outputs(p: Progress) -> tuple[str, str, str, str, bool]:
        if p.done:
            body, token = app_page.done_html(study, p), ""
        else:
            body, token = app_page.trial_html(p), p.trial.token  # type: ignore[union-attr]
        return p.rater, token, body, app_page.progress_text(p), p.done

    def start(rater_param: str, request: gr.Request) -> tuple[Any, ...]:
        """Register the rater (from the argument or the page URL) and return their trial."""
        try:
            params = app_page.parse_rater_param(rater_param)
            if not params and request is not None:
                params = dict(request.query_params)
            who = app_page.identify(params)
            store.join(study, who)
            return outputs(store.next_trial(study, who.id))
        except (VoteRefused, ValueError) as exc:
            raise _refuse(str(exc)) from None

    def vote(rater_id: Any, token: Any, choice: Any, decision_ms: Any) -> tuple[Any, ...]:
        """Record a vote and return the next trial (or the completion screen).

        The arguments arrive as the client sent them (no preprocessing): the store refuses
        anything that is not a string token and choice or a finite, non-negative time.
        """
        try:
            _, progress = store.vote_and_next(
                study, rater_id if isinstance(rater_id, str) else "", token, choice, decision_ms
            )
            return outputs(progress)
        except VoteRefused as exc:
            raise _refuse(str(exc)) from None

    # The vote runs in Gradio's worker threads even on SQLite, where running it on the event
    # loop would save ~3 ms of CPU per vote: a write lock held by another process (an ingest)
    # would then freeze the whole server, image requests included, for up to the busy timeout.

    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
        gr.HTML(app_page.header_html(study), elem_id="arena-header")
        trial = gr.HTML("<p>Loading&hellip;</p>", elem_id="arena-trial")
        with gr.Row(elem_id="arena-buttons"):
            response_buttons = {
                choice: gr.Button(label, elem_id=elem_id, variant="primary")
                for choice, (label, elem_id) in BUTTON_LABELS.items()
                if choice in study.choices
            }
        progress = gr.Markdown("", elem_id="arena-progress")
        rater_box = gr.Textbox(visible=False)
        token_box = gr.Textbox(visible=False)
        param_box = gr.Textbox(visible=False)
        choice_box = gr.Textbox(visible=False)
        ms_box = gr.Number(visible=False)
        done_box = gr.Checkbox(visible=False)
        outs = [rater_box, token_box, trial, progress, done_box]

        demo.load(
            start,
            inputs=[param_box],
            outputs=outs,
            api_name="start",
            queue=False,
            show_progress="hidden",
        ).then(
            None,
            inputs=[rater_box, token_box],
            js="(r, t) => (window.arena ? window.arena.remember(r, t) : [])",
        )
        for i, (choice, button) in enumerate(response_buttons.items()):
            # Every button calls the same `vote`; its JS fills in the choice and the time.
            button.click(
                vote,
                inputs=[rater_box, token_box, choice_box, ms_box],
                outputs=outs,
                js=f"(r, t, c, m) => window.arena.vote({choice!r}, r, t)",
                api_name="vote" if i == 0 else None,
                api_visibility="public" if i == 0 else "private",
                queue=False,
                show_progress="hidden",
                preprocess=False,
                postprocess=False,
            ).then(
                None,
                inputs=[token_box],
                js="(t) => (window.arena ? window.arena.shown(t) : [])",
            )
    return demo
