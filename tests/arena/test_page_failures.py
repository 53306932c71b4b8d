"""Every failure is shown to the rater, in a real Chromium, and a retry stores exactly one vote.

Each test drives the real page: a bad link, a refused vote, a database lock held past the busy
timeout, a full disk (a small tmpfs holding the database), and the server gone and back.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest
from servers import BROWSER, free_port, running

from arena.ingest import ingest
from arena.serve import create_server
from arena.store import Store

pytestmark = BROWSER

SHOWN = "window.arena && window.arena.shownAt !== null"
MESSAGE = "#arena-message"


def _serve(stack: ExitStack, make_study, db: Path, port: int | None = None, **options):
    study, prompts = make_study(quota=4, **options)
    store = Store.open(f"sqlite:///{db}", busy_timeout_ms=300)
    stack.callback(store.close)
    ingest(store, study, prompts)
    return stack.enter_context(running(create_server(study, store), port=port)), study, store


def _message(page) -> str:
    page.wait_for_selector(f"{MESSAGE}:not([hidden])", timeout=15_000)
    return page.inner_text(MESSAGE)


def _votes(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from votes").fetchone()[0]


def _progress(page, text: str) -> None:
    page.wait_for_function(
        f"document.querySelector('#arena-progress').innerText.trim() === '{text}'",
        timeout=15_000,
    )


@pytest.mark.parametrize(
    "query, needle",
    [("?rater=bad%20id%3Cb%3E", "not valid"), ("?rater=" + "x" * 300, "not valid")],
)
def test_a_bad_link_says_so_instead_of_loading_forever(
    chromium, make_study, tmp_path, query, needle
) -> None:
    with ExitStack() as stack:
        base, _, store = _serve(stack, make_study, tmp_path / "a.db")
        page = chromium.new_page()
        page.goto(base + query)
        text = _message(page)
        assert needle in text and "Traceback" not in text
        assert not page.is_visible("#arena-retry")  # retrying the same link cannot help
        assert "Loading" not in page.inner_text("#arena-trial")
        assert store.counts()["raters"] == 0


def test_a_refused_vote_is_shown_and_the_keys_keep_working(chromium, make_study, tmp_path) -> None:
    db = tmp_path / "a.db"
    with ExitStack() as stack:
        base, _, _ = _serve(stack, make_study, db)
        page = chromium.new_page()
        page.goto(base + "?rater=kim")
        page.wait_for_function(SHOWN, timeout=30_000)
        real = page.evaluate("window.arena.token")
        page.evaluate("window.arena.token = 'forged-token'")
        page.keyboard.press("1")
        assert "not known" in _message(page)
        assert _votes(db) == 0
        page.evaluate(f"window.arena.token = {real!r}")
        page.keyboard.press("2")  # the keyboard is not dead after an error
        _progress(page, "1 / 4")
        assert page.is_hidden(MESSAGE)
        assert _votes(db) == 1


def test_a_lock_past_the_busy_timeout_asks_for_a_retry(chromium, make_study, tmp_path) -> None:
    db = tmp_path / "a.db"
    with ExitStack() as stack:
        base, _, _ = _serve(stack, make_study, db)
        page = chromium.new_page()
        page.goto(base + "?rater=lee")
        page.wait_for_function(SHOWN, timeout=30_000)
        holder = sqlite3.connect(db, isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            page.keyboard.press("1")
            text = _message(page)
            assert "busy" in text and "try again" in text
            assert page.is_visible("#arena-retry")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert _votes(db) == 0
        page.keyboard.press("1")  # the same trial, voted again once the lock is gone
        _progress(page, "1 / 4")
        assert _votes(db) == 1 and page.is_hidden(MESSAGE)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MiB tmpfs (needs root, as CI runs); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {made.stderr.decode().strip()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: the disk is full
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_shown_and_a_retry_after_it_stores_one_vote(
    chromium, make_study, small_disk
) -> None:
    db = small_disk / "arena.db"
    with ExitStack() as stack:
        base, _, _ = _serve(stack, make_study, db)
        page = chromium.new_page()
        page.goto(base + "?rater=max")
        page.wait_for_function(SHOWN, timeout=30_000)
        filler = _fill(small_disk)
        page.keyboard.press("2")
        text = _message(page)
        assert "storage" in text and page.is_visible("#arena-retry")
        filler.unlink()
        page.click("#arena-retry")
        _progress(page, "1 / 4")
        assert page.is_hidden(MESSAGE)
    assert _votes(db) == 1


def test_the_server_gone_and_back(chromium, make_study, tmp_path) -> None:
    db = tmp_path / "a.db"
    port = free_port()
    page = chromium.new_page()
    with ExitStack() as stack:
        base, _, _ = _serve(stack, make_study, db, port=port)
        page.goto(base + "?rater=sam")
        page.wait_for_function(SHOWN, timeout=30_000)
    # The server is gone (stopped, port closed): the vote cannot be sent.
    page.keyboard.press("1")
    text = _message(page)
    assert "cannot be reached" in text and page.is_visible("#arena-retry")
    with ExitStack() as stack:
        _serve(stack, make_study, db, port=port)  # the same study and database, back
        page.click("#arena-retry")
        _progress(page, "1 / 4")
        assert page.is_hidden(MESSAGE)
        page.wait_for_function(SHOWN, timeout=30_000)  # keys wait for the next pair's images
        page.keyboard.press("1")
        _progress(page, "2 / 4")
    assert _votes(db) == 2
