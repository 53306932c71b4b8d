"""The rater's page in a real Chromium: keyboard votes, decision times, refresh, completion.

Skipped on a developer machine without a Chromium binary; under CI (CI=true, where .ci/run
installs Debian's chromium) a missing browser fails instead.
"""

from __future__ import annotations

import os

import pytest
from playwright import sync_api
from servers import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


def _progress_is(text: str) -> str:
    return f"document.querySelector('#arena-progress').innerText.includes('{text}')"


SHOWN = "window.arena && window.arena.shownAt !== null"


@pytest.fixture
def live(launched):
    return launched(tie=True, quota=3)


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no Chromium binary (set T2I_ARENA_CHROMIUM)",
)
def test_keyboard_session_with_refresh(live) -> None:
    base, study, store = live
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(base)
            page.wait_for_function(SHOWN, timeout=30_000)
            # A fresh rater id lands in the address bar, so a refresh resumes the session.
            assert "?rater=r-" in page.url
            assert "alpha" not in page.inner_html("#arena-trial")
            assert not page.is_visible("#arena-both-bad")  # not enabled by this study
            page.wait_for_timeout(150)
            page.keyboard.press("1")
            page.wait_for_function(_progress_is("1 / 3"), timeout=10_000)

            page.reload()
            page.wait_for_function(SHOWN, timeout=30_000)
            assert page.inner_text("#arena-progress").strip() == "1 / 3"
            page.keyboard.press("ArrowRight")
            page.wait_for_function(_progress_is("2 / 3"), timeout=10_000)
            page.wait_for_function(SHOWN, timeout=10_000)
            page.click("#arena-tie")
            page.wait_for_function(
                "document.querySelector('#arena-trial').innerText.includes('Thank you')",
                timeout=10_000,
            )
            assert "DONE-123" in page.inner_text("#arena-trial")
            assert not page.is_visible("#arena-left")
        finally:
            browser.close()
    df = store.comparisons(study.name)
    assert list(df["outcome"]) == ["a", "b", "tie"]
    assert df["rater"].nunique() == 1 and df["rater"].iloc[0].startswith("r-")
    assert (df["decision_ms"] >= 100).iloc[0] and (df["decision_ms"] > 0).all()
    assert (df["decision_ms"] < 60_000).all()
