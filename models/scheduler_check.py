"""Check a card's ``[scheduler]`` keys against the diffusers scheduler class they configure.

``models.cards`` stays free of diffusers, so it can only check the table's shape; the keys a
scheduler takes are the parameters of its class's ``__init__`` (its config). Checking them here,
in ``arena models validate``, refuses a typo in a second instead of when ``generate`` has loaded
the weights (backends applies the same rule at load time).

The class is the card's ``[scheduler] class``, else the checkpoint's own, read from a local
folder's ``scheduler/scheduler_config.json`` or the Hugging Face cache (never downloaded).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from models.cards import CardError, ModelCard, display_path
from models.tomlcheck import Table, suggestion

__all__ = ["check_scheduler_keys"]

_CONFIG = "scheduler/scheduler_config.json"


def _checkpoint_class(card: ModelCard) -> str | None:
    """The class named by the checkpoint's scheduler config, when it can be read offline."""
    local = Path(card.resolved_repo) / _CONFIG
    found: object = local if local.is_file() else None
    if found is None:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover - diffusers depends on huggingface_hub
            return None
        found = try_to_load_from_cache(card.resolved_repo, _CONFIG, revision=card.revision)
    if not isinstance(found, (str, Path)):
        return None
    try:
        return json.loads(Path(found).read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError):
        return None


def check_scheduler_keys(card: ModelCard) -> bool:
    """Refuse a ``[scheduler]`` key the scheduler class does not take.

    Parameters
    ----------
    card
        A card loaded by :func:`models.cards.load_card`; diffusers must be importable.

    Returns
    -------
    bool
        ``True`` when the keys were checked, ``False`` when the class is unknown offline (the
        card keeps the checkpoint's scheduler and its config is neither local nor cached).

    Raises
    ------
    CardError
        When ``class`` names no diffusers scheduler, or a key is not a parameter of the class.
    """
    import diffusers

    spec = card.scheduler
    if spec.name is None and not spec.options:
        return True
    table = Table(display_path(card.path), {}, CardError, "scheduler.")
    name = spec.name or _checkpoint_class(card)
    if name is None:
        return False
    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        known = [n for n in dir(diffusers) if n.endswith("Scheduler")]
        if spec.name is None:  # the checkpoint's own class, from a newer diffusers perhaps
            return False
        raise table.fail("class", f"a diffusers scheduler class{suggestion(name, known)}", name)
    accepted = sorted(set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"})
    for key in spec.options:
        if key not in accepted:
            raise table.unknown(key, ["class", *accepted], f" ({name} takes no such option)")
    return True
