"""The rater's page: a Gradio Blocks app over a :class:`~arena.store.Store`.

Two named endpoints carry the whole session, both unqueued and light (one short transaction,
no image processing; see "The hot path" in DESIGN.md):

- ``start(rater_param)``: register the rater and return the trial to show (a refresh resumes
  the unanswered one). The page calls it on load with an empty argument and the rater is read
  from the page URL; API clients pass an id or a query string.
- ``vote(rater_id, token, choice, decision_ms)``: record the vote and return the next trial.

Both return ``(rater_id, token, trial_html, progress, done, buttons)``. Images are not outputs:
the trial HTML holds ``<img>`` URLs the browser fetches from :mod:`arena.serve`'s image route.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import gradio as gr

from arena import app_page
from arena.store import Progress, Store, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["build_app", "page_assets", "BUTTON_LABELS"]

#: Response -> (button label, element id). The element ids are what the keyboard JS clicks.
BUTTON_LABELS: dict[str, tuple[str, str]] = {
    "left": ("Left is better", "arena-left"),
    "tie": ("Tie", "arena-tie"),
    "both_bad": ("Both bad", "arena-both-bad"),
    "right": ("Right is better", "arena-right"),
}


def page_assets() -> dict[str, str]:
    """``js`` and ``css`` for ``gr.mount_gradio_app``/``launch`` (Gradio 6 takes them there)."""
    return {"js": app_page.asset("arena.js"), "css": app_page.asset("arena.css")}


def _refuse(message: str) -> gr.Error:
    # gr.Error renders its message as HTML; messages may quote what the client sent.
    return gr.Error(html.escape(message), print_exception=False)


def build_app(study: Study, store: Store) -> gr.Blocks:
    """Build the rater page for ``study`` over ``store`` (no module-level state).

    Serve it with :func:`arena.serve.create_server`, which adds the image route, the page's
    JS/CSS and the security settings.
    """

    def outputs(p: Progress) -> tuple[Any, ...]:
        if p.done:
            body, token = app_page.done_html(study, p), ""
        else:
            body, token = app_page.trial_html(p), p.trial.token  # type: ignore[union-attr]
        return (
            p.rater,
            token,
            body,
            app_page.progress_text(p),
            p.done,
            gr.Row(visible=not p.done),
        )

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

    def vote(rater_id: str, token: str, choice: str, decision_ms: float) -> tuple[Any, ...]:
        """Record a vote and return the next trial (or the completion screen)."""
        try:
            store.record_vote(study, rater_id, token, choice, decision_ms)
            return outputs(store.next_trial(study, rater_id))
        except VoteRefused as exc:
            raise _refuse(str(exc)) from None

    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
        gr.HTML(app_page.header_html(study), elem_id="arena-header")
        trial = gr.HTML("<p>Loading&hellip;</p>", elem_id="arena-trial")
        with gr.Row(elem_id="arena-buttons", visible=False) as buttons:
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
        outs = [rater_box, token_box, trial, progress, done_box, buttons]

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
            ).then(
                None,
                inputs=[token_box],
                js="(t) => (window.arena ? window.arena.shown(t) : [])",
            )
    return demo
