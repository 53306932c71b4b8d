"""The responses a rater can give, named once.

Every other place reads them from here: the votes table's check constraint
(:mod:`arena.store.schema`), the responses a study offers (:attr:`arena.study.Study.choices`),
the buttons and key hints of the rater's page (:mod:`arena.app`, :mod:`arena.app_page`), the
keys the page's script listens to (sent with the page, ``data-keys``) and the outcomes of the
comparisons frame (:mod:`arena.store.frames`). The migrations keep their own copy on purpose:
a revision describes the schema as it was.

No imports beyond the standard library: the schema and the CLI read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BOTH_BAD",
    "CHOICES",
    "LEFT",
    "OPTIONAL",
    "RESPONSES",
    "RIGHT",
    "SIDES",
    "TIE",
    "Response",
    "response",
]


@dataclass(frozen=True)
class Response:
    """One response: what is stored, what the button says and which keys choose it."""

    #: Stored in ``votes.choice`` and sent by the page as the vote's ``choice``.
    choice: str
    #: The button's label on the rater's page.
    label: str
    #: ``KeyboardEvent.key`` values that choose it on the page.
    keys: tuple[str, ...]
    #: The keys as the page shows them ("1 or ←").
    hint: tuple[str, ...]

    @property
    def element_id(self) -> str:
        """Id of the response's button on the page (``arena-both-bad`` for ``both_bad``)."""
        return "arena-" + self.choice.replace("_", "-")


LEFT, RIGHT, TIE, BOTH_BAD = "left", "right", "tie", "both_bad"

#: Every response the arena knows, in the order of the outcomes they become
#: (:data:`analysis.frame.OUTCOMES`: ``a`` is the left image's model, ``b`` the right one's).
RESPONSES: tuple[Response, ...] = (
    Response(LEFT, "◀ Left is better", ("1", "ArrowLeft"), ("1", "←")),
    Response(RIGHT, "Right is better ▶", ("2", "ArrowRight"), ("2", "→")),
    Response(TIE, "Tie", ("3", "t", "T"), ("3", "T")),
    Response(BOTH_BAD, "Both bad", ("4", "b", "B"), ("4", "B")),
)
#: Every stored response (the votes table accepts these and nothing else).
CHOICES: tuple[str, ...] = tuple(r.choice for r in RESPONSES)
#: The two forced-choice answers every study offers; also a gold trial's possible answers.
SIDES: tuple[str, str] = (LEFT, RIGHT)
#: The responses a study may add (its ``[responses]`` table has one key per response).
OPTIONAL: tuple[str, ...] = (TIE, BOTH_BAD)

_BY_CHOICE = {r.choice: r for r in RESPONSES}


def response(choice: str) -> Response:
    """The :class:`Response` stored as ``choice``; ``KeyError`` for an unknown one."""
    return _BY_CHOICE[choice]
