"""The admin progress page: off by default, behind Basic auth when on, escaped output."""

from __future__ import annotations

import httpx
from servers import RaterClient


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

    response = httpx.get(base + "admin", auth=("admin", "s3cret"))
    assert response.status_code == 200
    text = response.text
    assert "<td>raters who started</td><td>2</td>" in text
    assert "<td>raters who finished</td><td>1</td>" in text
    assert f"<td>votes</td><td>{study.quota}</td>" in text
    assert "<td>trials issued, not answered</td><td>1</td>" in text
    assert "median decision time 0.7 s" in text
    df = store.comparisons(study.name)
    assert len(df) == study.quota
