"""The launched arena (uvicorn on a free port) driven by gradio_client, as the page and API do."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from arena.ingest import ingest
from arena.serve import IMAGE_CACHE, create_server
from arena.store import Store
from arena.store.schema import RaterRow, TrialRow, VoteRow


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory, study_builder, serve_app):
    """One launched server for the module: (base url, study, store)."""
    tmp: Path = tmp_path_factory.mktemp("app")
    study, prompts = study_builder(tmp, tie=True, quota=5)
    store = Store.open(f"sqlite:///{tmp / 'arena.db'}")
    ingest(store, study, prompts)
    with serve_app(create_server(study, store)) as base:
        yield base, study, store
    store.close()


def _client(base: str) -> Client:
    return Client(base, verbose=False, download_files=False)


def test_a_rater_session_resumes_after_refresh_and_ends_with_the_code(arena) -> None:
    base, study, store = arena
    page = _client(base)
    rater, token, html, progress, done = page.predict("", api_name="/start")
    assert rater.startswith("r-") and token and not done and progress == f"0 / {study.quota}"
    assert "alpha" not in html and "beta" not in html  # model names stay hidden
    sent = {}
    for i, choice in enumerate(("left", "right")):
        sent[token] = (choice, 400.0 + i)
        rater, token, html, progress, done = page.predict(
            rater, token, choice, 400.0 + i, api_name="/vote"
        )
        assert progress == f"{i + 1} / {study.quota}"

    # A refresh is a new page (new client) that only knows the rater id from its URL.
    again = _client(base)
    r2, t2, html2, progress2, done2 = again.predict(rater, api_name="/start")
    assert (r2, t2, html2, progress2, done2) == (rater, token, html, progress, done)

    choices = ("tie", "left", "right")
    for i in range(study.quota - 2):
        sent[t2] = (choices[i], 1000.0 + i)
        r2, t2, html2, progress2, done2 = again.predict(
            r2, t2, choices[i], 1000.0 + i, api_name="/vote"
        )
    assert done2 and t2 == "" and progress2 == f"{study.quota} / {study.quota}"
    assert "Thank you" in html2 and "DONE-123" in html2

    # Voting past the end is refused; starting again shows the completion screen.
    with pytest.raises(AppError, match="not known"):
        again.predict(r2, "stale", "left", 5.0, api_name="/vote")
    assert again.predict(r2, api_name="/start")[4] is True

    with store.begin() as conn:
        rows = conn.execute(
            TrialRow.__table__.select()
            .join(RaterRow.__table__, RaterRow.id == TrialRow.rater_id)
            .where(RaterRow.external_id == rater)
        ).all()
        votes = dict(
            conn.execute(
                VoteRow.__table__.select().with_only_columns(VoteRow.trial_id, VoteRow.decision_ms)
            ).all()
        )
    mine = [r for r in rows if r.id in votes]
    assert len(mine) == len(rows) == study.quota
    assert all(r.left_image_id != r.right_image_id for r in rows)
    assert sorted(votes[r.id] for r in mine) == sorted(ms for _, ms in sent.values())
    df = store.comparisons(study.name)
    df = df[df["rater"] == rater]
    assert len(df) == study.quota
    assert sorted(df["outcome"]) == sorted(
        {"left": "a", "right": "b", "tie": "tie"}[c] for c, _ in sent.values()
    )


def test_refused_votes_show_a_plain_message_and_write_nothing(arena) -> None:
    base, study, store = arena
    client = _client(base)
    rater, token, *_ = client.predict("refuser", api_name="/start")
    other, other_token, *_ = client.predict("victim", api_name="/start")
    before = store.counts()
    cases = [
        ((rater, "forged", "left", 10.0), "not known"),
        ((rater, other_token, "left", 10.0), "another rater"),
        ((rater, token, "both_bad", 10.0), "not a response"),
        ((rater, token, "left", -5.0), "decision time"),
    ]
    for args, needle in cases:
        with pytest.raises(AppError) as info:
            client.predict(*args, api_name="/vote")
        assert needle in str(info.value) and "Traceback" not in str(info.value)
    assert store.counts() == before
    # The state is untouched: the same trial is still the one to answer.
    assert client.predict(rater, api_name="/start")[1] == token


def test_prolific_parameters_are_recorded(arena) -> None:
    base, study, store = arena
    client = _client(base)
    rid, *_ = client.predict(
        "PROLIFIC_PID=5f1e2d3c4b5a69788796a5b4&STUDY_ID=S1&SESSION_ID=X9", api_name="/start"
    )
    assert rid == "5f1e2d3c4b5a69788796a5b4"
    with store.begin() as conn:
        row = conn.execute(RaterRow.__table__.select().where(RaterRow.external_id == rid)).one()
    assert (row.source, row.panel_study_id, row.panel_session_id) == ("prolific", "S1", "X9")
    with pytest.raises(AppError, match="not valid"):
        client.predict("bad id <script>", api_name="/start")


def test_image_route_serves_ingested_files_only(arena) -> None:
    base, study, store = arena
    client = _client(base)
    _, token, html, *_ = client.predict("imager", api_name="/start")
    src = html.split('src="', 1)[1].split('"', 1)[0]
    sha = src.rsplit("/", 1)[1]
    rel = store.image_file(study.name, sha)
    expected = (study.image_dir / rel).read_bytes()
    with httpx.Client(base_url=base) as http:
        for url in (src, f"images/{rel}"):
            got = http.get(url)
            assert got.status_code == 200 and got.content == expected
            assert got.headers["cache-control"] == IMAGE_CACHE
            assert got.headers["content-type"] == "image/png"
        for bad in (
            "images/../study.toml",
            "images/%2e%2e/study.toml",
            "images/..%2Fstudy.toml",
            "images/alpha/..%2F..%2Fstudy.toml",
            "images/manifest.jsonl",
            "images/" + "0" * 64,
        ):
            got = http.get(bad)
            assert got.status_code == 404 and b"[prompts]" not in got.content, bad


def test_security_floor(arena) -> None:
    base, *_ = arena
    with httpx.Client(base_url=base) as http:
        for path in ("monitoring", "monitoring/summary", "monitoring/abc"):
            assert http.get(path).status_code == 404
        page = http.get("")
        assert page.status_code == 200
        config = http.get("config").json()
    assert "window.arena" in config["js"] and "#arena-trial" in config["css"]
    assert not config.get("is_space") and config.get("footer_links") == []


def test_page_route_reads_the_rater_from_the_url(arena) -> None:
    """The browser posts unqueued events to /gradio_api/run/<name> with the page's query."""
    base, study, store = arena
    with httpx.Client(base_url=base + "gradio_api/") as http:
        body = {"data": [""], "session_hash": "page1"}
        got = http.post("run/start?workerId=W42&assignmentId=A7", json=body).json()["data"]
        assert got[0] == "W42" and got[1]
        voted = http.post(
            "run/vote", json={"data": ["W42", got[1], "right", 321.0], "session_hash": "page1"}
        )
        assert voted.status_code == 200 and voted.json()["data"][3] == f"1 / {study.quota}"
        replay = http.post(
            "run/vote", json={"data": ["W42", got[1], "right", 321.0], "session_hash": "page1"}
        )
        assert replay.status_code == 200  # a replay returns the same next trial
        assert replay.json()["data"][1] == voted.json()["data"][1]
    with store.begin() as conn:
        row = conn.execute(RaterRow.__table__.select().where(RaterRow.external_id == "W42")).one()
    assert (row.source, row.panel_assignment_id) == ("mturk", "A7")


def test_vote_takes_raw_values_and_refuses_malformed_ones(arena) -> None:
    """The vote event skips Gradio's preprocessing, so the store sees what the client sent."""
    base, study, store = arena
    with httpx.Client(base_url=base + "gradio_api/") as http:
        got = http.post("run/start", json={"data": ["rawer"], "session_hash": "raw"}).json()
        rater, token = got["data"][:2]
        before = store.counts()
        for args, needle in [
            ([rater, 12345, "left", 10.0], "not known"),
            ([rater, None, "left", 10.0], "not known"),
            ([rater, token, ["left"], 10.0], "not a response"),
            ([rater, token, "left", "soon"], "decision time"),
            ([rater, token, "left", None], "decision time"),
            ([None, token, "left", 10.0], "another rater"),
        ]:
            reply = http.post("run/vote", json={"data": args, "session_hash": "raw"})
            assert needle in reply.text and "Traceback" not in reply.text, (args, reply.text)
        assert store.counts() == before
        ok = http.post("run/vote", json={"data": [rater, token, "left", 12.5]}).json()["data"]
    # Exactly the five documented outputs: no layout update rides along.
    assert len(ok) == 5 and ok[0] == rater and ok[1] != token and ok[3] == f"1 / {study.quota}"
    assert ok[4] is False and 'class="arena-pair"' in ok[2]


def test_buttons_show_only_next_to_a_trial(arena) -> None:
    base, *_ = arena
    with httpx.Client(base_url=base) as http:
        css = http.get("config").json()["css"]
    # The rule that hides the buttons while loading and on the completion screen.
    assert ":not(:has(#arena-trial .arena-pair)) #arena-buttons" in css
