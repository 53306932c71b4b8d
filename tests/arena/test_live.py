"""The live arena over HTTP: the [live] table, bad prompts, a full queue, storage apart from
the controlled study, and `arena report --live` / `arena export --live`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from live_servers import live_server, live_table
from servers import RaterClient

from arena.cli import cli
from arena.live.config import live_settings
from arena.live.routes import BUSY_MESSAGE, EMPTY_MESSAGE
from arena.store import LiveStore
from arena.study import StudyError, load_study


def _battle(client: httpx.Client, prompt: str) -> dict:
    """Send a prompt and poll until both images are there (no deadline: CPU speed varies)."""
    answer = client.post("api/live/prompt", json={"prompt": prompt, "rater": "r-live"})
    assert answer.status_code == 200, answer.text
    state = answer.json()
    while not state["done"]:
        time.sleep(0.05)
        state = client.post("api/live/poll", json={"token": state["token"]}).json()
    assert state["failed"] is None
    return state


# ----------------------------------------------------------------------------- the [live] table
@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('live = "yes"\n', "key 'live' must be a table"),
        (
            '[live]\nmodels = ["toy-turbo-1step"]\n',
            "key 'live.models' must be a list of at least two",
        ),
        ('[live]\nmodels = ["a", "a"]\n', "key 'live.models' must be a list without repeats"),
        (
            '[live]\nmodels = ["a", "b"]\nqueue = 0\n',
            "key 'live.queue' must be a whole number from 1",
        ),
        ('[live]\nmodels = ["a", "b"]\nmax_prompt_chars = true\n', "'live.max_prompt_chars' must"),
        ('[live]\nmodels = ["a", "b"]\ndevice = "tpu"\n', "key 'live.device' must be 'cpu'"),
        ('[live]\nmodel = ["a", "b"]\n', "unknown key 'live.model'"),
    ],
)
def test_a_bad_live_table_is_one_sentence_naming_file_and_key(
    study_builder, tmp_path, table, expected
) -> None:
    study, _ = study_builder(tmp_path, images=False)
    text = study.path.read_text(encoding="utf-8")
    # Top-level keys go before the first table; tables go at the end.
    study.path.write_text(
        table + text if not table.startswith("[") else text + table, encoding="utf-8"
    )
    with pytest.raises(StudyError) as err:
        load_study(study.path)
    message = str(err.value)
    assert message.startswith(str(study.path)) and expected in message
    assert "\n" not in message


def test_a_live_model_without_a_card_is_named(study_builder, tmp_path) -> None:
    study, _ = study_builder(
        tmp_path, images=False, extra='\n[live]\nmodels = ["toy-turbo-1step", "nope"]\n'
    )
    with pytest.raises(
        StudyError, match=r"key 'live.models' must be model card ids found in .*'nope'"
    ):
        live_settings(study)


def test_a_study_without_a_live_table_has_no_live_mode(study_builder, tmp_path) -> None:
    study, _ = study_builder(tmp_path, images=False)
    assert live_settings(study) is None
    study, _ = study_builder(tmp_path, name="t2", images=False, extra=live_table(queue=3))
    settings = live_settings(study)
    assert settings.queue == 3 and settings.folder == study.image_dir / "live"


# ----------------------------------------------------------------------------- bad prompts, busy
def test_empty_and_overlong_prompts_are_refused_and_nothing_is_stored(
    study_builder, tmp_path
) -> None:
    with live_server(study_builder, tmp_path, start=False) as (base, study, store, hub):
        with httpx.Client(base_url=base) as client:
            for prompt in ("", "   "):
                r = client.post("api/live/prompt", json={"prompt": prompt, "rater": "r1"})
                assert r.status_code == 400 and r.json()["error"]["message"] == EMPTY_MESSAGE
            r = client.post("api/live/prompt", json={"prompt": "x" * 61, "rater": "r1"})
            assert r.status_code == 400
            assert r.json()["error"]["message"] == (
                "The prompt is 61 characters long; the most is 60."
            )
            r = client.post("api/live/prompt", json={"prompt": 5, "rater": "r1"})
            assert r.status_code == 400 and "'prompt'" in r.json()["error"]["message"]
        hub.close()
        assert store.counts()["live_battles"] == 0


def test_a_full_queue_answers_busy_at_once_and_the_queued_prompt_is_drawn(
    study_builder, tmp_path
) -> None:
    # The worker is not started: the queue (one place) fills with the first prompt.
    server = live_server(study_builder, tmp_path, start=False, queue=1)
    with server as (base, study, store, hub), httpx.Client(base_url=base) as client:
        first = client.post("api/live/prompt", json={"prompt": "a red circle", "rater": "r1"})
        assert first.status_code == 200
        busy = client.post("api/live/prompt", json={"prompt": "a blue square", "rater": "r1"})
        assert busy.status_code == 503
        assert busy.json()["error"] == {"code": "busy", "message": BUSY_MESSAGE, "retry": True}
        hub.start()
        state = first.json()
        while not state["done"]:
            time.sleep(0.05)
            state = client.post("api/live/poll", json={"token": state["token"]}).json()
        assert state["images"]["left"] and state["images"]["right"]


# ----------------------------------------------------------------------------- long polls
def _settled(state: dict) -> int:
    return sum(state["images"][s] is not None for s in ("left", "right"))


def test_a_long_poll_waits_for_the_next_image_and_answers_when_it_arrives(
    study_builder, tmp_path
) -> None:
    server = live_server(study_builder, tmp_path, start=False)
    with server as (base, study, store, hub), httpx.Client(base_url=base, timeout=60) as client:
        token = client.post("api/live/prompt", json={"prompt": "a red circle", "rater": "r1"})
        token = token.json()["token"]
        # Nothing is drawing: the poll holds its answer for the whole wait, then says so.
        began = time.perf_counter()
        idle = client.post("api/live/poll", json={"token": token, "seen": 0, "wait_ms": 400})
        assert time.perf_counter() - began >= 0.35
        assert idle.status_code == 200 and _settled(idle.json()) == 0
        hub.start()
        assert hub.ready.wait(120) and hub.fatal is None
        # Woken by the hub's listener: each answer carries one more image than the page had.
        state, seen, answers = idle.json(), 0, []
        while not state["done"]:
            body = {"token": token, "seen": seen, "wait_ms": 10_000}
            began = time.perf_counter()
            state = client.post("api/live/poll", json=body).json()
            answers.append((_settled(state) - seen, time.perf_counter() - began))
            seen = _settled(state)
        assert seen == 2
        # The 1-step model draws first, in a moment: the first answer brings its image...
        assert answers[0][0] >= 1 and answers[0][1] < 9.9, answers
        # ...and an answer without a new image is one that waited its whole 10 s.
        assert all(elapsed >= 9.9 for news, elapsed in answers if news == 0), answers
        # A page that already has both images is answered at once, whatever it asks to wait.
        again = client.post("api/live/poll", json={"token": token, "seen": 1, "wait_ms": 10_000})
        assert _settled(again.json()) == 2
        for body, key in (
            ({"seen": 3}, "'seen'"),
            ({"seen": "1"}, "'seen'"),
            ({"seen": True}, "'seen'"),
            ({"wait_ms": -1}, "'wait_ms'"),
            ({"wait_ms": 10_001}, "'wait_ms'"),
            ({"wait_ms": "2000"}, "'wait_ms'"),
        ):
            bad = client.post("api/live/poll", json={"token": token, **body})
            assert bad.status_code == 400 and key in bad.json()["error"]["message"], body
        assert not hub.battle(token).watchers  # every wait was forgotten


WORKER_MESSAGES = """
import multiprocessing, sys, tempfile
from arena.live import worker
if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    jobs, results = ctx.Queue(2), ctx.Queue()
    models = ("toy-turbo-1step", "toy-base-50step")
    process = ctx.Process(
        target=worker.run, args=("models/cards", models, tempfile.mkdtemp(), "cpu", jobs, results)
    )
    process.start()
    assert results.get(timeout=300)[0] == "ready"
    jobs.put(("t", "a red circle", 1, (("left", models[0]), ("right", models[1]))))
    kinds = [results.get(timeout=300)[0] for _ in range(2)]
    jobs.put(None)
    process.join(60)
    assert kinds == ["image", "image"], kinds
    heavy = sorted({"torch", "diffusers", "transformers", "numpy"} & set(sys.modules))
    assert not heavy, heavy
"""


def test_reading_the_workers_messages_imports_no_torch_in_the_server() -> None:
    # A torch object in a message (torch.__version__ is a str subclass of torch's) would make
    # the server import torch to unpickle it: 1.8 s on the first live image, against the
    # import rules of docs/design.md.
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", WORKER_MESSAGES], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


# ----------------------------------------------------------------------------- votes and storage
def test_live_votes_are_stored_apart_with_their_images(study_builder, tmp_path) -> None:
    with live_server(study_builder, tmp_path) as (base, study, store, hub):
        with httpx.Client(base_url=base) as client:
            state = _battle(client, "a red circle")
            assert "toy" not in json.dumps(state)  # anonymous until voted
            early = client.post(
                "api/live/vote",
                json={"token": state["token"], "choice": "sideways", "decision_ms": 5},
            )
            assert early.status_code == 400
            vote = {"token": state["token"], "choice": "left", "decision_ms": 700}
            first = client.post("api/live/vote", json=vote).json()
            again = client.post("api/live/vote", json=vote).json()
            assert first["recorded"] and not again["recorded"]
            assert set(first["models"].values()) == {"Toy turbo (1 step)", "Toy teacher (50 steps)"}
            url = state["images"]["left"]["url"]
            assert url.startswith("live/images/") and client.get(url).status_code == 200
            assert client.get("live/images/" + "0" * 64 + ".png").status_code == 404
            assert client.get("live/images/..%2Fstudy.toml").status_code == 404
            unknown = client.post("api/live/poll", json={"token": "nope"})
            assert unknown.status_code == 404
        frame = LiveStore(store).frame(study.name)
    assert frame[["rater", "prompt", "outcome", "decision_ms"]].values.tolist() == [
        ["r-live", "a red circle", "a", 700.0]
    ]
    assert (tmp_path / "t1" / "images" / frame["image_a"][0]).is_file()
    assert frame["latency_ms_a"][0] > 0 and frame["latency_ms_b"][0] > 0


def test_live_votes_leave_the_controlled_votes_and_report_unchanged(
    study_builder, tmp_path
) -> None:
    runner = CliRunner()
    report = [
        "report",
        "--study",
        None,
        "--bootstrap",
        "20",
        "--elo-orders",
        "0",
        "--no-small-sample",
        "--json",
    ]
    with live_server(study_builder, tmp_path) as (base, study, store, hub):
        for name, choices in enumerate(("LRRL", "RLLR", "LRTL", "RLTR", "LLRR", "RRLL")):
            with RaterClient(base) as rater:
                rater.start({"rater": f"c{name}"})
                for c in choices:
                    rater.vote({"L": "left", "R": "right", "T": "tie"}[c])
        before = store.comparisons(study.name)
        report[2] = str(study.path)
        out = runner.invoke(cli, [*report, "--out", str(tmp_path / "r1")])
        assert out.exit_code == 0, out.output
        with httpx.Client(base_url=base) as client:
            for i, choice in enumerate(("left", "right", "tie")):
                state = _battle(client, f"a red circle {i}")
                body = {"token": state["token"], "choice": choice, "decision_ms": 300}
                assert client.post("api/live/vote", json=body).json()["recorded"]
        after = store.comparisons(study.name)
        pd.testing.assert_frame_equal(before, after)
        again = runner.invoke(cli, [*report, "--out", str(tmp_path / "r2")])
        assert again.exit_code == 0 and again.output == out.output
        assert len(LiveStore(store).frame(study.name)) == 3
        # The terminal report says what it left out, and where to read it.
        plain = runner.invoke(cli, [*report[:-1], "--out", str(tmp_path / "r4")])
        assert plain.exit_code == 0, plain.output
        assert "Live arena: 3 votes on raters' own prompts are not part of this" in plain.output

    live = runner.invoke(
        cli, ["report", "--study", str(study.path), "--live", "--out", str(tmp_path / "r3")]
    )
    assert live.exit_code == 0, live.output
    assert (
        "not part of the controlled analysis" in live.output
        and "3 votes on 3 prompts" in live.output
    )
    assert "Toy turbo (1 step)" in live.output or "toy-turbo-1step" in live.output
    table = pd.read_csv(tmp_path / "r3" / "live.csv")
    assert table["battles"].sum() == 6

    target = tmp_path / "live.jsonl"
    exported = runner.invoke(
        cli, ["export", "--study", str(study.path), "--live", "--out", str(target)]
    )
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["outcome"] for r in rows] == ["a", "b", "tie"]
    assert all(r["image_a"].startswith("live/") and r["prompt"].startswith("a red") for r in rows)
    bad = runner.invoke(
        cli, ["export", "--study", str(study.path), "--live", "--out", str(tmp_path / "x.xlsx")]
    )
    assert bad.exit_code != 0 and "Traceback" not in bad.output
