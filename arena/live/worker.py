"""The generation worker: a process of its own that owns the live models' pipelines.

The server never imports torch or diffusers (docs/design.md's import rules): it hands battles
to this process through a bounded queue (:mod:`arena.live.hub`) and reads what comes back on a
second queue. The worker loads every live model once, at start, and keeps it loaded, then
draws each battle's two images one after the other, cheaper model first, so the fast model's
image reaches the page while the slower one is still drawing.

Messages it sends: ``("ready", info)`` once the pipelines are loaded, ``("image", token, side,
image)`` per image, ``("failed", token, side, sentence)`` when an image could not be drawn and
``("fatal", sentence)`` when the worker cannot start.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import time
from pathlib import Path
from typing import Any

__all__ = ["Job", "run"]

#: One battle's work: token, prompt, seed, and (side, model id) in the order to draw them.
Job = tuple[str, str, int, tuple[tuple[str, str], ...]]


def _png(image: Any) -> bytes:
    # No metadata: the same pixels give the same bytes, so the sha256 names the image.
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def run(
    cards_dir: str, models: tuple[str, ...], image_dir: str, device: str | None, jobs, results
) -> None:
    """The worker process's main loop: until it reads ``None`` from ``jobs``."""
    try:
        import torch

        from models.backends import load_pipeline
        from models.cards import load_cards
        from models.manifest import atomic_write_bytes

        cards = load_cards(cards_dir)
        pipes = {m: load_pipeline(cards[m], device) for m in models}
        if all(p.device == "cpu" for p in pipes.values()):
            # On a CPU the worker shares the cores with the web server: half of them for
            # drawing, so a busy live mode leaves the vote path cores of its own.
            torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        params = {m: p.params() for m, p in pipes.items()}
    except Exception as exc:  # said on the server's log and to raters; never a traceback
        results.put(("fatal", f"The live models could not be loaded: {exc}"))
        return
    results.put(("ready", {m: p.device for m, p in pipes.items()}))
    folder = Path(image_dir) / "live"
    parent = os.getppid()
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            # A server killed outright never sends None: its worker must not outlive it.
            if os.getppid() != parent:
                return
            continue
        if job is None:
            return
        token, prompt, seed, order = job
        for side, model in order:
            try:
                loaded = pipes[model]
                cuda = torch.device(loaded.device).type == "cuda"
                if cuda:
                    torch.cuda.synchronize()
                began = time.perf_counter()
                image = loaded([prompt], [seed])[0]
                if cuda:
                    torch.cuda.synchronize()
                latency_ms = (time.perf_counter() - began) * 1000
                data = _png(image)
                sha = hashlib.sha256(data).hexdigest()
                atomic_write_bytes(folder / f"{sha}.png", data)
                results.put(
                    (
                        "image",
                        token,
                        side,
                        {
                            "path": f"live/{sha}.png",
                            "sha256": sha,
                            "width": image.width,
                            "height": image.height,
                            "latency_ms": latency_ms,
                            "params": {**params[model], "seed": seed},
                        },
                    )
                )
            except Exception as exc:
                results.put(("failed", token, side, f"{model} could not draw this prompt: {exc}"))
