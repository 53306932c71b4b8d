import json
import re

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from analysis.present.text import leaderboard_text, quality_text
from analysis.report import ALL, LEADERBOARD_COLUMNS, analyze, write_report
from analysis.simulate import simulate_comparisons

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def study():
    df = simulate_comparisons(
        [0.8, 0.0, -0.8],
        models=["sdxl_50", "sdxl_turbo_1", EVIL],
        n_raters=25,
        votes_per_rater=24,
        tie_nu=0.3,
        both_bad=0.05,
        rater_sd=0.4,
        questions=("quality", "alignment"),
        seed=1,
    )
    return df, analyze(
        df,
        n_boot=150,
        seed=3,
        elo_orders=20,
        latency_ms={"sdxl_50": 6200.0, "sdxl_turbo_1": 110.0},
        display_names={"sdxl_50": "SDXL (50 steps)"},
    )


def test_structure_and_leaderboard(study):
    df, a = study
    assert list(a.questions) == ["alignment", "quality", ALL]
    lb = a.leaderboard("quality")
    assert tuple(lb.columns) == LEADERBOARD_COLUMNS
    assert lb["rank"].tolist() == [1, 2, 3]
    assert lb["model"].tolist() == ["sdxl_50", "sdxl_turbo_1", EVIL]
    assert lb["display_name"].iloc[0] == "SDXL (50 steps)"
    assert np.all(lb.ci_low <= lb.rating) and np.all(lb.rating <= lb.ci_high)
    assert lb["votes"].sum() == 2 * (df["question"] == "quality").sum()
    assert a.settings["n_votes"] == len(df) and a.settings["n_boot"] == 150


def test_all_is_mean_over_questions(study):
    _, a = study
    per_q = [a.questions[q].ratings for q in ("alignment", "quality")]
    np.testing.assert_allclose(a.questions[ALL].ratings, np.mean(per_q, axis=0))
    reps = np.mean([a.questions[q].replicates for q in ("alignment", "quality")], axis=0)
    np.testing.assert_allclose(a.questions[ALL].replicates, reps)
    assert a.questions[ALL].counts.n_votes == a.settings["n_votes"]


def test_json_is_complete_and_serialisable(study):
    _, a = study
    out = json.loads(json.dumps(a.to_json()))
    assert out["settings"]["seed"] == 3 and out["settings"]["cluster"] == "rater"
    assert out["settings"]["tie_mode"] == "davidson"
    q = out["questions"]["quality"]
    assert {"leaderboard", "pairwise", "win_rate", "vote_counts", "n_votes", "tie_nu"} <= set(q)
    assert q["win_rate"][0][0] is None  # nan -> null


def test_text_leaderboard(study):
    _, a = study
    text = leaderboard_text(a, "quality")
    assert "SDXL (50 steps)" in text and "B=150" in text
    with pytest.raises(ValueError, match="unknown question"):
        leaderboard_text(a, "speed")


def test_report_offline_and_escaped(study, tmp_path):
    _, a = study
    files = write_report(a, tmp_path, title="Turbo <vs> teacher")
    html = files.html.read_text(encoding="utf-8")
    assert '<script src="http' not in html
    assert html.count(get_plotlyjs()[:500]) == 1  # plotly.js embedded exactly once
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Turbo &lt;vs&gt; teacher" in html
    assert "B = 150" in html and "seed 3" in html
    # Per question: ratings, difference heatmap (3 models), rating vs speed; one category only,
    # so no per-category figure; one win-rate figure of the comparisons per rated question.
    assert html.count("Plotly.newPlot") == 3 * 3 + 2
    assert 'id="breakdown' not in html
    assert html.index("Question: all questions") < html.index("Question: alignment")
    assert "Holm p" in html and "Wilson 95%" in html and "P(first wins)" in html
    assert "63.828038" not in html and not re.search(r"\d\.\d{5,}</td>", html)  # no raw floats
    lb = pd.read_csv(files.csv["leaderboard_quality"])
    assert lb["model"].tolist()[-1] == EVIL
    assert set(files.csv) >= {"pairwise_all", "winrate_alignment", "votes_quality"}
    assert EVIL in json.loads(files.json.read_text())["models"]


def test_single_question_and_options():
    df = simulate_comparisons([0.5, 0.0], n_raters=10, votes_per_rater=10, seed=2)
    a = analyze(df, n_boot=50, elo_orders=0, tie_mode="half", cluster="vote", anchor="m1")
    np.testing.assert_allclose(a.questions[ALL].ratings, a.questions["quality"].ratings)
    assert a.leaderboard().set_index("model").loc["m1", "rating"] == pytest.approx(1000.0)
    assert a.leaderboard()["elo_sdxl_turbo"].isna().all()
    with pytest.raises(ValueError, match="tie_mode"):
        analyze(df, tie_mode="draw")
    with pytest.raises(ValueError, match="cluster"):
        analyze(df, cluster="session")
    with pytest.raises(ValueError, match="'outcome'"):
        analyze(df.assign(outcome="left"))


def _ties_only(df: pd.DataFrame, question: str, outcome: str = "tie") -> pd.DataFrame:
    df = df.copy()
    df["outcome"] = df["outcome"].astype(str)
    df.loc[df["question"] == question, "outcome"] = outcome
    return df


@pytest.mark.parametrize("outcome", ["tie", "both_bad"])
def test_question_without_decisive_vote_is_reported_not_rated(study, tmp_path, outcome):
    df, _ = study
    a = analyze(_ties_only(df, "alignment", outcome), n_boot=30, seed=3, elo_orders=5)
    assert "alignment" not in a.questions and "quality" in a.questions
    why = a.settings["unrated_questions"]["alignment"]
    n = int((df["question"] == "alignment").sum())
    assert why.startswith("no decisive vote") and f"{n} " in why
    out = json.loads(json.dumps(a.to_json()))
    assert out["settings"]["unrated_questions"] == {"alignment": why}
    assert "question 'alignment' is not rated" in quality_text(a)
    files = write_report(a, tmp_path, title="ties")
    assert "Question alignment is not rated" in files.html.read_text()


def test_no_decisive_vote_anywhere_is_one_sentence(study):
    df, _ = study
    every = _ties_only(_ties_only(df, "alignment"), "quality", "both_bad")
    with pytest.raises(ValueError, match=r"no question has a decisive vote \(alignment: "):
        analyze(every, n_boot=30, seed=3, elo_orders=5)


def test_an_open_interval_side_is_flagged_where_json_writes_null():
    df = simulate_comparisons([0.5, 0.0, -0.5], models=["top", "mid", "low"], n_raters=20, seed=2)
    df["outcome"] = df["outcome"].astype(str)
    df.loc[df["model_a"] == "top", "outcome"] = "a"
    df.loc[df["model_b"] == "top", "outcome"] = "b"
    df["category"] = np.where(df.index % 2 == 0, "animals", "scenes")
    a = analyze(df, n_boot=40, seed=1, elo_orders=0)
    rows = {r["model"]: r for r in a.to_json()["questions"]["quality"]["leaderboard"]}
    assert rows["top"]["ci_high"] is None and rows["top"]["ci_open"] == "upper"
    assert rows["mid"]["ci_open"] == "" and rows["mid"]["ci_low"] is not None
    # The per-category breakdown says the same in each category.
    breakdown = a.to_json()["breakdown"]
    assert {r["category"] for r in breakdown} == {"animals", "scenes"}
    for cat in ("animals", "scenes"):
        cats = {r["model"]: r for r in breakdown if r["category"] == cat}
        assert cats["top"]["ci_high"] is None and cats["top"]["ci_open"] == "upper"
        assert cats["mid"]["ci_open"] == ""


def test_a_single_category_gives_no_breakdown_rows():
    df = simulate_comparisons([0.5, 0.0, -0.5], n_raters=8, seed=2)
    assert df["category"].nunique() == 1
    a = analyze(df, n_boot=20, seed=1, elo_orders=0)
    assert a.breakdown is not None and a.breakdown.empty
    assert "rating" in a.breakdown.columns and a.to_json()["breakdown"] == []
