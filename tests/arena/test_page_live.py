"""The live page in a real Chromium: type a prompt, watch the fast model's image arrive while
the slow one is still drawing, vote, see the models' names; at laptop and phone sizes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from live_servers import live_server
from servers import BROWSER

from arena.store import LiveStore

pytestmark = BROWSER

#: Where the screenshots go (docs/img/screens/ when T2I_ARENA_SCREENSHOTS names it).
SHOTS = os.environ.get("T2I_ARENA_SCREENSHOTS")

# Records, per side, whether the other side still had no image when this side's appeared.
WATCH = """() => {
  window.arrivals = [];
  for (const side of ["left", "right"]) {
    const other = side === "left" ? "right" : "left";
    new MutationObserver(() => {
      const mine = document.querySelector(`#live-${side} img`);
      if (mine && !window.arrivals.some((a) => a.side === side)) {
        window.arrivals.push({side, otherWaiting: !document.querySelector(`#live-${other} img`)});
      }
    }).observe(document.getElementById(`live-${side}`), {childList: true, subtree: true});
  }
}"""
BOTH = "window.live && window.live.shownAt !== null"


def _fits(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollHeight <= window.innerHeight"
        " && document.documentElement.scrollWidth <= window.innerWidth"
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_live_loop_in_chromium(chromium, study_builder, tmp_path, width, height) -> None:
    with live_server(study_builder, tmp_path) as (base, study, store, hub):
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.goto(base + "live?rater=r-browser")
        page.wait_for_selector("#live-prompt")
        # Refused in one sentence, in the page, without a request.
        page.click("#live-go")
        assert page.inner_text("#live-message") == "Type a prompt first; the box is empty."
        assert page.get_attribute("#live-prompt", "maxlength") == "60"

        page.evaluate(WATCH)
        prompt = "<b>a red circle</b> & <i>a blue square</i>"
        page.fill("#live-prompt", prompt)
        page.keyboard.press("Enter")
        page.wait_for_function(BOTH, timeout=120_000)
        arrivals = page.evaluate("window.arrivals")
        # One image came first, while the other model was still drawing.
        assert len(arrivals) == 2 and arrivals[0]["otherWaiting"]
        # The prompt is text, never markup; no model is named before the vote.
        assert page.inner_text("#live-shown") == f"“{prompt}”"
        assert page.input_value("#live-prompt") == prompt
        assert page.query_selector("#live-shown b") is None
        assert "Toy" not in page.inner_text("#live") and "toy-" not in page.content()
        assert _fits(page), "the live page scrolls"
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"live-{width}x{height}.png"))

        page.keyboard.press("1")  # the left image: the prompt box gave up the keys
        page.wait_for_function("window.live.voted", timeout=30_000)
        names = page.inner_text("#live-left figcaption") + page.inner_text("#live-right figcaption")
        assert "Toy turbo (1 step)" in names and "Toy teacher (50 steps)" in names
        assert _fits(page)
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"live-{width}x{height}-voted.png"))
    frame = LiveStore(store).frame(study.name)
    assert frame[["rater", "prompt", "outcome"]].values.tolist() == [["r-browser", prompt, "a"]]
    assert frame["decision_ms"][0] >= 0
