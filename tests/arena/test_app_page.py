"""Page pieces: rater identification from URLs, and escaping of everything from data."""

from __future__ import annotations

import pytest

from arena.app_page import (
    done_html,
    header_html,
    identify,
    parse_rater_param,
    progress_text,
    trial_html,
)
from arena.store import ImageRef, Progress, TrialView


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"rater": "alice"}, ("alice", "url", None, None, None)),
        (
            {"PROLIFIC_PID": "p1", "STUDY_ID": "s", "SESSION_ID": "x", "rater": "ignored"},
            ("p1", "prolific", "s", "x", None),
        ),
        ({"workerId": "W1", "assignmentId": "A1"}, ("W1", "mturk", None, None, "A1")),
    ],
)
def test_identify_reads_panel_parameters(params, expected) -> None:
    who = identify(params)
    got = (
        who.id,
        who.source,
        who.panel_study_id,
        who.panel_session_id,
        who.panel_assignment_id,
    )
    assert got == expected


def test_identify_issues_fresh_ids_and_refuses_mangled_ones() -> None:
    a, b = identify({}), identify({"rater": "  "})
    assert a.source == b.source == "generated" and a.id != b.id and a.id.startswith("r-")
    for bad in ("<script>", "a b", "x" * 200, "../x"):
        with pytest.raises(ValueError, match="not valid"):
            identify({"rater": bad})


def test_rater_param_is_an_id_or_a_query_string() -> None:
    assert parse_rater_param("") == {}
    assert parse_rater_param("bob") == {"rater": "bob"}
    assert parse_rater_param("?workerId=W&assignmentId=A") == {
        "workerId": "W",
        "assignmentId": "A",
    }


def _progress(prompt: str, answered: int = 3, source: str = "url", side: int = 512) -> Progress:
    ref = ImageRef("alpha/p0.png", "ab" * 32, side, side * 3 // 4)
    trial = TrialView("tok", prompt, "quality", "Which <one>?", ref, ref)
    return Progress("r", source, answered, 10, trial)


def test_trial_html_escapes_data_and_hides_models() -> None:
    html = trial_html(_progress('<img src=x onerror="alert(1)"> ${x} {{y}}'))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "${" not in html and "{{" not in html
    assert "Which &lt;one&gt;?" in html
    assert "alpha" not in html and 'src="images/' + "ab" * 32 + '"' in html
    assert html.count('style="aspect-ratio: 512 / 384"') == 2  # same display size
    assert progress_text(_progress("x")) == "3 / 10"


def test_tiny_images_are_upscaled_without_smoothing() -> None:
    assert "arena-pixelated" not in trial_html(_progress("x"))
    assert trial_html(_progress("x", side=32)).count('class="arena-image arena-pixelated"') == 2


def test_header_and_completion_screens(make_study) -> None:
    study, _ = make_study()
    assert "Test &lt;study&gt;" in header_html(study) and "<p>" in header_html(study)
    done = Progress("r", "prolific", 5, 5, None)
    html = done_html(study, done)
    assert "DONE-123" in html and "app.prolific.com/submissions/complete?cc=DONE-123" in html
    assert "prolific.com" not in done_html(study, Progress("r", "url", 5, 5, None))


def test_the_page_gets_the_responses_from_arena_choices(make_study) -> None:
    """Buttons, keys and the script's key map all come from arena.choices: the script has no
    list of its own, and a study's page carries only the keys of the responses it offers."""
    import html as html_lib
    import json
    import re

    from analysis.frame import OUTCOMES
    from arena.app import controls_html
    from arena.app_page import asset
    from arena.choices import CHOICES, RESPONSES
    from arena.store import OUTCOME_OF_CHOICE

    script = asset("arena.js")
    assert not [c for c in CHOICES if f'"{c}"' in script or f"'{c}'" in script]
    assert OUTCOME_OF_CHOICE == {"left": "a", "right": "b", "tie": "tie", "both_bad": "both_bad"}
    assert set(OUTCOME_OF_CHOICE.values()) == set(OUTCOMES)

    study, _ = make_study(tie=True)
    page = controls_html(study)
    keys = json.loads(html_lib.unescape(re.search(r'data-keys="([^"]*)"', page).group(1)))
    offered = {r.choice: r for r in RESPONSES if r.choice in study.choices}
    assert set(offered) == {"left", "right", "tie"}
    assert keys == {k: c for c, r in offered.items() for k in r.keys}
    assert keys["ArrowLeft"] == "left" and keys["t"] == "tie" and "b" not in keys
    assert re.findall(r'data-choice="(\w+)"', page) == ["left", "tie", "right"]
