"""Load on the rater's hot path: simulated raters voting over loopback against `arena serve`.

Each simulated rater opens the page (``/start``), then votes once every ``--interval`` seconds
(``/vote``, the same unqueued endpoint the browser posts to), for ``--duration`` seconds. The
server runs in its own process on a synthetic study (solid-colour PNGs, so no GPU is needed);
the script prints throughput, latency percentiles and the server's CPU time per vote.

    .venv/bin/python benchmarks/vote_load.py --raters 200 --interval 1 --duration 30

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.manifest import ManifestEntry, sha256_file, write_manifest  # noqa: E402

MODELS = ("model-a", "model-b", "model-c", "model-d")


def write_study(folder: Path, n_prompts: int, quota: int) -> Path:
    """A study with ``n_prompts`` prompts, four models, one seed and two questions."""
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
    )
    return study


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rater(
    http: httpx.AsyncClient, name: str, interval: float, until: float, out: dict
) -> None:
    # A page sends its session hash with every event; without it Gradio rebuilds the
    # session state on each request.
    session = {"session_hash": f"s-{name}"}
    got = (await http.post("run/start", json={"data": [name], **session})).json()["data"]
    rid, token = got[0], got[1]
    # Spread the first votes so raters do not arrive in lock-step.
    await asyncio.sleep(random.uniform(0, interval))
    while time.monotonic() < until and token:
        t0 = time.perf_counter()
        try:
            response = await http.post(
                "run/vote",
                json={"data": [rid, token, random.choice(["left", "right"]), 900.0], **session},
            )
            data = response.json().get("data") if response.status_code == 200 else None
        except httpx.HTTPError:
            data = None
        elapsed = time.perf_counter() - t0
        if not data:
            out["errors"] += 1
            await asyncio.sleep(interval)
            continue
        out["latency"].append(elapsed)
        token = data[1]
        await asyncio.sleep(max(0.0, interval - elapsed))


async def drive(base: str, raters: int, interval: float, duration: float) -> dict:
    out: dict = {"latency": [], "errors": 0}
    limits = httpx.Limits(max_connections=raters, max_keepalive_connections=raters)
    async with httpx.AsyncClient(
        base_url=base + "gradio_api/", timeout=30.0, limits=limits
    ) as http:
        until = time.monotonic() + duration
        await asyncio.gather(
            *(rater(http, f"load-{i}", interval, until, out) for i in range(raters))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between votes")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--prompts", type=int, default=100)
    args = parser.parse_args()
    random.seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        study = write_study(Path(tmp), args.prompts, quota=10_000)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "arena.cli", "serve", "--study", str(study),
             "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None:
                    sys.exit(f"arena serve exited: {server.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(base, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("arena serve did not come up within 120 s")
                time.sleep(0.3)
            proc = psutil.Process(server.pid)
            cpu0 = sum(proc.cpu_times()[:2])
            t0 = time.monotonic()
            out = asyncio.run(drive(base, args.raters, args.interval, args.duration))
            wall = time.monotonic() - t0
            cpu = sum(proc.cpu_times()[:2]) - cpu0
        finally:
            server.terminate()
            server.wait(timeout=20)

    lat = sorted(out["latency"])
    n = len(lat)
    if not n:
        sys.exit("no vote succeeded")

    def pct(p: float) -> float:
        return 1000 * lat[min(n - 1, int(p * n))]

    print(f"raters {args.raters}, one vote per {args.interval:g} s each, {wall:.1f} s of load")
    print(f"offered     {args.raters / args.interval:.0f} votes/s")
    print(f"achieved    {n / wall:.1f} votes/s ({n} votes, {out['errors']} errors)")
    print(
        f"latency ms  p50 {pct(0.50):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}  "
        f"max {1000 * lat[-1]:.1f}  mean {1000 * statistics.fmean(lat):.1f}"
    )
    print(f"server CPU  {1000 * cpu / n:.2f} ms per vote (user+system, server process)")


if __name__ == "__main__":
    main()
