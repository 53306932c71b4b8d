"""The admin page's settled comparisons, through a launched server on the adaptive rule: a
crowd that clearly prefers one model settles its comparison, and only finished raters count."""

from __future__ import annotations

import httpx
from servers import RaterClient
from sqlalchemy import select

from arena.store.schema import ImageRow, ModelRow

AUTH = ("admin", "s3cret")


def _section(text: str, heading: str) -> str:
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start : end if end > 0 else len(text)]


def _crowd(base: str, made: dict[str, str], raters: range, votes: int | None = None) -> None:
    """Raters who pick alpha over beta in 9 votes of 10 (gamma: in between)."""
    strength = {"alpha": 2, "gamma": 1, "beta": 0}
    for r in raters:
        page = RaterClient(base)
        page.start(f"r{r}")
        k = 0
        while page.token and (votes is None or k < votes):
            left, right = (made[page.state["trial"][s]["url"].split("/")[-1]]
                           for s in ("left", "right"))  # fmt: skip
            better = "left" if strength[left] > strength[right] else "right"
            upset = (k + r) % 10 == 9
            page.vote({"left": "right", "right": "left"}[better] if upset else better, 900.0)
            k += 1


def test_a_clear_preference_is_settled_and_shown(launched) -> None:
    extra = '[scheduler]\nrule = "adaptive"\nrefit_every = 10\n'
    base, study, store = launched(admin_password="s3cret", models=("alpha", "beta", "gamma"),
                                  n_prompts=8, quota=8, extra=extra)  # fmt: skip
    with store.begin() as conn:
        made = dict(conn.execute(select(ImageRow.sha256, ModelRow.name).join(ModelRow)).all())
    _crowd(base, made, range(2), votes=4)  # two raters still mid-session
    early = _section(httpx.get(base + "admin", auth=AUTH).text, "Settled comparisons")
    assert "<td>alpha vs beta</td><td>quality</td><td>superiority</td><td>0</td>" in early
    _crowd(base, made, range(2, 30))
    page = httpx.get(base + "admin", auth=AUTH).text
    settled = _section(page, "Settled comparisons")
    assert "valid however often this page is checked" in settled
    assert "<td>alpha vs beta</td>" in settled and "settled: a preferred" in settled, settled
    df = store.comparisons(study.name)
    assert df["pair_probability"].between(0.1 / 3, 1).all()  # the adaptive rule's floor
