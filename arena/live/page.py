"""The live page's HTML: a prompt box, two anonymous answers, the study's responses.

A plain page (no Gradio): its script (``arena/static/live.js``) sends the prompt, polls for
each image as it arrives and sends the vote. Everything from data goes through
:func:`arena.app_page.text`; the rater's own prompt is written by the script as text
(``textContent``), never as HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arena import app_page
from arena.choices import OPTIONAL, SIDES, response

if TYPE_CHECKING:
    from arena.live.config import LiveSettings
    from arena.study import Study

__all__ = ["live_html"]

_ORDER = (SIDES[0], *OPTIONAL, SIDES[1])


def _figure(side: str) -> str:
    name = side.capitalize()
    return (
        f'<figure id="live-{side}" data-side="{side}">'
        f'<button type="button" class="live-pick" data-choice="{side}" disabled '
        f'aria-label="Choose the {side} image"><div class="live-wait">{name}: waiting</div></button>'
        f'<figcaption>{name} {app_page.key_hint(side)}<span class="live-model"></span>'
        "</figcaption></figure>"
    )


def live_html(study: Study, settings: LiveSettings) -> str:
    """The whole live page for ``study``."""
    buttons = "".join(
        f'<button type="button" data-choice="{c}" class="live-choice '
        f'live-{"side" if c in SIDES else "other"}" disabled>'
        f"{response(c).label} {app_page.key_hint(c)}</button>"
        for c in _ORDER
        if c in study.choices
    )
    question = study.questions[0]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{app_page.text(study.title)}: live</title>"
        f"<style>{app_page.asset('live.css')}</style></head><body>"
        f'<main id="live" data-study="{app_page.text(study.name)}" '
        f'data-max="{int(settings.max_prompt_chars)}" '
        f'data-keys="{app_page.text(app_page.keys_json(study))}">'
        f"<h1>{app_page.text(study.title)}: live</h1>"
        "<p class='live-intro'>Type a prompt: two anonymous models draw it. "
        f"{app_page.text(question.text)} Their names are shown after your vote.</p>"
        '<form id="live-form" autocomplete="off">'
        '<label for="live-prompt" class="live-hidden">Your prompt</label>'
        f'<input id="live-prompt" name="prompt" type="text" '
        f'maxlength="{int(settings.max_prompt_chars)}" placeholder="a red circle above a blue square">'
        '<button type="submit" id="live-go">Draw</button></form>'
        '<div id="live-message" role="alert" hidden></div>'
        '<p id="live-shown" class="live-shown" hidden></p>'
        f'<div class="live-pair">{_figure(SIDES[0])}{_figure(SIDES[1])}</div>'
        f'<div id="live-buttons">{buttons}</div>'
        f"<script>{app_page.asset('live.js')}</script></body></html>"
    )
