"""The launched arena (uvicorn on a free port) driven over its HTTP API, as the page does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from servers import ApiError, RaterClient
from sqlalchemy import select

from arena.ingest import ingest
from arena.serve import IMAGE_CACHE, SHADOWED, create_server
from arena.store import Store
from arena.store.schema import ImageRow, RaterRow, TrialRow, VoteRow


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


def test_a_rater_session_resumes_after_refresh_and_ends_with_the_code(arena) -> None:
    base, study, store = arena
    page = RaterClient(base)
    got = page.start()
    rater = got["rater"]
    assert rater.startswith("r-") and page.token and not got["done"] and page.secret
    assert (got["answered"], got["total"]) == (0, study.quota)
    assert "alpha" not in got["html"] and "beta" not in got["html"]  # model names stay hidden
    assert "alpha" not in str(got["trial"]) and "beta" not in str(got["trial"])
    sent = {}
    for i, choice in enumerate(("left", "right")):
        sent[page.token] = (choice, 400.0 + i)
        got = page.vote(choice, 400.0 + i)
        assert got["answered"] == i + 1 and got["recorded"] is True

    # A refresh is a new page that knows the rater id from its URL and the secret it kept.
    again = RaterClient(base, secret=page.secret)
    resumed = again.start(rater)
    assert {k: v for k, v in resumed.items() if k != "secret"} == {
        k: v for k, v in got.items() if k != "recorded"
    }
    assert resumed["secret"] == page.secret

    choices = ("tie", "left", "right")
    for i in range(study.quota - 2):
        sent[again.token] = (choices[i], 1000.0 + i)
        done = again.vote(choices[i], 1000.0 + i)
    assert done["done"] and done["trial"] is None and done["answered"] == study.quota
    assert "Thank you" in done["html"] and "DONE-123" in done["html"]
    assert done["completion"] == {
        "code": "DONE-123",
        "url": None,
        "redirect": False,
        "mturk": False,
    }

    # Voting past the end is refused; starting again shows the completion screen.
    with pytest.raises(ApiError) as info:
        again.vote("left", 5.0, token="stale")
    assert (info.value.status, info.value.code) == (404, "unknown_trial")
    assert "not known" in info.value.message
    assert again.start(rater)["done"] is True

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
    client, victim = RaterClient(base), RaterClient(base)
    token = client.start("refuser")["trial"]["token"]
    other_token = victim.start("victim")["trial"]["token"]
    before = store.counts()
    cases = [
        ({"token": "forged"}, 404, "unknown_trial", "not known"),
        ({"token": other_token}, 403, "not_yours", "another rater"),
        ({"choice": "both_bad"}, 400, "invalid", "not a response"),
        ({"decision_ms": -5.0}, 400, "invalid", "decision time"),
        ({"secret": victim.secret}, 403, "not_yours", "another browser"),
        ({"rater": "victim"}, 403, "not_yours", "another browser"),
        ({"rater": "nobody"}, 404, "unknown_rater", "not known"),
    ]
    for change, status, code, needle in cases:
        body = {"rater": "refuser", "secret": client.secret, "token": token, "choice": "left"}
        body = {**body, "decision_ms": 10.0, **change}
        got = httpx.post(base + "api/vote", json=body)
        error = got.json()["error"]
        assert (got.status_code, error["code"], error["retry"]) == (status, code, False), change
        assert needle in error["message"] and "Traceback" not in got.text
    assert store.counts() == before
    # The state is untouched: the same trial is still the one to answer.
    assert RaterClient(base, secret=client.secret).start("refuser")["trial"]["token"] == token


def test_a_rater_id_alone_does_not_open_the_session(arena) -> None:
    base, study, store = arena
    owner = RaterClient(base)
    owner.start("owned")
    for secret in (None, "guess", ""):
        with pytest.raises(ApiError) as info:
            RaterClient(base, secret=secret).start("owned")
        assert (info.value.status, info.value.code) == (403, "not_yours")
    assert owner.vote("left")["recorded"] is True


def test_prolific_parameters_are_recorded_and_move_devices_by_session(arena) -> None:
    base, study, store = arena
    link = {"PROLIFIC_PID": "5f1e2d3c4b5a69788796a5b4", "STUDY_ID": "S1", "SESSION_ID": "X9"}
    first = RaterClient(base)
    rid = first.start(link)["rater"]
    assert rid == "5f1e2d3c4b5a69788796a5b4"
    with store.begin() as conn:
        row = conn.execute(RaterRow.__table__.select().where(RaterRow.external_id == rid)).one()
    assert (row.source, row.panel_study_id, row.panel_session_id) == ("prolific", "S1", "X9")
    # Another device: the same Prolific link (same SESSION_ID) moves the session there...
    phone = RaterClient(base)
    assert phone.start(link)["trial"]["token"] == first.token and phone.secret != first.secret
    with pytest.raises(ApiError, match="another browser"):
        first.vote("left")  # ...and the first device's secret no longer works
    # ...but the participant id with another session id does not.
    with pytest.raises(ApiError, match="another browser"):
        RaterClient(base).start({**link, "SESSION_ID": "guessed"})
    for bad in ({"rater": "bad id <script>"}, {"rater": "x" * 129}, {"workerId": "a/b"}):
        with pytest.raises(ApiError) as info:
            RaterClient(base).start(bad)
        assert (info.value.status, info.value.code) == (400, "invalid_link")
        assert "not valid" in info.value.message


def test_image_route_serves_ingested_files_only(arena) -> None:
    base, study, store = arena
    got = RaterClient(base).start("imager")
    src = got["trial"]["left"]["url"]
    assert f'src="{src}"' in got["html"]
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


def test_images_changed_or_linked_after_ingest_are_not_served(
    tmp_path: Path, study_builder, serve_app
) -> None:
    study, prompts = study_builder(tmp_path, quota=3)
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    with store.begin() as conn:
        paths = list(conn.scalars(select(ImageRow.path)))
    changed, linked, kept = paths[0], paths[1], paths[2]
    with serve_app(create_server(study, store)) as base, httpx.Client(base_url=base) as http:
        assert http.get(f"images/{changed}").status_code == 200  # checked once, cached
        (study.image_dir / changed).write_bytes(b"\x89PNG not the ingested bytes")
        (study.image_dir / linked).unlink()
        (study.image_dir / linked).symlink_to(study.path)  # a link to the study file
        assert http.get(f"images/{changed}").status_code == 404
        got = http.get(f"images/{linked}")
        assert got.status_code == 404 and b"[prompts]" not in got.content
        assert http.get(f"images/{kept}").status_code == 200
    store.close()


def test_security_floor(arena) -> None:
    base, *_ = arena
    with httpx.Client(base_url=base) as http:
        for path in ("monitoring", "monitoring/summary", "monitoring/abc"):
            assert http.get(path).status_code == 404
        for path in SHADOWED:
            path = path.replace("{rest:path}", "x").lstrip("/")
            assert http.get(path).status_code == 404, path
        live = http.get("live")  # this study has no [live] table: a sentence, not Gradio's 404
        assert live.status_code == 404 and "no [live] table" in live.json()["detail"]
        upload = http.post("gradio_api/upload", files={"files": ("a.txt", b"x" * 10_000)})
        assert upload.status_code == 404
        page = http.get("")
        assert page.status_code == 200
        config = http.get("config").json()
    assert "window.arena" in config["js"] and "#arena-trial" in config["css"]
    assert not config.get("is_space") and config.get("footer_links") == []
    # The page has no Gradio events: the only way to vote is the rater API.
    assert not config.get("dependencies")


def test_api_refuses_malformed_requests_and_writes_nothing(arena) -> None:
    base, study, store = arena
    client = RaterClient(base)
    client.start("rawer")
    good = {"rater": "rawer", "secret": client.secret, "token": client.token, "choice": "left"}
    good["decision_ms"] = 10.0
    before = store.counts()
    with httpx.Client(base_url=base) as http:
        for change, code in [
            ({"token": 12345}, "unknown_trial"),
            ({"token": None}, "unknown_trial"),
            ({"token": "x" * 200}, "unknown_trial"),
            ({"choice": ["left"]}, "invalid"),
            ({"decision_ms": "soon"}, "invalid"),
            ({"decision_ms": None}, "invalid"),
            ({"decision_ms": True}, "invalid"),
            ({"decision_ms": 1e12}, "invalid"),
            ({"decision_ms": float("nan")}, "invalid"),
            ({"rater": None}, "invalid"),
            ({"secret": 7}, "invalid"),
        ]:
            reply = http.post(
                "api/vote",
                content=_dumps({**good, **change}),
                headers={"content-type": "application/json"},
            )
            assert reply.json()["error"]["code"] == code, (change, reply.text)
            assert "Traceback" not in reply.text
        for raw, status in [(b"not json", 400), (b"[1, 2]", 400), (b"{" + b" " * 5000 + b"}", 413)]:
            reply = http.post("api/vote", content=raw)
            assert reply.status_code == status and "error" in reply.json()
        reply = http.post("api/start", json={"params": ["rater", "x"]})
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid"
    assert store.counts() == before
    ok = client.vote("left", 12.5)
    assert ok["rater"] == "rawer" and ok["answered"] == 1 and 'class="arena-pair"' in ok["html"]


def _dumps(obj: dict) -> bytes:
    import json

    return json.dumps(obj, allow_nan=True).encode()


def test_a_replayed_vote_is_stored_once_and_answers_the_same_next_trial(arena) -> None:
    base, study, store = arena
    client = RaterClient(base)
    client.start({"workerId": "W42", "assignmentId": "A7"})
    token = client.token
    first = client.vote("right", 321.0, token=token)
    again = client.vote("right", 321.0, token=token)
    assert first["recorded"] is True and again["recorded"] is False
    assert again["trial"]["token"] == first["trial"]["token"] and again["answered"] == 1
    with store.begin() as conn:
        row = conn.execute(RaterRow.__table__.select().where(RaterRow.external_id == "W42")).one()
    assert (row.source, row.panel_assignment_id) == ("mturk", "A7")


def test_buttons_show_only_next_to_a_trial(arena) -> None:
    base, *_ = arena
    with httpx.Client(base_url=base) as http:
        css = http.get("config").json()["css"]
    # The rule that hides the buttons while loading and on the completion screen.
    assert ":not(:has(#arena-trial .arena-pair)) #arena-buttons" in css


def test_every_error_code_has_a_status_and_is_documented() -> None:
    from arena.api import ERRORS
    from arena.store.types import REFUSALS

    assert set(REFUSALS) <= set(ERRORS)  # every refusal of the store reaches the client
    doc = (Path(__file__).resolve().parents[2] / "docs" / "http-api.md").read_text()
    for code, status in ERRORS.items():
        assert f"| {status} | `{code}` |" in doc, f"{code} ({status}) is not in docs/http-api.md"
