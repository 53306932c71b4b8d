"""The server's side of live generation: a bounded queue to the worker and the battles in flight.

One :class:`LiveHub` per server, made by whoever builds the app (no module-level state). A
rater's prompt becomes a *battle*: two models drawn at random from the ``[live]`` table, sides
at random, a fresh seed. It is put on the worker's queue without waiting: a full queue is
refused at once (:class:`Busy`), never a hang. A listener thread reads the worker's images
into the battle, where the page's polls find them (memory only: a poll never touches the
database). Store writes (the prompt, each image, the vote) run on one thread of the hub's own,
never on the rater API's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from arena.live import worker
from arena.live.config import LiveSettings
from arena.store import LiveStore, Store

__all__ = ["Battle", "Busy", "LiveHub", "KEPT_BATTLES"]

log = logging.getLogger(__name__)

#: Battles kept in memory for polls and votes; older ones are forgotten (they stay stored).
KEPT_BATTLES = 10_000


class Busy(Exception):
    """The worker's queue is full: the prompt was not taken."""


@dataclass
class Battle:
    """One prompt and its two answers, as the server holds them while the rater waits."""

    token: str
    rater: str
    prompt: str
    #: (left model, right model): never sent to the page before the vote.
    models: tuple[str, str]
    seed: int
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    choice: str | None = None
    #: Callbacks of long polls waiting for the next image (run on the listener thread).
    watchers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def settled(self) -> int:
        """Sides drawn or failed: 0, 1 or 2."""
        return sum(s in self.images or s in self.failed for s in ("left", "right"))


class LiveHub:
    """The worker process, its two queues, and the battles it is drawing or has drawn.

    ``start=False`` makes the hub without starting the worker (:meth:`start` does): prompts
    are queued meanwhile, up to the queue's size.
    """

    def __init__(
        self,
        settings: LiveSettings,
        study_name: str,
        store: Store,
        steps: dict[str, int] | None = None,
        *,
        start: bool = True,
    ) -> None:
        self.settings, self.study_name = settings, study_name
        self.live = LiveStore(store)
        # Cheaper models draw first, so their image is on the page while the other draws.
        self._steps = steps or {}
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._jobs = ctx.Queue(maxsize=settings.queue)
        self._results = ctx.Queue()
        self._process = ctx.Process(
            target=worker.run,
            args=(
                str(settings.cards_dir),
                settings.models,
                str(settings.image_dir),
                settings.device,
                self._jobs,
                self._results,
            ),
            name="arena-live-worker",
            daemon=True,
        )
        self._battles: OrderedDict[str, Battle] = OrderedDict()
        self._images: dict[str, str] = {}  # sha256 -> path under the image folder
        self._lock = threading.Lock()
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arena-live-store")
        self._listener = threading.Thread(target=self._listen, name="arena-live", daemon=True)
        self.ready = threading.Event()
        self.fatal: str | None = None
        self._started = False
        self._random = secrets.SystemRandom()
        #: Model id -> display name, shown to the rater after the vote.
        self.display_names: dict[str, str] = {m: m for m in settings.models}
        if start:
            self.start()

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Start the worker process and the listener (once)."""
        if self._started:
            return
        self._started = True
        self._process.start()
        self._listener.start()

    def close(self) -> None:
        """Stop the worker (it finishes the image it draws), the listener and the writes."""
        if self._started:
            with contextlib.suppress(queue.Full):  # a full queue: terminate() below
                self._jobs.put_nowait(None)
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
            self._results.put(("stop",))
            self._listener.join(timeout=10)
        self._writes.shutdown(wait=True)

    # ------------------------------------------------------------------ battles
    def submit(self, prompt: str, rater: str) -> Battle:
        """Queue a battle for ``prompt`` (already checked); :class:`Busy` when the queue is full."""
        if self.fatal:
            raise Busy(self.fatal)
        left, right = self._random.sample(list(self.settings.models), 2)
        battle = Battle(
            token=secrets.token_urlsafe(24),
            rater=rater,
            prompt=prompt,
            models=(left, right),
            seed=self._random.randrange(2**31),
        )
        order = sorted((("left", left), ("right", right)), key=lambda s: self._steps.get(s[1], 0))
        with self._lock:
            try:
                self._jobs.put_nowait((battle.token, prompt, battle.seed, tuple(order)))
            except queue.Full:
                raise Busy("queue full") from None
            self._battles[battle.token] = battle
            while len(self._battles) > KEPT_BATTLES:
                self._battles.popitem(last=False)
        self._write(
            self.live.add_battle,
            self.study_name,
            battle.token,
            rater,
            prompt,
            battle.models,
            battle.seed,
        )
        return battle

    def battle(self, token: str) -> Battle | None:
        """The battle of ``token`` while it is kept in memory, else None."""
        with self._lock:
            return self._battles.get(token)

    def image_path(self, sha256: str) -> str | None:
        """Path (under the image folder) of a live image this server drew or stored."""
        with self._lock:
            path = self._images.get(sha256)
        return path if path is not None else self.live.image_path(sha256)

    def watch(self, battle: Battle, seen: int, wake: Callable[[], None]) -> bool:
        """Call ``wake`` (once, from the listener thread) when ``battle`` has more than ``seen``
        sides settled; False, and no call, when it already has."""
        with self._lock:
            if battle.settled > seen:
                return False
            battle.watchers.append(wake)
            return True

    def unwatch(self, battle: Battle, wake: Callable[[], None]) -> None:
        """Forget ``wake`` (a long poll that timed out or was answered)."""
        with self._lock, contextlib.suppress(ValueError):
            battle.watchers.remove(wake)

    def vote(self, battle: Battle, choice: str, decision_ms: float) -> Future:
        """Store the vote; the future's result says whether it was recorded (False: a repeat)."""
        with self._lock:
            battle.choice = battle.choice or choice
        return self._write(self.live.add_vote, battle.token, choice, decision_ms)

    # ------------------------------------------------------------------ internals
    def _write(self, fn, *args) -> Future:
        future = self._writes.submit(fn, *args)
        future.add_done_callback(_log_failure)
        return future

    def _listen(self) -> None:
        while True:
            message = self._results.get()
            kind = message[0]
            if kind == "stop":
                return
            if kind == "ready":
                log.info("live worker ready: %s", message[1])
                self.ready.set()
            elif kind == "fatal":
                self.fatal = message[1]
                log.error("%s", message[1])
                self.ready.set()
                return
            elif kind in ("image", "failed"):
                self._arrived(*message)

    def _arrived(self, kind: str, token: str, side: str, value: Any) -> None:
        wake: list[Callable[[], None]] = []
        with self._lock:
            battle = self._battles.get(token)
            if kind == "image":
                self._images[value["sha256"]] = value["path"]
                if battle is not None:
                    battle.images[side] = value
            elif battle is not None:
                battle.failed[side] = value
            if battle is not None:
                wake, battle.watchers = battle.watchers, []
        for call in wake:
            try:
                call()
            except Exception:  # a waiting poll's failure must not stop the listener
                log.exception("live poll wake-up failed")
        if kind == "image":
            # After the battle's own insert: the writes thread keeps their order.
            self._write(self.live.add_image, token, side, value)
        else:
            log.warning("live image failed: %s", value)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("live store write failed: %s", future.exception())


def open_live(study: Any, store: Store, *, start: bool = True) -> LiveHub | None:
    """The hub of ``study``'s ``[live]`` table (None when it has none), its worker started
    unless ``start`` is False. The cards give each model's display name and step count."""
    from arena.live.config import live_settings
    from models.cards import load_cards  # card files only: no torch in the server

    settings = live_settings(study)
    if settings is None:
        return None
    cards = load_cards(settings.cards_dir)
    hub = LiveHub(
        settings,
        study.name,
        store,
        steps={m: cards[m].steps or 0 for m in settings.models},
        start=start,
    )
    hub.display_names = {m: cards[m].display_name for m in settings.models}
    return hub
