"""What the rater's page shows, as escaped HTML, and who the rater is, from the page's URL.

Everything from data (prompts, instructions, ids) goes through :func:`text` before it reaches
HTML: gr.HTML renders markup, so an unescaped prompt would be script injection.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from arena.choices import LEFT, RIGHT, response
from arena.store import ImageRef, Progress, RaterIdentity

if TYPE_CHECKING:
    from arena.study import Study

__all__ = [
    "asset",
    "completion",
    "consent_html",
    "image_json",
    "done_html",
    "key_hint",
    "keys_json",
    "header_html",
    "identify",
    "image_url",
    "progress_text",
    "text",
    "trial_html",
]

_RATER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
# gr.HTML fills a template; braces and dollars from data must not reach it as syntax.
_TEMPLATE_CHARS = str.maketrans({"$": "&#36;", "{": "&#123;", "}": "&#125;"})
_STATIC = Path(__file__).resolve().parent / "static"
_PROLIFIC_DONE = "https://app.prolific.com/submissions/complete?cc="


def asset(name: str) -> str:
    """Text of a file in ``arena/static`` (the page's JS and CSS)."""
    return (_STATIC / name).read_text(encoding="utf-8")


def text(value: object) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(str(value), quote=True).translate(_TEMPLATE_CHARS)


def _paragraphs(value: str) -> str:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", value) if b.strip()]
    return "".join(f"<p>{text(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def header_html(study: Study) -> str:
    """Title and instructions shown above every trial."""
    return f"<h1>{text(study.title)}</h1>{_paragraphs(study.instructions)}"


def consent_html(study: Study) -> str:
    """The consent screen (hidden until the page's script shows it to a new rater), or ""."""
    if study.consent is None:
        return ""
    return (
        '<div id="arena-consent" hidden><h2>Before you start</h2>'
        f"{_paragraphs(study.consent)}"
        '<div id="arena-example"></div>'
        '<div class="arena-consent-buttons">'
        '<button type="button" id="arena-agree" class="arena-choice arena-side">I agree</button>'
        '<button type="button" id="arena-decline" class="arena-choice arena-other">'
        "I do not agree</button></div></div>"
    )


def image_url(ref: ImageRef) -> str:
    """URL of an image, relative to the page, named by content hash.

    The hash keeps model names (often part of file paths) out of the page, and makes the
    URL immutable so browsers may cache it forever.
    """
    return f"images/{quote(ref.sha256)}"


#: Images narrower than this are shown with nearest-neighbour upscaling: a 32x32 image blown
#: up to half a screen with the browser's smoothing looks blurrier than the model drew it.
PIXELATED_BELOW = 256


def keys_json(study: Study) -> str:
    """``KeyboardEvent.key`` -> response, for the responses the study offers, as JSON.

    The page's script reads it from ``#arena-controls``' ``data-keys``: the keys are defined
    once, in :mod:`arena.choices`.
    """
    keys = {key: choice for choice in study.choices for key in response(choice).keys}
    return json.dumps(keys)


def key_hint(choice: str) -> str:
    """The keys of a response as a hint (hidden by CSS on touch-only devices)."""
    keys = " or ".join(response(choice).hint)
    return f'<span class="arena-key" aria-hidden="true">{text(keys)}</span>'


def _figure(ref: ImageRef, side: str, ratio: str) -> str:
    pixelated = " arena-pixelated" if ref.width < PIXELATED_BELOW else ""
    url = text(image_url(ref))
    name = side.capitalize()
    # The image is the button: a click or tap on it chooses it.
    return (
        f'<figure><button type="button" class="arena-pick" data-choice="{side}" '
        f'aria-label="Choose the {side} image">'
        f'<img src="{url}" class="arena-image{pixelated}" width="{int(ref.width)}" '
        f'height="{int(ref.height)}" style="aspect-ratio: {ratio}" '
        f'alt="{name} image ({int(ref.width)}&times;{int(ref.height)})" draggable="false">'
        f"</button><figcaption>{name} {key_hint(side)} &middot; "
        f'<a href="{url}" target="_blank" rel="noopener">full size</a></figcaption></figure>'
    )


def trial_html(progress: Progress) -> str:
    """The question, the prompt and both images, at the same display size."""
    trial = progress.trial
    if trial is None:
        raise ValueError("trial_html needs a progress with a trial; use done_html")
    # Both images get the left one's aspect ratio so that they always show at the same size.
    ratio = f"{int(trial.left.width)} / {int(trial.left.height)}"
    practice = (
        '<div class="arena-practice">Practice trial: your answer is not counted.</div>'
        if trial.practice
        else ""
    )
    return (
        f"{practice}"
        f'<div class="arena-question" data-question="{text(trial.question)}">'
        f"{text(trial.question_text)}</div>"
        f'<div class="arena-prompt">&ldquo;{text(trial.prompt)}&rdquo;</div>'
        '<div class="arena-pair">'
        f"{_figure(trial.left, LEFT, ratio)}"
        f"{_figure(trial.right, RIGHT, ratio)}"
        "</div>"
    )


def image_json(ref: ImageRef) -> dict[str, object]:
    """An image as the HTTP API describes it: URL (relative to the page) and size."""
    return {"url": image_url(ref), "width": int(ref.width), "height": int(ref.height)}


def completion(study: Study, progress: Progress) -> dict[str, object]:
    """How the session ends: the code, where to send the rater, and how.

    ``url`` is the study's ``completion_url`` (the page redirects there: ``redirect`` is
    true) or, for a Prolific rater of a study without one, Prolific's completion link for the
    code (shown as a link). ``mturk`` is true for MTurk raters: the page posts MTurk's
    external-submit form.
    """
    code = study.completion_code
    url, redirect = study.completion_url, study.completion_url is not None
    if url is None and code and progress.source == "prolific":
        url = _PROLIFIC_DONE + quote(code)
    return {"code": code, "url": url, "redirect": redirect, "mturk": progress.source == "mturk"}


def done_html(study: Study, progress: Progress) -> str:
    """The completion screen: thanks, and the completion code when the study has one."""
    parts = [
        '<div class="arena-done">',
        f"<p><strong>Thank you!</strong> You answered {progress.answered} comparisons.</p>",
    ]
    done = completion(study, progress)
    if done["code"]:
        parts.append(
            f'<p>Your completion code: <span class="arena-code">{text(done["code"])}</span> '
            '<button type="button" id="arena-copy" class="arena-small">Copy</button></p>'
        )
    if done["url"]:
        label = "Continue" if done["redirect"] else "Return to Prolific"
        parts.append(f'<p><a id="arena-return" href="{text(done["url"])}">{label}</a></p>')
    elif done["mturk"]:
        parts.append('<p id="arena-mturk">Submitting your answers to MTurk&hellip;</p>')
    elif not done["code"]:
        parts.append("<p>You can close this page now.</p>")
    parts.append("</div>")
    return "".join(parts)


def progress_text(progress: Progress) -> str:
    """``answered / total``, e.g. ``12 / 40``."""
    return f"{progress.answered} / {progress.total}"


def _clean(value: str | None) -> str | None:
    # Panel references are stored as given, cut to the column width.
    value = (value or "").strip()[:200]
    return value or None


def _checked(value: str, what: str) -> str:
    if not _RATER_RE.match(value):
        raise ValueError(
            f"The {what} in the link is not valid; expected up to 128 letters, digits, "
            "'.', '_', ':', '@' or '-'."
        )
    return value


def identify(params: Mapping[str, str]) -> RaterIdentity:
    """The rater named by a page's query parameters, or a fresh pseudonymous one.

    Prolific (``PROLIFIC_PID``, ``STUDY_ID``, ``SESSION_ID``) wins over MTurk (``workerId``,
    ``assignmentId``), which wins over ``rater``.

    Raises
    ------
    ValueError
        When an id has characters or a length no panel uses (a mangled or hostile link).
    """
    get = {k: _clean(v) for k, v in params.items()}
    if pid := get.get("PROLIFIC_PID"):
        return RaterIdentity(
            id=_checked(pid, "PROLIFIC_PID"),
            source="prolific",
            panel_study_id=get.get("STUDY_ID"),
            panel_session_id=get.get("SESSION_ID"),
        )
    if worker := get.get("workerId"):
        return RaterIdentity(
            id=_checked(worker, "workerId"),
            source="mturk",
            panel_assignment_id=get.get("assignmentId"),
        )
    if rater := get.get("rater"):
        return RaterIdentity(id=_checked(rater, "rater id"), source="url")
    return RaterIdentity(id="r-" + secrets.token_hex(8), source="generated")


def parse_rater_param(value: str) -> dict[str, str]:
    """The ``start`` endpoint's argument as query parameters.

    A plain id means ``rater=<id>``; a query string (``PROLIFIC_PID=...&STUDY_ID=...``, with
    or without ``?``) is taken as the page's parameters would be; empty means none.
    """
    value = (value or "").strip()
    if not value:
        return {}
    if "=" in value:
        return dict(parse_qsl(value.lstrip("?"), keep_blank_values=False))
    return {"rater": value}
