"""The embedded default study that ``arena demo`` (and ``make demo``) runs offline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from arena.study import Study, load_study

__all__ = ["DEMO_STUDY", "demo_study"]

DEMO_STUDY = Path(__file__).resolve().parents[1] / "data" / "studies" / "demo" / "study.toml"


def demo_study(workdir: Path | None = None) -> Study:
    """Load the demo study; with ``workdir``, its images and database live there instead."""
    study = load_study(DEMO_STUDY)
    if workdir is None:
        return study
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return replace(
        study,
        image_dir=workdir / "images",
        database_url=f"sqlite:///{workdir / 'arena.db'}",
    )
