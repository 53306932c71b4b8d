"""Two real processes share an image set, one is killed mid-run, and a rerun completes it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.manifest import MANIFEST_NAME, read_manifest
from models.shard import PART_GLOB, Shard

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = [(f"p{i}", f"a shape number {i}") for i in range(10)]
SEEDS = [0, 1, 2, 3]
N = len(PROMPTS) * len(SEEDS)

DRIVER = """
import json, sys
from pathlib import Path
from models.cards import load_card
from models.generate import generate_image_set
from models.shard import current_shard

card, out, prompts, seeds = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
shard = current_shard()
summary = generate_image_set(
    [load_card(card)], [tuple(p) for p in prompts], seeds, out, batch_size=1, progress=False
)
(out.parent / f"summary-{shard.index}.json").write_text(
    json.dumps({"generated": summary.generated, "count": shard.count})
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(driver: Path, card: Path, out: Path) -> list[str]:
    return [str(driver), str(card), str(out), json.dumps(PROMPTS), json.dumps(SEEDS)]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}
    env.pop("HF_HUB_OFFLINE", None)
    return env


def _part_lines(out: Path, index: int) -> int:
    part = out / f"manifest.part-{index}.jsonl"
    return len(part.read_text().splitlines()) if part.is_file() else 0


def test_shards_are_disjoint_and_cover_the_jobs():
    shards = [Shard(index=i, count=3) for i in range(3)]
    taken = [[p for p in range(10) if s.take(p)] for s in shards]
    assert sorted(sum(taken, [])) == list(range(10))
    assert taken[0] == [0, 3, 6, 9]


def test_two_processes_killed_and_resumed_give_each_image_once(
    write_card, tiny_card_body, tmp_path
):
    card = write_card("tiny-shard", tiny_card_body(steps=8))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    out = tmp_path / "set"
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, *_args(driver, card, out)],
            cwd=ROOT,
            env=_env(
                WORLD_SIZE="2",
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                LOCAL_WORLD_SIZE="2",
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for rank in range(2)
    ]
    try:
        # Kill process 1 as soon as its part records two images (it has twenty to draw).
        while _part_lines(out, 1) < 2:
            assert procs[1].poll() is None, procs[1].stderr.read().decode()[-2000:]
            time.sleep(0.005)
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait()
        # Process 0 draws its share, then waits for its dead peer: it is killed there.
        while _part_lines(out, 0) < N // 2:
            assert procs[0].poll() is None, procs[0].stderr.read().decode()[-2000:]
            time.sleep(0.005)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert not (out / MANIFEST_NAME).exists() or not read_manifest(out)
    done_before = _part_lines(out, 0) + _part_lines(out, 1)
    assert N // 2 + 2 <= done_before < N
    kept = {
        e.path: e.sha256 for part in out.glob(PART_GLOB) for e in read_manifest(out, name=part.name)
    }

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, "accelerate's launcher is installed with the package"
    # torchrun's launcher (--multi_gpu) starts two processes on a CPU too; accelerate's --cpu
    # launcher starts one unless MPI is set up. PartialState then runs them on gloo.
    rerun = subprocess.run(
        [
            accelerate,
            "launch",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--multi_gpu",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
            *_args(driver, card, out),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summaries = [json.loads((tmp_path / f"summary-{i}.json").read_text()) for i in range(2)]
    assert [s["count"] for s in summaries] == [2, 2]
    # Only the missing images were drawn, shared out between the two processes.
    assert sum(s["generated"] for s in summaries) == N - done_before
    assert not list(out.glob(PART_GLOB))
    entries = read_manifest(out)
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    assert len(lines) == len(entries) == N
    assert {e.key for e in entries} == {("tiny-shard", p, s) for p, _ in PROMPTS for s in SEEDS}
    assert all((out / e.path).is_file() for e in entries)
    # The images the killed run finished were kept, not drawn again.
    assert (
        all(e.sha256 == kept[e.path] for e in entries if e.path in kept)
        and len(kept) == done_before
    )
    pngs = [p for p in out.rglob("*.png")]
    assert len(pngs) == N
