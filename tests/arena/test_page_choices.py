"""The rater's page as a new rater meets it, in a real Chromium at laptop and phone sizes:
everything on one screen, choosing by image, key and tap, the question marked when it
changes, the completion code copied, Prolific's redirect and MTurk's preview and submit."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest
from servers import BROWSER, running
from servers import on_screen as _on_screen
from servers import trial_on_screen as _all_on_screen

from arena.ingest import ingest
from arena.serve import create_server
from arena.store import Store
from arena.store.schema import RaterRow

pytestmark = BROWSER

SHOWN = "window.arena && window.arena.shownAt !== null && !window.arena.pending"
QUESTIONS = (("quality", "Which image looks better?"), ("alignment", "Which fits the prompt?"))
THANKS = "http://127.0.0.1:9/thanks"  # never reached: the test's route answers it
SANDBOX = "https://workersandbox.mturk.com"


@pytest.fixture
def serve(make_study, tmp_path):
    with ExitStack() as stack:

        def start(**options):
            study, prompts = make_study(**options)
            store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
            stack.callback(store.close)
            ingest(store, study, prompts)
            return stack.enter_context(running(create_server(study, store))), study, store

        yield start


def test_laptop_click_keys_and_question_changes(chromium, serve) -> None:
    base, study, store = serve(quota=6, tie=True, questions=QUESTIONS)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base + "?rater=laptop")
    page.wait_for_function(SHOWN, timeout=30_000)
    _all_on_screen(page)
    _on_screen(page, "#arena-tie")
    assert page.is_visible("#arena-left .arena-key")  # key hints with a keyboard
    previous = None
    for action in ("click-left", "3", "click-right", "4", "2", "1", "t"):
        question = page.get_attribute("#arena-trial .arena-question", "data-question")
        changed = "arena-changed" in page.get_attribute("#arena-trial .arena-question", "class")
        assert changed == (previous is not None and question != previous), (previous, question)
        answered = int(page.inner_text("#arena-progress").split("/")[0])
        if action.startswith("click-"):
            page.click(f"#arena-trial button.arena-pick[data-choice={action[6:]}]")
        else:
            page.keyboard.press(action)
        if action == "4":  # both bad is not offered by this study: the key does nothing
            page.wait_for_timeout(300)
            assert int(page.inner_text("#arena-progress").split("/")[0]) == answered
            continue
        page.wait_for_function(
            f"document.querySelector('#arena-progress').innerText.startsWith('{answered + 1} ')",
            timeout=15_000,
        )
        if answered + 1 == study.quota:
            break
        page.wait_for_function(SHOWN, timeout=15_000)
        previous = question
    outcomes = list(store.comparisons(study.name)["outcome"])
    assert outcomes == ["a", "tie", "b", "b", "a", "tie"]


def test_phone_tap_no_key_hints_and_everything_on_screen(chromium, serve) -> None:
    base, study, store = serve(quota=2, tie=True, both_bad=True)
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    page.goto(base + "?rater=phone")
    page.wait_for_function(SHOWN, timeout=30_000)
    _all_on_screen(page)
    for selector in ("#arena-tie", "#arena-both-bad"):
        _on_screen(page, selector)
    assert not page.is_visible("#arena-left .arena-key")  # no keyboard, no key hints
    colours = {
        s: page.eval_on_selector(s, "e => getComputedStyle(e).backgroundColor")
        for s in ("#arena-left", "#arena-right", "#arena-tie", "#arena-both-bad")
    }
    assert colours["#arena-left"] == colours["#arena-right"] != colours["#arena-tie"]
    page.tap("#arena-trial button.arena-pick[data-choice=right]")
    page.wait_for_function(SHOWN, timeout=15_000)
    page.tap("#arena-both-bad")
    page.wait_for_selector("#arena-trial .arena-done", timeout=15_000)
    assert list(store.comparisons(study.name)["outcome"]) == ["b", "both_bad"]
    # The completion code: one line, and a button that copies it.
    _on_screen(page, "#arena-trial .arena-code")
    assert page.eval_on_selector(".arena-code", "e => getComputedStyle(e).whiteSpace") == "nowrap"
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base.rstrip("/"))
    page.tap("#arena-copy")
    page.wait_for_function("document.querySelector('#arena-copy').innerText === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == "DONE-123"
    context.close()


def test_prolific_raters_are_sent_to_the_completion_url(chromium, serve) -> None:
    base, study, _ = serve(quota=1, extra=f'completion_url = "{THANKS}?cc=DONE-123"')
    page = chromium.new_page()
    page.route(THANKS + "*", lambda route: route.fulfill(body="<p>Prolific says thanks</p>"))
    page.goto(base + "?PROLIFIC_PID=aa11&STUDY_ID=S&SESSION_ID=X")
    page.wait_for_function(SHOWN, timeout=30_000)
    page.keyboard.press("1")
    page.wait_for_url(THANKS + "?cc=DONE-123", timeout=15_000)
    assert "Prolific says thanks" in page.content()


def test_mturk_preview_records_nothing_and_completion_posts_the_form(chromium, serve) -> None:
    base, study, store = serve(quota=1)
    page = chromium.new_page()
    page.goto(base + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1")
    page.wait_for_selector("#arena-trial .arena-preview", timeout=30_000)
    assert page.is_visible("#arena-trial .arena-pair img")  # an example pair
    assert "Accept the HIT" in page.inner_text("#arena-trial")
    page.click("#arena-trial button.arena-pick[data-choice=left]")
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert store.counts()["raters"] == store.counts()["votes"] == 0

    posted = []

    def submit(route) -> None:
        posted.append(route.request.post_data)
        route.fulfill(body="<p>HIT submitted</p>")

    page.route(SANDBOX + "/mturk/externalSubmit", submit)
    page.goto(base + f"?workerId=W1&assignmentId=A1&hitId=H1&turkSubmitTo={SANDBOX}")
    page.wait_for_function(SHOWN, timeout=30_000)
    page.keyboard.press("2")
    page.wait_for_url(SANDBOX + "/mturk/externalSubmit", timeout=15_000)
    assert posted and "assignmentId=A1" in posted[0] and "code=DONE-123" in posted[0]

    # Anywhere but MTurk, nothing is posted.
    elsewhere = chromium.new_page()
    elsewhere.goto(base + "?workerId=W2&assignmentId=A2&turkSubmitTo=https://evil.example")
    elsewhere.wait_for_function(SHOWN, timeout=30_000)
    elsewhere.keyboard.press("1")
    elsewhere.wait_for_selector("#arena-trial .arena-done", timeout=15_000)
    elsewhere.wait_for_timeout(300)
    assert elsewhere.url.startswith(base)


def test_consent_comes_first_and_a_refusal_stores_nothing_else(chromium, serve) -> None:
    consent = 'consent = "You will compare images.\\n\\nYou may stop at any time."'
    base, study, store = serve(quota=2, extra=consent)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base + "?rater=nope")
    page.wait_for_selector("#arena-consent:not([hidden])", timeout=30_000)
    assert "You may stop at any time." in page.inner_text("#arena-consent")
    page.wait_for_selector("#arena-example .arena-pair img")  # the example pair
    assert not page.is_visible("#arena-left")  # no voting before consent
    page.keyboard.press("1")
    page.click("#arena-decline")
    page.wait_for_selector("#arena-trial .arena-declined", timeout=15_000)
    counts = store.counts()
    assert counts["consent_refusals"] == 1
    assert counts["raters"] == counts["trials"] == counts["votes"] == 0

    # Without consent the API admits no new rater either.
    got = httpx.post(base + "api/start", json={"params": {"rater": "sneaky"}})
    assert got.status_code == 403 and got.json()["error"]["code"] == "consent_required"

    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base + "?rater=yes")
    page.wait_for_selector("#arena-consent:not([hidden])", timeout=30_000)
    _on_screen(page, "#arena-agree")
    page.click("#arena-agree")
    page.wait_for_function(SHOWN, timeout=15_000)
    page.keyboard.press("1")
    page.wait_for_function(
        "document.querySelector('#arena-progress').innerText.startsWith('1 ')", timeout=15_000
    )
    page.reload()  # the browser's secret: no second consent screen
    page.wait_for_function(SHOWN, timeout=30_000)
    assert page.is_hidden("#arena-consent")
    with store.begin() as conn:
        row = conn.execute(RaterRow.__table__.select().where(RaterRow.external_id == "yes")).one()
    assert row.consented_at is not None and store.counts()["raters"] == 1
