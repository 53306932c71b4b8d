"""The admin progress page: off by default, behind Basic auth when on, escaped output, and every
section's figures equal to the same figures counted here from the votes."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import combinations

import httpx
import pandas as pd
from servers import RaterClient
from sqlalchemy import func, select, update

from analysis.frame import comparisons_frame
from analysis.raters import QualityRules
from arena import admin_views as views
from arena.store.schema import ImageRow, ModelRow, TrialRow, VoteRow

AUTH = ("admin", "s3cret")
MODELS = ("alpha", "beta", "gamma")
HOSTILE_QUESTION = "Which <i>image</i> looks better & why?"
KIND_LABELS = (("2afc", "rated (2afc)"), ("gold", "attention checks (gold)"),
               ("repeat", "repeats"), ("practice", "practice"))  # fmt: skip
HOSTILE_PROMPT = "a bowl of <b>fruit</b> & ${danger} {{x}}"  # conftest's prompt p04


def _admin(base: str) -> str:
    response = httpx.get(base + "admin", auth=AUTH)
    assert response.status_code == 200
    return response.text


def _row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _section(text: str, heading: str) -> str:
    """The HTML from ``<h2>heading</h2>`` to the next ``<h2>``."""
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start : end if end > 0 else len(text)]


def _share(num: int, den: int) -> str:
    return f"{num / den:.0%}" if den else "—"


def _session(base: str, rater: str, choices: list[str], ms: float, n: int | None = None) -> None:
    """One rater through the page's API (consenting), choosing ``choices`` in turn, ``n``
    votes or until the session ends."""
    page = RaterClient(base)
    page.post("start", {"params": {"rater": rater}, "secret": None, "consent": True})
    k = 0
    while page.token and (n is None or k < n):
        page.vote(choices[k % len(choices)], ms)
        k += 1


def test_admin_is_off_without_a_password(launched) -> None:
    base, _, _ = launched()
    response = httpx.get(base + "admin")
    assert response.status_code == 404
    assert "ARENA_ADMIN_PASSWORD" in response.text


def test_admin_needs_the_password_and_shows_progress(launched) -> None:
    base, study, store = launched(admin_password="s3cret", quota=2)
    assert httpx.get(base + "admin").status_code == 401
    assert httpx.get(base + "admin", auth=("admin", "wrong")).status_code == 401
    assert httpx.get(base + "admin", auth=("root", "s3cret")).status_code == 401

    page = RaterClient(base)
    page.start("ada")
    for _ in range(study.quota):
        page.vote("left", 700.0)
    RaterClient(base).start("bob")

    text = _admin(base)
    assert "<td>raters who started</td><td>2</td>" in text
    assert "<td>raters who finished</td><td>1</td>" in text
    assert f"<td>votes</td><td>{study.quota}</td>" in text
    assert "<td>trials issued, not answered</td><td>1</td>" in text
    assert "median decision time 0.7 s" in text
    assert "<meta http-equiv='refresh' content='30'>" in text
    assert "<study>" not in text and "Test &lt;study&gt;" in text
    df = store.comparisons(study.name)
    assert len(df) == study.quota


def test_admin_sections_match_the_votes(launched) -> None:
    """Progress, cells, prompts, votes per hour and raters, against counts made here."""
    questions = (("quality", HOSTILE_QUESTION), ("alignment", "Which fits the prompt?"))
    extra = 'practice = 1\nrepeat_rate = 0.5\nconsent = "I agree."\n'
    base, study, store = launched(
        admin_password="s3cret", models=MODELS, n_prompts=5, quota=6, questions=questions,
        extra=extra,
    )  # fmt: skip
    n_cells = 5 * 3 * 2  # prompts x model pairs x questions, every image exists
    empty = _admin(base)
    assert f"<strong>{n_cells}</strong> cells without a vote" in empty
    assert "No votes yet" in empty and "No rated votes yet" in empty

    assert httpx.post(base + "api/decline", json={}).status_code == 200
    _session(base, "ada", ["left"], 1500.0)
    _session(base, "bob", ["right"], 100.0, n=4)  # too fast: flagged, one trial outstanding
    _session(base, "cyd", ["left", "right"], 2000.0)
    df = store.comparisons(study.name)
    with store.begin(write=True) as conn:  # two older votes: 3 h ago and out of the window
        ids = [v for (v,) in conn.execute(select(VoteRow.id).order_by(VoteRow.id))]
        now = datetime.now(timezone.utc)
        for vid, age in ((ids[0], 3), (ids[1], 30)):
            at = now - timedelta(hours=age)
            conn.execute(update(VoteRow).where(VoteRow.id == vid).values(created_at=at))
        stamps = [t for (t,) in conn.execute(select(VoteRow.created_at))]
        n_trials = conn.scalar(select(func.count(TrialRow.id)))

    assert httpx.get(base + "admin").status_code == 401
    text = _admin(base)

    # Progress.
    kinds = Counter(df["kind"])
    assert _row("raters who started", 3) in text
    assert _row("raters who finished", 2) in text  # ada and cyd: 1 practice + 6 trials
    assert _row("consents declined", 1) in text
    assert _row("votes", len(df)) in text
    for kind, label in KIND_LABELS:
        assert _row(f"votes: {label}", kinds.get(kind, 0)) in text
    assert _row("trials issued, not answered", n_trials - len(df)) in text  # bob's next trial
    assert n_trials - len(df) == 1

    # Votes per model pair and question, and the prompts with the fewest votes.
    rated = df[df["kind"] == "2afc"]
    assert len(rated) == kinds["2afc"] > 0 and kinds["repeat"] > 0 and kinds["practice"] == 3
    per_cell = Counter(
        (q, p, *sorted((a, b)))
        for q, p, a, b in zip(
            rated.question, rated.prompt, rated.model_a, rated.model_b, strict=True
        )
    )
    prompts = [f"p{i:02d}" for i in range(5)]
    cells = {
        (q, p, lo, hi): per_cell[(q, p, lo, hi)]
        for q, _ in questions
        for p in prompts
        for lo, hi in combinations(sorted(MODELS), 2)
    }
    assert len(cells) == n_cells and sum(cells.values()) == len(rated)
    section = _section(text, "Votes per model pair and question")
    values = list(cells.values())
    assert (
        f"{n_cells} cells (prompt × model pair × question). Rated votes per cell: "
        f"min {min(values)}, median {statistics.median(values):g}, max {max(values)}; "
        f"<strong>{values.count(0)}</strong> cells without a vote." in section
    )
    votes = list(zip(rated.question, rated.model_a, rated.model_b, strict=True))
    pair_votes = Counter((q, *sorted((a, b))) for q, a, b in votes)
    first_left = Counter((q, a, b) for q, a, b in votes if a < b)  # the pair's first on the left
    for q, _ in questions:
        for lo, hi in combinations(sorted(MODELS), 2):
            got = [n for (q_, _p, lo_, hi_), n in cells.items() if (q_, lo_, hi_) == (q, lo, hi)]
            n, k = pair_votes[(q, lo, hi)], first_left[(q, lo, hi)]
            expected = _row(
                q, f"{lo} vs {hi}", sum(got), len(got), min(got),
                f"{statistics.median(got):g}", max(got), got.count(0),
                f"{k} of {n} ({_share(k, n)})" if n else "—",
            )  # fmt: skip
            assert sum(got) == n and expected in section, expected
    prompts_html = _section(text, "Prompts with the fewest votes")
    for p in prompts:
        mine = [n for (_q, p_, _lo, _hi), n in cells.items() if p_ == p]
        shown = "a bowl of &lt;b&gt;fruit&lt;/b&gt; &amp; ${danger} {{x}}" if p == "p04" else None
        row = f"<td>{p}</td><td>{shown}</td>" if shown else f"<td>{p}</td>"
        assert row in prompts_html
        assert f"<td>{sum(mine)}</td><td>{mine.count(0)} of {len(mine)}</td>" in prompts_html
    assert HOSTILE_PROMPT not in text and "<b>fruit</b>" not in text
    assert (
        "<i>image</i>" not in text and "Which &lt;i&gt;image&lt;/i&gt; looks better &amp;" in text
    )

    # Votes per hour: every clock hour with votes, and the last 60 minutes.
    hourly = _section(text, "Votes per hour")
    stamps = [(t if t.tzinfo else t.replace(tzinfo=timezone.utc)) for t in stamps]
    hours = Counter(t.replace(minute=0, second=0, microsecond=0) for t in stamps)
    for start, n in hours.items():
        label = f"{start:%Y-%m-%d %H:00}–{start + timedelta(hours=1):%H:00}"
        if now - start < timedelta(hours=23):
            assert _row(label, n) in hourly, (label, n)
        else:
            assert label not in hourly
    assert hourly.count("<tr>") == 25  # a header and 24 hours
    recent = sum(now - t < timedelta(minutes=50) for t in stamps)
    assert recent == len(df) - 2
    assert f"<strong>{recent}</strong> votes in the last 60 minutes" in hourly
    assert f"; {len(df) - 1} in the last 24 clock hours" in hourly

    # Raters: flagged first, each figure counted here.
    raters = _section(text, "Raters")
    assert "1 of 3 raters flagged" in raters
    order = [raters.index(f"<td>{r}</td>") for r in ("bob", "ada", "cyd")]
    assert order == sorted(order)  # bob (flagged) first, then by rater id
    judged = df[df["kind"] != "practice"]
    trial_rows = {t: r for t, r in zip(df.trial, df.itertuples(), strict=True)}
    for rater, flags in (("ada", ""), ("bob", "fast"), ("cyd", "")):
        mine = judged[judged.rater == rater]
        decisive = mine[mine.outcome.isin(["a", "b"])]
        n_left = int((decisive.outcome == "a").sum())
        repeats = mine[mine.kind == "repeat"]
        held = [
            {"a": "b", "b": "a"}.get(r.outcome, r.outcome) == trial_rows[int(r.repeat_of)].outcome
            for r in repeats.itertuples()
        ]
        expected = _row(
            rater, int((mine.kind == "2afc").sum()), "—", _share(sum(held), len(held)),
            _share(n_left, len(decisive)), f"{statistics.median(mine.decision_ms):.0f}", flags,
        )  # fmt: skip
        assert expected in raters, expected


def _bt_mm(wins: dict[tuple[str, str], int], models: list[str]) -> dict[str, float]:
    """Bradley–Terry by the MM iteration of Hunter (2004), on the Elo scale (mean 1000)."""
    p = dict.fromkeys(models, 1.0)
    for _ in range(20_000):
        new = {}
        for i in models:
            w = sum(wins.get((i, j), 0) for j in models)
            d = sum(
                (wins.get((i, j), 0) + wins.get((j, i), 0)) / (p[i] + p[j])
                for j in models
                if j != i
            )
            new[i] = w / d
        g = math.exp(statistics.fmean(math.log(v) for v in new.values()))
        p = {m: v / g for m, v in new.items()}
    mean = statistics.fmean(math.log(v) for v in p.values())
    return {m: 1000 + 400 / math.log(10) * (math.log(v) - mean) for m, v in p.items()}


def test_admin_leaderboard_is_the_bradley_terry_fit(launched) -> None:
    base, study, store = launched(admin_password="s3cret", models=MODELS, n_prompts=6, quota=12)
    with store.begin() as conn:  # which model made each image (the page only sees hashes)
        made = dict(conn.execute(select(ImageRow.sha256, ModelRow.name).join(ModelRow)).all())
    strength = {"alpha": 0, "beta": 1, "gamma": 2}
    for rater in ("r1", "r2", "r3", "r4"):
        page = RaterClient(base)
        page.start(rater)
        k = 0
        while page.token:
            left, right = (
                made[page.state["trial"][s]["url"].split("/")[-1]] for s in ("left", "right")
            )
            better = "left" if strength[left] > strength[right] else "right"
            upset = k % 4 == 3  # the weaker model wins one vote in four
            page.vote({"left": "right", "right": "left"}[better] if upset else better, 1200.0)
            k += 1
    df = store.comparisons(study.name)
    wins = Counter(
        (a, b) if o == "a" else (b, a)
        for a, b, o in zip(df.model_a, df.model_b, df.outcome, strict=True)
    )
    for a, b in combinations(MODELS, 2):  # every model beat and lost to every other: finite
        assert wins[(a, b)] and wins[(b, a)], (a, b)
    expected = _bt_mm(dict(wins), list(MODELS))
    assert expected["gamma"] - expected["alpha"] > 100  # far apart, so a wrong scale shows
    board = _section(_admin(base), "Live leaderboard")
    assert "Point estimates only" in board and "<code>arena report</code>" in board
    shown = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", board)
    assert [m for m, *_ in shown] == sorted(expected, key=expected.get, reverse=True)
    for model, rating, votes, won in shown:
        assert abs(int(rating) - expected[model]) <= 1, (model, rating, expected[model])
        assert int(votes) == int(((df.model_a == model) | (df.model_b == model)).sum())
        assert int(won) == sum(n for (w, _), n in wins.items() if w == model)


def test_sections_escape_hostile_names() -> None:
    """Model names, rater ids, prompts and questions arrive as text, whatever they hold."""
    rows = [("<m1>", "m&2", "a"), ("m&2", "<m1>", "b"), ("<m1>", "m&2", "b")] * 3
    df = comparisons_frame(rows, raters=["<r>"] * 9, question="<q>", prompts=["<pr>"] * 9)
    cells = views.cell_votes(df, pd.DataFrame(columns=views.CELL_KEYS))
    texts = pd.Series({"<pr>": "<script>alert(1)</script>"})
    html = (
        views.cells_section(df, cells, ["<q>"])
        + views.prompts_section(cells, texts)
        + views.raters_section(df, QualityRules())
        + views.leaderboard_section(df, ["<q>"])
    )
    for raw in ("<m1>", "<r>", "<q>", "<pr>", "<script>", "m&2"):
        assert raw not in html, raw
    for escaped in ("&lt;m1&gt; vs m&amp;2", "<td>&lt;r&gt;</td>", "<h3>&lt;q&gt;</h3>",
                    "&lt;script&gt;alert(1)&lt;/script&gt;"):  # fmt: skip
        assert escaped in html, escaped
