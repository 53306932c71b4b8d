"""Study files: what a researcher writes to describe one preference study.

A study file is TOML. Relative paths in it are relative to the study file's folder, so a study
folder can be moved or copied as a whole. See ``docs/writing-a-study.md`` for every key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.choices import BOTH_BAD, OPTIONAL, SIDES, TIE
from arena.gold import GOLD_KINDS
from arena.live.config import check_live
from models.tomlcheck import Table, read_toml

__all__ = ["Question", "SchedulerSettings", "Study", "StudyError", "load_study", "STUDY_KEYS"]

#: Every top-level key a study file may hold, with a one-line description (documented in
#: docs/writing-a-study.md; a test checks that the two agree).
STUDY_KEYS: dict[str, str] = {
    "name": "stable key of the study, stored in the database (letters, digits, '-', '_')",
    "title": "heading shown to raters and in reports",
    "instructions": "plain text shown to raters above every trial",
    "consent": "consent text a new rater must agree to before the first trial (default: none)",
    "models": "model card ids to compare (at least two)",
    "seeds": "list of seeds used for every prompt",
    "seeds_per_prompt": "alternative to seeds: use seeds 0..N-1",
    "quota": "number of trials each rater answers (repeats included, practice not)",
    "practice": "practice trials at the start of every session: stored, never analysed (default 0)",
    "repeat_rate": "share of a rater's trials that show an earlier trial again, sides swapped (default 0)",
    "gold_rate": "share of a rater's trials that are attention checks with a known answer (default 0)",
    "seed": "seed of the trial scheduler",
    "completion_code": "code shown on the completion screen (e.g. for Prolific)",
    "completion_url": "http(s) URL the page redirects to after the last vote (e.g. Prolific's completion link)",
    "max_raters": "most raters the study admits; later newcomers are turned away (default: no limit)",
    "panel": "admit only raters whose link carries this panel's id: 'prolific' or 'mturk' (default: any link)",
    "cards": "folder of model cards (default: the shipped models/cards)",
    "images": "image set folder (default: images)",
    "database": "SQLAlchemy URL (default: sqlite file arena.db in the study folder)",
    "prompts": "table: file, categories, limit",
    "questions": "array of tables: id, text",
    "responses": "table: tie, both_bad (both false by default: forced choice)",
    "quality": "table: rater-quality rules that flag careless raters (see docs/writing-a-study.md)",
    "reference": "model the default comparisons set against every other model (default: the first model)",
    "comparisons": "array of tables: a, b, claim, margin, questions (default: reference against each model)",
    "scheduler": "table: rule ('balanced' or 'adaptive'), floor, refit_every (default: balanced)",
    "live": "table: models, max_prompt_chars, queue, device: raters' own prompts (arena.live)",
}
#: The ``[scheduler]`` table's keys (arena.scheduler) and their descriptions.
SCHEDULER_KEYS: dict[str, str] = {
    "rule": "'balanced' (every cell evenly, the default) or 'adaptive' (the pair whose next vote most narrows the targets)",
    "floor": "adaptive: share of the choice spread evenly over every pair, in (0, 1] (default 0.1)",
    "refit_every": "adaptive: trials issued between two refits of the ratings it steers by (default 50)",
}
SCHEDULER_RULES = ("balanced", "adaptive")
COMPARISON_KEYS = {"a", "b", "claim", "margin", "questions"}
PROMPT_KEYS = {"file", "categories", "limit"}
QUESTION_KEYS = {"id", "text", "gold"}
RESPONSE_KEYS = set(OPTIONAL)
#: Most practice trials a study may ask for, and the largest share of repeat trials.
MAX_PRACTICE, MAX_REPEAT_RATE, MAX_GOLD_RATE = 20, 0.5, 0.3
#: Panels whose ids the rater link can carry (``panel`` key).
PANELS = ("prolific", "mturk")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DEFAULT_QUESTION = ("quality", "Which image do you prefer?")
SHIPPED_CARDS = Path(__file__).resolve().parents[1] / "models" / "cards"


class StudyError(ValueError):
    """A study file is malformed; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class Question:
    """One question raters answer about a pair, e.g. ``quality`` or ``alignment``."""

    id: str
    text: str
    #: How this question's gold trials are built (arena.gold.GOLD_KINDS).
    gold: str = "spoiled"


@dataclass(frozen=True)
class SchedulerSettings:
    """The ``[scheduler]`` table: which rule chooses the next pair, and the adaptive rule's
    floor and refit interval (arena.scheduler)."""

    rule: str = "balanced"
    floor: float = 0.1
    refit_every: int = 50


@dataclass(frozen=True)
class Study:
    """A validated study file. Paths are absolute."""

    name: str
    title: str
    path: Path
    folder: Path
    prompts_file: Path
    categories: tuple[str, ...]
    prompt_limit: int | None
    models: tuple[str, ...]
    seeds: tuple[int, ...]
    questions: tuple[Question, ...]
    allow_tie: bool
    allow_both_bad: bool
    quota: int
    instructions: str
    cards_dir: Path
    image_dir: Path
    database_url: str
    seed: int = 0
    completion_code: str | None = None
    max_raters: int | None = None
    panel: str | None = None
    completion_url: str | None = None
    practice: int = 0
    repeat_rate: float = 0.0
    gold_rate: float = 0.0
    consent: str | None = None
    #: Rater-quality rules (``[quality]``), by name; analysis.raters documents each and its
    #: default.
    quality: Mapping[str, float] = field(default_factory=dict)
    #: Model of the default comparisons (``reference``; the first model when not set).
    reference: str = ""
    #: Declared comparisons (``[[comparisons]]``) as analysis.claims.Claim; empty: the default,
    #: the reference against every other model.
    comparisons: tuple[Any, ...] = ()
    #: How the next pair is chosen (``[scheduler]``).
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)

    @property
    def choices(self) -> tuple[str, ...]:
        """The responses a rater may give in this study, in the order of arena.choices."""
        offered = {TIE: self.allow_tie, BOTH_BAD: self.allow_both_bad}
        return (*SIDES, *(c for c in OPTIONAL if offered[c]))


def _table(path: Path, table: Mapping[str, Any], prefix: str = "") -> Table:
    """A checker of one table of the study file (models.tomlcheck words every message)."""
    return Table(str(path), table, StudyError, prefix)


def _resolve(folder: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else folder / p).resolve()


def _database_url(folder: Path, value: str | None) -> str:
    if value is None:
        return f"sqlite:///{folder / 'arena.db'}"
    prefix = "sqlite:///"
    if value.startswith(prefix) and value != "sqlite:///:memory:":
        db_path = value[len(prefix) :]
        if db_path and not Path(db_path).is_absolute():
            return f"{prefix}{folder / db_path}"
    return value


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The study's TOML file.

    Raises
    ------
    StudyError
        When the file is missing, is not TOML, or a key is unknown, missing or of the wrong type.
    """
    path = Path(path).resolve()
    data, _ = read_toml(path, StudyError)
    folder = path.parent
    top = _table(path, data)
    top.check_keys(STUDY_KEYS)
    check_live(path, data.get("live"))  # the [live] table's own module (arena/live/config.py)

    name = top.get("name", str, "a string such as 'turbo-vs-base'")
    if not _NAME_RE.match(name):
        raise top.fail("name", "letters, digits, '-', '_' or '.'", name)
    models = top.get("models", list, "a list of at least two model card ids")
    if len(models) < 2 or not all(isinstance(m, str) for m in models):
        raise top.fail("models", "a list of at least two model card ids", models)
    if len(set(models)) != len(models):
        raise top.fail("models", "a list without repeats", models)

    if "seeds" in data and "seeds_per_prompt" in data:
        raise top.say("give either key 'seeds' or key 'seeds_per_prompt', not both")
    if "seeds_per_prompt" in data:
        n = top.get("seeds_per_prompt", int, "a positive integer")
        if n < 1:
            raise top.fail("seeds_per_prompt", "a positive integer", n)
        seeds = tuple(range(n))
    else:
        seeds_list = top.get("seeds", list, "a list of integers", [0])
        if not seeds_list or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_list
        ):
            raise top.fail("seeds", "a non-empty list of non-negative integers", seeds_list)
        if len(set(seeds_list)) != len(seeds_list):
            raise top.fail("seeds", "a list without repeats", seeds_list)
        seeds = tuple(seeds_list)

    quota = top.get("quota", int, "a positive integer", 20)
    if quota < 1:
        raise top.fail("quota", "a positive integer", quota)

    prompts = _table(path, top.get("prompts", dict, "a table with a 'file' key"), "prompts.")
    prompts.check_keys(PROMPT_KEYS)
    prompts_file = _resolve(folder, prompts.get("file", str, "a path to a TSV, CSV or JSONL file"))
    if not prompts_file.is_file():
        raise prompts.fail("file", "an existing prompt file", str(prompts_file))
    categories = prompts.get("categories", list, "a list of category names", [])
    if not all(isinstance(c, str) for c in categories):
        raise prompts.fail("categories", "a list of category names", categories)
    limit = prompts.get("limit", int, "a positive integer", None)
    if limit is not None and limit < 1:
        raise prompts.fail("limit", "a positive integer", limit)

    questions = _questions(path, top.get("questions", list, "an array of [[questions]]", None))
    responses = _table(path, top.get("responses", dict, "a table", {}), "responses.")
    responses.check_keys(RESPONSE_KEYS)

    max_raters = top.get("max_raters", int, "a positive integer", None)
    if max_raters is not None and max_raters < 1:
        raise top.fail("max_raters", "a positive integer", max_raters)
    panel = top.get("panel", str, "'prolific' or 'mturk'", None)
    if panel is not None and panel not in PANELS:
        raise top.fail("panel", "'prolific' or 'mturk'", panel)

    practice = top.get("practice", int, "a whole number from 0 to 20", 0)
    if not 0 <= practice <= MAX_PRACTICE:
        raise top.fail("practice", f"a whole number from 0 to {MAX_PRACTICE}", practice)
    repeat_rate = top.get("repeat_rate", (int, float), "a number from 0 to 0.5", 0.0)
    if not 0 <= repeat_rate <= MAX_REPEAT_RATE:
        raise top.fail("repeat_rate", f"a number from 0 to {MAX_REPEAT_RATE}", repeat_rate)
    gold_rate = top.get("gold_rate", (int, float), "a number from 0 to 0.3", 0.0)
    if not 0 <= gold_rate <= MAX_GOLD_RATE:
        raise top.fail("gold_rate", f"a number from 0 to {MAX_GOLD_RATE}", gold_rate)
    if repeat_rate + gold_rate > MAX_REPEAT_RATE:
        raise top.fail(
            "gold_rate", f"at most {MAX_REPEAT_RATE} together with repeat_rate", gold_rate
        )
    completion_url = top.get("completion_url", str, "an http(s) URL", None)
    if completion_url is not None and not re.match(r"^https?://[^\s<>\"']+$", completion_url):
        raise top.fail("completion_url", "an http(s) URL", completion_url)
    quality = _quality(path, top.get("quality", dict, "a table of rater-quality rules", {}))

    cards = top.get("cards", str, "a path to a folder of model cards", None)
    reference = top.get("reference", str, "one of the study's models", models[0])
    if reference not in models:
        raise top.fail("reference", f"one of the study's models ({', '.join(models)})", reference)
    raw_comparisons = top.get("comparisons", list, "an array of [[comparisons]] tables", [])
    return Study(
        name=name,
        title=top.get("title", str, "a string", name),
        path=path,
        folder=folder,
        prompts_file=prompts_file,
        categories=tuple(categories),
        prompt_limit=limit,
        models=tuple(models),
        seeds=seeds,
        questions=questions,
        allow_tie=responses.get("tie", bool, "true or false", False),
        allow_both_bad=responses.get("both_bad", bool, "true or false", False),
        quota=quota,
        instructions=top.get("instructions", str, "a string", ""),
        cards_dir=_resolve(folder, cards) if cards else SHIPPED_CARDS,
        image_dir=_resolve(folder, top.get("images", str, "a path to a folder", "images")),
        database_url=_database_url(folder, top.get("database", str, "an SQLAlchemy URL", None)),
        seed=top.get("seed", int, "an integer", 0),
        completion_code=top.get("completion_code", str, "a string", None),
        max_raters=max_raters,
        panel=panel,
        quality=quality,
        completion_url=completion_url,
        practice=practice,
        repeat_rate=float(repeat_rate),
        gold_rate=float(gold_rate),
        consent=_consent(top),
        reference=reference,
        comparisons=_comparisons(path, raw_comparisons, models, [q.id for q in questions]),
        scheduler=_scheduler(path, top.get("scheduler", dict, "a table with a 'rule' key", {})),
    )


def _scheduler(path: Path, table: Mapping[str, Any]) -> SchedulerSettings:
    """The ``[scheduler]`` table, each key checked."""
    t = _table(path, table, "scheduler.")
    t.check_keys(SCHEDULER_KEYS)
    rules = " or ".join(map(repr, SCHEDULER_RULES))
    rule = t.get("rule", str, rules, "balanced")
    if rule not in SCHEDULER_RULES:
        raise t.fail("rule", rules, rule)
    floor = t.get("floor", (int, float), "a number above 0 and at most 1", 0.1)
    if not 0 < floor <= 1:
        raise t.fail("floor", "a number above 0 and at most 1", floor)
    every = t.get("refit_every", int, "a whole number from 1 to 100000", 50)
    if not 1 <= every <= 100_000:
        raise t.fail("refit_every", "a whole number from 1 to 100000", every)
    return SchedulerSettings(rule, float(floor), every)


def _consent(top: Table) -> str | None:
    text = top.get("consent", str, "the consent text (plain text)", None)
    if text is not None and not text.strip():
        raise top.fail("consent", "a non-empty consent text (or no consent key)", text)
    return text


def _quality(path: Path, table: Mapping[str, Any]) -> dict[str, float]:
    """The ``[quality]`` table: every key a rule of :class:`analysis.raters.QualityRules`."""
    if not table:
        return {}
    from analysis.raters import QualityRules

    rules = _table(path, table, "quality.")
    rules.check_keys(QualityRules.documented())
    out = {}
    for key in table:
        value = rules.get(key, (int, float), "a number")
        out[key] = float(value)
    return out


def _questions(path: Path, raw: list | None) -> tuple[Question, ...]:
    if raw is None:
        return (Question(*_DEFAULT_QUESTION),)
    if not raw:
        raise _table(path, {}).fail("questions", "at least one [[questions]] table", raw)
    out: list[Question] = []
    for i, item in enumerate(raw):
        where = f"questions[{i}]."
        if not isinstance(item, dict):
            raise _table(path, {}).fail(f"questions[{i}]", "a table with id and text", item)
        q = _table(path, item, where)
        q.check_keys(QUESTION_KEYS)
        qid = q.get("id", str, "a short name such as 'quality'")
        if not _NAME_RE.match(qid):
            raise q.fail("id", "letters, digits, '-', '_' or '.'", qid)
        default = "other-prompt" if qid == "alignment" else "spoiled"
        gold = q.get("gold", str, "'spoiled' or 'other-prompt'", default)
        if gold not in GOLD_KINDS:
            raise q.fail("gold", "'spoiled' or 'other-prompt'", gold)
        out.append(Question(qid, q.get("text", str, "the question shown to raters"), gold))
    ids = [q.id for q in out]
    if len(set(ids)) != len(ids):
        raise _table(path, {}).fail("questions", "tables with different ids", ids)
    return tuple(out)


def _comparisons(
    path: Path, raw: list, models: list[str], question_ids: list[str]
) -> tuple[Any, ...]:
    """The ``[[comparisons]]`` tables as analysis.claims.Claim, each key checked."""
    from analysis.claims import CLAIMS, MARGIN_CLAIMS, Claim

    out = []
    for i, item in enumerate(raw):
        where = f"comparisons[{i}]."
        if not isinstance(item, dict):
            raise _table(path, {}).fail(f"comparisons[{i}]", "a table with a and b", item)
        c = _table(path, item, where)
        c.check_keys(COMPARISON_KEYS)
        pair = []
        for side in ("a", "b"):
            model = c.get(side, str, f"one of the study's models ({', '.join(models)})")
            if model not in models:
                raise c.fail(side, f"one of the study's models ({', '.join(models)})", model)
            pair.append(model)
        if pair[0] == pair[1]:
            raise c.fail("b", "a model other than a", pair[1])
        claim = c.get("claim", str, " or ".join(map(repr, CLAIMS)), "superiority")
        if claim not in CLAIMS:
            raise c.fail("claim", " or ".join(map(repr, CLAIMS)), claim)
        if claim in MARGIN_CLAIMS:
            margin = c.get("margin", (int, float), "a share of votes between 0 and 0.5, e.g. 0.05")
            if not 0 < margin < 0.5:
                raise c.fail("margin", "a share of votes between 0 and 0.5, e.g. 0.05", margin)
        elif "margin" in item:
            raise c.fail("margin", f"absent (a {claim} claim takes no margin)", item["margin"])
        else:
            margin = 0.0
        questions = c.get(
            "questions", list, f"a list of question ids ({', '.join(question_ids)})", []
        )
        bad = [q for q in questions if q not in question_ids]
        if bad or not all(isinstance(q, str) for q in questions):
            raise c.fail(
                "questions", f"a list of question ids ({', '.join(question_ids)})", questions
            )
        out.append(Claim(pair[0], pair[1], claim, float(margin), tuple(questions)))
    return tuple(out)
