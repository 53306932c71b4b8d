"""Live answer time: from a rater's prompt to each model's image, through ``arena serve``.

An SDXL pipeline with random weights (the full SDXL 1.0 architecture of
``benchmarks/generation.py`` on a GPU; ``--reduced``: the tiny SDXL of :mod:`models.tiny`), two
cards on it drawn as SDXL Turbo is (Euler ancestral, trailing timesteps, no guidance, 512×512;
64×64 reduced) at 1 and at 4 steps, with the engine's settings (float16 and the float16 VAE on
a GPU, channels-last, fused QKV), and a study whose ``[live]`` table names the two. ``arena
serve`` runs as a process of its own, with its live worker; this process is one rater on one
keep-alive connection, sending ``--battles`` prompts one after another: ``POST
/api/live/prompt``, long polls (``seen``, ``wait_ms``) until each image is named, a ``GET`` of
each PNG as it is named, as the page does, then a vote, whose answer names the models.
``--warmup`` battles first (loading, first calls, cuDNN's choices) are not counted.

``--worker`` leaves the server out: the live worker process (``arena.live.worker.run``, the
code ``arena serve`` spawns) is spawned here with the hub's two queues, and each battle is a
job put on the queue; ``answer`` is then the job put to its image message read (drawn, PNG
written, handed over). This is the mode for a machine with torch and diffusers but no server
packages (the lent GPU's image has no Gradio); the reduced CPU run of both modes measures what
the server adds (a long poll's wake-up and the PNG's GET).

Per model, in ms (p50, p95, max): ``answer``, the prompt sent to the poll answer that names the
image; ``shown``, to the PNG's last byte; ``drawn``, the worker's own pipeline time, as stored
with the live image. The 1-step model draws first (fewer steps first), so its ``answer`` is what
a rater waits for the first image. Issue 13's target on a GPU: under 300 ms.

    .venv/bin/python -P benchmarks/live_latency.py --reduced [--worker]        # CPU, a minute
    python3 -P benchmarks/live_latency.py --worker --repo DIR --json OUT.json  # the lent GPU
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

__all__ = ["MODELS", "main", "percentile", "worker_battles", "served_battles", "write_cards"]

PROMPT = "a photograph of an astronaut riding a horse on the moon"

#: Card id -> steps: SDXL Turbo's two published settings.
MODELS = {"live-1step": 1, "live-4step": 4}
TARGET_MS = 300.0
POLL_WAIT_MS = 10_000
LOAD_LIMIT_S = 900.0  # the warm-up's first battle waits for the worker to load the pipelines


def write_cards(folder: Path, repo: Path, size: int, gpu: bool) -> Path:
    """The two live cards on ``repo``, in ``folder`` (made)."""
    folder.mkdir(parents=True, exist_ok=True)
    dtype = "float16" if gpu else "float32"
    vae = f'vae = "{(repo / "vae").as_posix()}"\n' if gpu else ""
    for card, steps in MODELS.items():
        (folder / f"{card}.toml").write_text(
            f'id = "{card}"\ndisplay_name = "{steps} step{"s" if steps > 1 else ""}"\n'
            f'backend = "diffusers"\nrepo = "{repo.as_posix()}"\n'
            f'pipeline = "StableDiffusionXLPipeline"\ndtype = "{dtype}"\n\n'
            '[scheduler]\nclass = "EulerAncestralDiscreteScheduler"\n'
            'timestep_spacing = "trailing"\n\n'
            f"[call]\nnum_inference_steps = {steps}\nguidance_scale = 0.0\n"
            f"height = {size}\nwidth = {size}\n\n"
            f"[engine]\nchannels_last = true\nfuse_qkv = true\n{vae}",
            encoding="utf-8",
        )
    return folder


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p`` percentile (0 < p <= 1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1))]


def _battle(client, prompt: str, timer_s: float = 0.0) -> dict:
    """One prompt through the server to the end: {side: (answer s, shown s)}, models by side."""
    began = time.perf_counter()
    answer = client.post("api/live/prompt", json={"prompt": prompt, "rater": "r-latency"})
    if answer.status_code != 200:
        raise SystemExit(f"the prompt was refused ({answer.status_code}): {answer.text}")
    state, times = answer.json(), {}
    deadline = began + LOAD_LIMIT_S
    while len(times) < 2:
        if state["failed"]:
            raise SystemExit(f"a live image failed: {state['failed']} (see the server's log)")
        for side in ("left", "right"):
            image = state["images"][side]
            if image is not None and side not in times:
                named = time.perf_counter()
                png = client.get(image["url"])
                if png.status_code != 200 or not png.content.startswith(b"\x89PNG"):
                    raise SystemExit(f"{image['url']} answered {png.status_code}")
                times[side] = (named - began, time.perf_counter() - began)
        if len(times) == 2:
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"no answer within {LOAD_LIMIT_S:g} s")
        if timer_s:  # the page before long polls: a plain poll on every tick of a timer
            time.sleep(timer_s)
            body = {"token": state["token"]}
        else:
            body = {"token": state["token"], "seen": len(times), "wait_ms": POLL_WAIT_MS}
        state = client.post("api/live/poll", json=body).json()
    vote = {"token": state["token"], "choice": "left", "decision_ms": 1000}
    models = client.post("api/live/vote", json=vote).json()["models"]
    return {"times": times, "models": models}


def _samples() -> dict[str, dict[str, list[float]]]:
    return {m: {"answer": [], "shown": [], "drawn": []} for m in MODELS}


def served_battles(
    folder: Path, cards: Path, device: str, battles: int, warmup: int, timer_s: float = 0.0
) -> dict[str, dict[str, list[float]]]:
    """``battles`` timed prompts through ``arena serve`` on a study in ``folder``: ms by model."""
    import httpx

    from arena.store import LiveStore, Store
    from arena.study import load_study
    from benchmarks.crowd_quality import Server, free_port
    from benchmarks.vote_load import write_study

    study = write_study(folder, 2, 4)
    models = ", ".join(f'"{m}"' for m in MODELS)
    study.write_text(
        f'cards = "{cards.as_posix()}"\n'
        + study.read_text(encoding="utf-8")
        + f'\n[live]\nmodels = [{models}]\nqueue = 4\ndevice = "{device}"\n',
        encoding="utf-8",
    )
    names = {f"{s} step{'s' if s > 1 else ''}": m for m, s in MODELS.items()}
    samples = _samples()
    with (
        Server(study, free_port()) as server,
        httpx.Client(base_url=server.base, timeout=LOAD_LIMIT_S) as client,
    ):
        for k in range(warmup + battles):
            done = _battle(client, f"battle {k}: {PROMPT}", timer_s)
            if k < warmup:
                print(f"warm-up {k + 1}/{warmup} done", flush=True)
                continue
            for side, (answer_s, shown_s) in done["times"].items():
                model = names[done["models"][side]]
                samples[model]["answer"].append(1000 * answer_s)
                samples[model]["shown"].append(1000 * shown_s)
    store = Store.open(load_study(study).database_url)
    timed = LiveStore(store).frame("load").iloc[warmup:]
    store.close()
    for m in MODELS:
        samples[m]["drawn"] += timed.loc[timed["model_a"] == m, "latency_ms_a"].tolist()
        samples[m]["drawn"] += timed.loc[timed["model_b"] == m, "latency_ms_b"].tolist()
    return samples


def worker_battles(
    folder: Path, cards: Path, device: str, battles: int, warmup: int
) -> dict[str, dict[str, list[float]]]:
    """``battles`` timed jobs on the live worker's own queues (no server): ms by model."""
    from arena.live import worker

    ctx = multiprocessing.get_context("spawn")  # as the hub starts it
    jobs, results = ctx.Queue(maxsize=4), ctx.Queue()
    order = tuple(sorted(MODELS, key=MODELS.get))  # fewer steps first, as the hub orders them
    process = ctx.Process(
        target=worker.run,
        args=(str(cards), order, str(folder), device, jobs, results),
        daemon=True,
    )
    process.start()
    samples = _samples()
    try:
        ready = results.get(timeout=LOAD_LIMIT_S)
        if ready[0] != "ready":
            raise SystemExit(f"the live worker did not start: {ready}")
        sides = dict(zip(("left", "right"), order, strict=True))
        for k in range(warmup + battles):
            began = time.perf_counter()
            jobs.put((f"b{k}", f"battle {k}: {PROMPT}", k, tuple(sides.items())))
            for _ in sides:
                message = results.get(timeout=LOAD_LIMIT_S)
                arrived = time.perf_counter()
                if message[0] != "image":
                    raise SystemExit(f"the live worker answered {message}")
                if k >= warmup:
                    model = sides[message[2]]
                    samples[model]["answer"].append(1000 * (arrived - began))
                    samples[model]["drawn"].append(message[3]["latency_ms"])
            if k < warmup:
                print(f"warm-up {k + 1}/{warmup} done", flush=True)
    finally:
        jobs.put(None)
        process.join(60)
    for m in MODELS:
        del samples[m]["shown"]  # no page here
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reduced", action="store_true", help="tiny SDXL at 64×64 (CPU)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if there)")
    parser.add_argument("--worker", action="store_true", help="the live worker alone, no server")
    parser.add_argument("--repo", type=Path, default=None, help="a saved random SDXL to reuse")
    parser.add_argument("--battles", type=int, default=30, help="timed prompts")
    parser.add_argument("--warmup", type=int, default=3, help="prompts before the timed ones")
    parser.add_argument(
        "--timer-ms",
        type=float,
        default=0.0,
        help="poll every N ms without waiting, as the page did before long polls (serve only)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.timer_ms and args.worker:
        parser.error("--timer-ms is for the server's polls; --worker has none")

    import torch  # here: the server and its worker are other processes

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.startswith("cuda")
    size = 64 if args.reduced else 512
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        repo = args.repo or tmp / "sdxl"
        if not (repo / "model_index.json").is_file():
            if args.reduced:
                from models.tiny import build_tiny_sdxl

                repo = build_tiny_sdxl(repo)
            else:
                from benchmarks.generation import build_full_sdxl

                repo = build_full_sdxl(repo, device)
        if gpu:
            torch.cuda.empty_cache()  # the worker needs the memory, not this process
        cards = write_cards(tmp / "cards", repo, size, gpu)
        if args.worker:
            samples = worker_battles(tmp / "study", cards, device, args.battles, args.warmup)
        else:
            samples = served_battles(
                tmp / "study", cards, device, args.battles, args.warmup, args.timer_ms / 1000
            )
    mode = "the live worker alone" if args.worker else "arena serve"
    if args.timer_ms:
        mode += f", polled every {args.timer_ms:g} ms"
    results = {
        "mode": "worker" if args.worker else "serve",
        "device": device,
        "size": size,
        "battles": args.battles,
        "warmup": args.warmup,
        "timer_ms": args.timer_ms,
        "models": {},
    }
    print(f"{args.battles} battles through {mode}, {size}×{size}, {device}; ms: p50 / p95 / max")
    for m, kinds in samples.items():
        row = {
            kind: {
                "p50": round(percentile(values, 0.5), 1),
                "p95": round(percentile(values, 0.95), 1),
                "max": round(max(values), 1),
                "n": len(values),
            }
            for kind, values in kinds.items()
        }
        results["models"][m] = row
        cells = "   ".join(
            f"{kind} {v['p50']:7.1f} / {v['p95']:7.1f} / {v['max']:7.1f}" for kind, v in row.items()
        )
        print(f"{m:11} {cells}", flush=True)
    first = results["models"]["live-1step"]["answer"]["p95"]
    if args.reduced or not gpu:
        verdict = "the target is for the full model on a GPU"
    else:
        verdict = "met" if first < TARGET_MS else "not met"
    print(f"1-step answer p95 {first:.1f} ms; target under {TARGET_MS:g} ms: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
