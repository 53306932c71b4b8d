"""Load on the rater's hot path: simulated raters voting through the JSON API of `arena serve`.

Per run: a fresh database; ``--processes`` ``arena serve`` processes on it (each ingests the
study, so the first answers ``/`` before the others start) over a synthetic study of solid-colour
PNGs (4 models, 100 prompts, 2 questions, quota 10,000: no rater finishes); ``--raters`` raters
spread round-robin over them, one keep-alive connection each. A rater calls ``POST /api/start``
(unmeasured), then ``POST /api/vote`` once its trial has been shown ``--interval`` s (counted
from the previous answer: at most 1/interval votes/s each), for ``--duration`` s, the first
vote staggered uniformly over one interval. A 5xx, timeout or broken connection is retried with
the same body after a short wait; after a 4xx the rater reloads (``/api/start`` + its secret).

Printed per run, then as a markdown table: offered and achieved votes/s (acknowledged votes /
wall time of the load phase), vote latency (first send to the 2xx answer, retries included),
errors by code, CPU per vote of the servers (user+system, all processes) and of this process,
and the ``votes`` rows against the answers: lost = acknowledged - stored; duplicates = stored -
acknowledged - unanswered (votes given up after an attempt with no answer or a 5xx).

    .venv/bin/python benchmarks/vote_load.py  # 50,200,400 raters, 1 process, SQLite, 20 s each
    .venv/bin/python benchmarks/vote_load.py --database postgresql --processes 1,2 --raters 100

The client is asyncio over a minimal HTTP/1.1 client (benchmarks/_rawhttp.py), so its own CPU
stays small. Traffic goes to 127.0.0.1 only; every loop is bounded in count and time. PostgreSQL
runs create (and then drop) a database per run on ``--pg-url``'s server.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from _live_load import LIVE_MODES, LiveLoad, live_table  # noqa: E402
from _rawhttp import Connection, HTTPError  # noqa: E402

from models.manifest import ManifestEntry, sha256_file, write_manifest  # noqa: E402

HOST = "127.0.0.1"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55439/postgres"
MODELS = ("model-a", "model-b", "model-c", "model-d")
RETRY_WAIT = 0.25  # seconds before a retryable failure is sent again
MAX_ATTEMPTS = 8  # per request, retries included
START_CONCURRENCY = 32  # /api/start calls in flight during the (unmeasured) start phase
START_LIMIT = 120.0  # seconds for all raters to start
SERVER_LIMIT = 180.0  # seconds for a server to answer / (ingest included)
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
TRANSPORT = (OSError, HTTPError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


def write_study(folder: Path, n_prompts: int, quota: int, live: bool = False) -> Path:
    """A study with ``n_prompts`` prompts, four models, one seed and two questions (and a
    [live] table of the toy models when ``live``)."""
    images = folder / "images"
    entries = []
    for m, model in enumerate(MODELS):
        for p in range(n_prompts):
            rel = f"{model}/p{p:04d}-s0.png"
            (images / model).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 64), (60 * m, 3 * p % 256, 90)).save(images / rel)
            entries.append(
                ManifestEntry(
                    model,
                    f"p{p:04d}",
                    f"prompt {p}",
                    0,
                    rel,
                    sha256_file(images / rel),
                    64,
                    64,
                    {},
                    10.0 * (m + 1),
                )
            )
    write_manifest(images, entries)
    (folder / "prompts.csv").write_text(
        "id,prompt\n" + "".join(f"p{p:04d},prompt {p}\n" for p in range(n_prompts))
    )
    study = folder / "study.toml"
    study.write_text(
        f'name = "load"\nmodels = {list(MODELS)!r}\nseeds = [0]\nquota = {quota}\n'
        '[prompts]\nfile = "prompts.csv"\n'
        '[[questions]]\nid = "quality"\ntext = "Which is better?"\n'
        '[[questions]]\nid = "alignment"\ntext = "Which matches the prompt?"\n'
        + (live_table() if live else "")
    )
    return study


@dataclass
class Run:
    """One run's setting and what its raters saw during the load phase."""

    database: str
    live: str  # off, idle, busy (benchmarks/_live_load.py)
    processes: int
    raters: int
    offered: float  # votes/s if every answer were instant
    latency: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    recorded: int = 0  # 2xx with recorded=true
    already: int = 0  # 2xx with recorded=false: a retry of a vote stored by an earlier attempt
    refused: int = 0  # given up on a 4xx, no earlier attempt in doubt
    unanswered: int = 0  # given up after an attempt with no answer or a 5xx: may be stored
    wall: float = 0.0
    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0
    stored: int = 0  # rows in the votes table afterwards

    @property
    def acknowledged(self) -> int:
        return self.recorded + self.already

    @property
    def achieved(self) -> float:
        return self.acknowledged / self.wall if self.wall > 0 else 0.0

    def losses(self) -> tuple[int, int]:  # (lost, duplicates): votes rows against answers
        lost = self.acknowledged - self.stored
        return max(0, lost), max(0, -lost - self.unanswered)

    def percentile(self, p: float) -> float:
        lat = sorted(self.latency)
        return 1000 * lat[max(0, min(len(lat) - 1, math.ceil(p * len(lat)) - 1))] if lat else 0.0

    def per_vote(self, seconds: float) -> float:
        return 1000 * seconds / self.acknowledged if self.acknowledged else 0.0


class Rater:
    """One simulated rater on its own keep-alive connection."""

    def __init__(self, name: str, port: int, rng: random.Random, run: Run, timeout: float):
        self.name, self.rng, self.run, self.timeout = name, rng, run, timeout
        self.conn = Connection(HOST, port)
        self.secret: str | None = None
        self.token: str | None = None

    async def call(self, path: str, body: bytes, deadline: float) -> tuple[Any, bool]:
        """POST ``body`` until a 2xx, a refusal or ``deadline``: (answer or None, in doubt);
        in doubt: an attempt got no answer, or a 5xx, so the request may have taken effect."""
        doubt = False
        for _ in range(MAX_ATTEMPTS):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                status, _, data = await asyncio.wait_for(
                    self.conn.request("POST", path, body), min(self.timeout, left)
                )
            except (asyncio.TimeoutError, *TRANSPORT) as exc:
                self.run.errors[type(exc).__name__] += 1  # TimeoutError, ConnectionResetError...
                doubt = True
            else:
                try:
                    answer = orjson.loads(data)
                except orjson.JSONDecodeError:
                    answer = None
                if 200 <= status < 300 and isinstance(answer, dict):
                    return answer, doubt
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                self.run.errors[f"{status} {error.get('code', 'no JSON error')}"] += 1
                if status < 500 and not error.get("retry"):
                    return None, doubt
                doubt = True
            await asyncio.sleep(RETRY_WAIT)
        return None, doubt

    async def start(self, deadline: float) -> bool:
        """Open (or, with the secret, reopen) the page; False when the server never said yes."""
        body = orjson.dumps({"params": {"rater": self.name}, "secret": self.secret})
        answer, _ = await self.call("/api/start", body, deadline)
        if answer is not None:
            self.secret = answer["secret"]
            self.token = (answer.get("trial") or {}).get("token")
        return answer is not None

    async def vote(self, interval: float, until: float, hard: float) -> None:
        """Vote ``interval`` s after each answer until ``until``; give up on one at ``hard``."""
        next_send, run = time.monotonic() + self.rng.uniform(0, interval), self.run
        while self.token and next_send < until:
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
            choice = self.rng.choice(("left", "right"))
            vote = {"rater": self.name, "secret": self.secret, "token": self.token,
                    "choice": choice, "decision_ms": 1000 * interval}  # fmt: skip
            sent = time.perf_counter()
            answer, doubt = await self.call("/api/vote", orjson.dumps(vote), hard)
            if answer is None:
                run.unanswered, run.refused = run.unanswered + doubt, run.refused + (not doubt)
                await self.start(min(hard, until))  # the page reloads its current trial
            else:
                run.latency.append(time.perf_counter() - sent)
                stored = bool(answer.get("recorded"))
                run.recorded, run.already = run.recorded + stored, run.already + (not stored)
                self.token = (answer.get("trial") or {}).get("token")
            next_send = time.monotonic() + interval


async def drive(run: Run, ports: list[int], args: argparse.Namespace,
                server_cpu: Callable[[], float]) -> None:  # fmt: skip
    """Start ``run.raters`` raters (unmeasured), then let them vote for ``args.duration`` s."""
    seeds = random.Random(args.seed)
    raters = [Rater(f"load-{i}", ports[i % len(ports)], random.Random(seeds.getrandbits(64)),
                    run, args.timeout) for i in range(run.raters)]  # fmt: skip
    gate, start_deadline = asyncio.Semaphore(START_CONCURRENCY), time.monotonic() + START_LIMIT

    async def start(rater: Rater) -> bool:
        async with gate:
            return await rater.start(start_deadline)

    started = await asyncio.gather(*(start(r) for r in raters))
    if not all(started):
        raise SystemExit(f"{started.count(False)} raters could not start: {dict(run.errors)}")
    run.errors = Counter({f"start {code}": k for code, k in run.errors.items()})  # retried

    cpu0, gen0, t0 = server_cpu(), time.process_time(), time.monotonic()
    until = t0 + args.duration
    await asyncio.gather(*(r.vote(args.interval, until, until + args.timeout) for r in raters))
    run.wall = time.monotonic() - t0
    run.server_cpu, run.loadgen_cpu = server_cpu() - cpu0, time.process_time() - gen0
    for r in raters:
        r.conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def launch(study: Path, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(
            [sys.executable, "-m", "arena.cli", "serve", "--study", str(study),
             "--database", url, "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )  # fmt: skip


async def _probe(port: int) -> int:
    conn = Connection(HOST, port)  # one request, then closed (Connection.close on failure)
    status = (await asyncio.wait_for(conn.request("GET", "/"), 5.0))[0]
    conn.close()
    return status


def wait_up(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Wait until ``/`` answers 200; exit with the server's log if it dies or never does."""
    deadline = time.monotonic() + SERVER_LIMIT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"arena serve on port {port} exited ({server.returncode}):\n{tail}")
        try:
            if asyncio.run(_probe(port)) == 200:
                return
        except (asyncio.TimeoutError, *TRANSPORT):
            pass
        time.sleep(0.3)
    raise SystemExit(f"arena serve on port {port} did not answer / within {SERVER_LIMIT:g} s")


def fresh_database(kind: str, pg_url: str, folder: Path, k: int) -> tuple[str, Callable[[], None]]:
    """A new empty database for run ``k``: its URL and a function that removes it."""
    if kind == "sqlite":  # the temporary folder goes at the end
        return f"sqlite:///{folder / f'run-{k}.db'}", lambda: None
    name = f"arena_load_{os.getpid()}_{k}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def count_votes(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as c:
        n = int(c.execute(text("SELECT count(*) FROM votes")).scalar_one())
    engine.dispose()
    return n


def run_once(run: Run, study: Path, url: str, args: argparse.Namespace) -> None:
    ports = [free_port() for _ in range(run.processes)]
    logs = [study.parent / f"serve-{p}.log" for p in ports]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        servers.append(launch(study, url, ports[0], logs[0]))
        wait_up(servers[0], ports[0], logs[0])  # the first one ingests the study
        servers += [launch(study, url, p, log) for p, log in zip(ports[1:], logs[1:], strict=True)]
        for server, port, log in zip(servers[1:], ports[1:], logs[1:], strict=True):
            wait_up(server, port, log)
        watched = [psutil.Process(s.pid) for s in servers]
        live = LiveLoad(ports[0], run.live == "busy")
        if run.live != "off":
            live.ready()
        with live:
            asyncio.run(
                drive(run, ports, args, lambda: sum(sum(p.cpu_times()[:2]) for p in watched))
            )
        if run.live == "busy":
            print(f"live prompts {dict(live.answers)} by HTTP status; {live.drawn} battles drawn")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
    run.stored = count_votes(url)


def report(run: Run) -> None:
    errors = ", ".join(f"{code}: {k}" for code, k in run.errors.most_common()) or "none"
    lost, duplicates = run.losses()
    print(f"offered      <= {run.offered:.0f} votes/s")
    print(
        f"achieved     {run.achieved:.1f} votes/s over {run.wall:.1f} s "
        f"({run.acknowledged} acknowledged: {run.recorded} recorded, {run.already} already "
        f"stored; {run.refused} refused, {run.unanswered} unanswered)"
    )
    print("latency ms   " + "  ".join(f"{k} {run.percentile(p):.1f}" for k, p in PERCENTILES))
    print(f"errors       {errors}")
    print(f"server CPU   {run.per_vote(run.server_cpu):.2f} ms/vote (user+system, "
          f"{run.processes} process{'es' if run.processes > 1 else ''})")  # fmt: skip
    print(f"loadgen CPU  {run.per_vote(run.loadgen_cpu):.2f} ms/vote (this process)")
    print(f"votes table  {run.stored} rows: {lost} lost, {duplicates} duplicates", flush=True)


def summary(runs: list[Run]) -> None:
    print("\n| db | live | procs | raters | offered/s | achieved/s | p50 ms | p95 ms | p99 ms | "
          "max ms | errors | server CPU ms/vote | loadgen CPU ms/vote | lost | dups |")  # fmt: skip
    print("|---|---|" + "---:|" * 13)
    for r in runs:
        print(
            f"| {r.database} | {r.live} | {r.processes} | {r.raters} | {r.offered:.0f} | {r.achieved:.1f} "
            f"| {' | '.join(f'{r.percentile(p):.1f}' for _, p in PERCENTILES)} "
            f"| {sum(r.errors.values())} | {r.per_vote(r.server_cpu):.2f} "
            f"| {r.per_vote(r.loadgen_cpu):.2f} | {' | '.join(map(str, r.losses()))} |"
        )


def _ints(value: str) -> list[int]:
    items = [int(v) for v in value.split(",") if v.strip()]
    if not items or min(items) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=_ints, default=[50, 200, 400], help="e.g. 50,200,400")
    parser.add_argument("--processes", type=_ints, default=[1], help="servers, e.g. 1,2,3")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL, help="server for --database postgresql")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds a trial is shown")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per run")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--live", default="off", help=f"live modes to run, comma-separated: {', '.join(LIVE_MODES)}"
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.live.split(",")]
    if any(m not in LIVE_MODES for m in modes):
        parser.error(f"--live takes {', '.join(LIVE_MODES)}; got {args.live!r}")

    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        runs_of = [(p, n, m) for p in args.processes for n in args.raters for m in modes]
        for procs, n, mode in runs_of:
            folder = Path(tmp) / f"study-{mode}"
            folder.mkdir(exist_ok=True)
            study = write_study(folder, args.prompts, 10_000, mode != "off")
            run = Run(args.database, mode, procs, n, n / args.interval)
            print(f"\n== {args.database}, live {mode}, {procs} server process{'es' if procs > 1 else ''}, "
                  f"{n} raters, a vote {args.interval:g} s after each answer, "
                  f"{args.duration:g} s", flush=True)  # fmt: skip
            url, remove = fresh_database(args.database, args.pg_url, Path(tmp), len(runs))
            try:
                run_once(run, study, url, args)
            finally:
                remove()
            report(run)
            runs.append(run)
    summary(runs)


if __name__ == "__main__":
    main()
