"""Who may start: a cap on raters and panel-only studies, refused before anything is written."""

from __future__ import annotations

import pytest

from arena.ingest import ingest
from arena.store import RaterIdentity, Store, VoteRefused
from arena.study import StudyError


def _open(make_study, tmp_path, extra: str):
    study, prompts = make_study(extra=extra)
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    return study, store


def test_max_raters_turns_newcomers_away_but_lets_raters_resume(make_study, tmp_path) -> None:
    study, store = _open(make_study, tmp_path, "max_raters = 2")
    assert study.max_raters == 2
    first = store.start(study, RaterIdentity("a"))
    store.start(study, RaterIdentity("b"))
    before = store.counts()
    with pytest.raises(VoteRefused, match="full") as info:
        store.start(study, RaterIdentity("c"))
    assert info.value.code == "closed" and store.counts() == before
    # A rater already in the study comes back whatever the cap.
    again = store.start(study, RaterIdentity("a"), first.secret)
    assert again.progress.trial.token == first.progress.trial.token
    store.close()


def test_a_panel_study_admits_only_that_panels_links(make_study, tmp_path) -> None:
    study, store = _open(make_study, tmp_path, 'panel = "prolific"')
    for who in (RaterIdentity("r-1234", source="generated"), RaterIdentity("w", source="mturk"),
                RaterIdentity("u", source="url")):  # fmt: skip
        with pytest.raises(VoteRefused, match="Prolific link") as info:
            store.start(study, who)
        assert info.value.code == "closed"
    assert store.counts()["raters"] == 0
    ok = store.start(study, RaterIdentity("5f1e", source="prolific", panel_session_id="S"))
    assert ok.progress.trial is not None
    store.close()


@pytest.mark.parametrize(
    "extra, needle",
    [
        ("max_raters = 0", "'max_raters' must be a positive integer"),
        ('max_raters = "ten"', "'max_raters' must be a positive integer"),
        ('panel = "facebook"', "'panel' must be 'prolific' or 'mturk'"),
    ],
)
def test_bad_admission_settings_name_the_key(make_study, extra, needle) -> None:
    with pytest.raises(StudyError, match=needle) as info:
        make_study(extra=extra)
    assert "study.toml" in str(info.value)
