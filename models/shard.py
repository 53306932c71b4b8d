"""Several processes (GPUs) drawing one image set: a disjoint share each, resumable.

Under ``accelerate launch`` every process runs the same ``arena generate``; accelerate's
``PartialState`` says which process this is and how many there are. The work is shared out
like this:

1. the main process merges the manifest parts a crashed run left behind into ``manifest.jsonl``
   (atomically), then every process waits for it;
2. every process reads the same manifest, so all compute the same list of missing images, and
   process *i* of *n* draws the images at positions *i*, *i + n*, ... of that list;
3. each process records its images in its own part, ``manifest.part-<i>.jsonl``, rewritten
   atomically after every batch, and never touches the shared manifest;
4. when all have finished, the main process merges the parts and deletes them.

A process killed mid-run loses at most the batch it was drawing: its part lists exactly the
images it finished. The next run, with any number of processes, merges the parts first and
draws only what is still missing, so the set ends with no image missing and none twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models.manifest import MANIFEST_NAME, read_manifest, write_manifest

__all__ = ["PART_GLOB", "Shard", "current_shard", "merge_parts", "part_name"]

PART_GLOB = "manifest.part-*.jsonl"


def _no_wait() -> None:
    return None


@dataclass(frozen=True)
class Shard:
    """This process's place among the processes drawing one image set."""

    index: int = 0
    count: int = 1
    wait: Callable[[], None] = field(default=_no_wait, compare=False)
    device: str | None = None

    @property
    def is_main(self) -> bool:
        """The process that merges the manifest parts."""
        return self.index == 0

    def take(self, position: int) -> bool:
        """Whether the job at *position* of the shared to-do list is this process's."""
        return position % self.count == self.index


def current_shard() -> Shard:
    """The shard of this process: a single one, unless started by ``accelerate launch``
    (or anything else that sets ``WORLD_SIZE`` above 1 for ``torch.distributed``)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()
    import torch
    from accelerate import PartialState  # deferred: only a launched run needs it

    # Without a GPU, accelerate shares out only when told the processes are CPU ones (which
    # `accelerate launch --cpu` does); otherwise each process would draw the whole set.
    state = PartialState(cpu=not torch.cuda.is_available())
    device = str(state.device) if state.device.type != "cpu" else "cpu"
    return Shard(state.process_index, state.num_processes, state.wait_for_everyone, device)


def part_name(index: int) -> str:
    """The file name of process *index*'s manifest part."""
    return f"manifest.part-{index}.jsonl"


def merge_parts(out_dir: Path) -> int:
    """Fold every manifest part of *out_dir* into ``manifest.jsonl``, then delete the parts.

    The manifest is replaced atomically before any part is deleted, so a crash in between
    leaves parts whose lines are already merged; merging them again changes nothing.

    Returns
    -------
    int
        The number of parts merged.
    """
    parts = sorted(Path(out_dir).glob(PART_GLOB))
    if not parts:
        return 0
    entries = list(read_manifest(out_dir, missing_ok=True))
    for part in parts:
        entries.extend(read_manifest(out_dir, name=part.name))
    write_manifest(out_dir, entries, name=MANIFEST_NAME)
    for part in parts:
        part.unlink()
    return len(parts)
