"""Train the toy family from scratch on the CPU: dataset -> teacher -> 1-step student -> judge.

``python -m models.toy.train --out data/weights`` renders the dataset, trains the teacher
(``toy-base``), distils the student (``toy-turbo``), saves both with ``save_pretrained`` and
prints the judge's table for the five cards. ``--quick`` runs every stage for a few iterations
on a handful of images (what the tests use to check the save/load round trip).

The teacher is a standard v-prediction diffusion model with classifier-free guidance (the text
is dropped 10% of the time). The student starts as a copy of the teacher and learns to map
noise straight to the image that the teacher's guided 50-step DDIM ODE makes from that noise
(Luhman & Luhman 2021), also from the points DDIM visits between that noise and that image
(so 4-step sampling lands on the same image); see docs/toy-models.md for why this method.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.toy.grammar import render_batch, sample_scene
from models.toy.nets import CARD_SETTINGS, NetSize, build_pipeline
from models.toy.pipeline import (
    ToyPipeline,
    denoise,
    patch_size,
    text_context,
    to_unet_space,
    tokenize,
)

__all__ = ["FULL", "QUICK", "TrainConfig", "main", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Sizes and lengths of one training run."""

    size: NetSize = NetSize()
    images: int = 20_000
    batch: int = 16
    teacher_steps: int = 12_000
    teacher_lr: float = 2e-3
    guidance: float = CARD_SETTINGS["toy-base-50step"][2]
    pairs: int = 1024
    pair_steps: int = 50
    student_steps: int = 2000
    student_lr: float = 5e-4
    ema: float = 0.998
    high_noise: float = 0.5
    high_noise_from: int = 700
    seed: int = 0
    judge_prompts: int = 60


FULL = TrainConfig()
QUICK = TrainConfig(
    size=NetSize(channels=(16, 32), text_layers=1),
    images=32,
    batch=8,
    teacher_steps=3,
    pairs=8,
    pair_steps=2,
    student_steps=3,
    judge_prompts=0,
)


class _Log:
    """Progress lines with wall time since the start of the run."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.began:7.1f}s] {message}", flush=True)


class _Ema:
    """Exponential moving average of parameters; sampling from it is what makes small,
    briefly trained diffusion models usable (Ho et al. 2020 use it for every result)."""

    def __init__(self, modules: list[torch.nn.Module], decay: float) -> None:
        self.params = [p for m in modules for p in m.parameters()]
        self.shadow = [p.detach().clone() for p in self.params]
        self.decay = decay

    @torch.no_grad()
    def update(self, step: int) -> None:
        # Warm up the decay so the first, poor weights are quickly forgotten.
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - decay)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for p, s in zip(self.params, self.shadow, strict=True):
            p.copy_(s)


def _lr_at(step: int, total: int, peak: float, warmup: int = 50) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _token_ids(pipe: ToyPipeline, prompts: list[str]) -> torch.Tensor:
    return tokenize(pipe.tokenizer, prompts)


def make_dataset(n: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """Render *n* random scenes: images as ``(n, 3, 32, 32)`` floats in [-1, 1], and prompts."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    pixels = torch.from_numpy(render_batch(scenes)).permute(0, 3, 1, 2).float()
    return pixels / 127.5 - 1.0, [s.prompt for s in scenes]


def _optimise(
    pipe: ToyPipeline,
    steps: int,
    lr: float,
    ema_decay: float,
    loss_fn,
    log: _Log,
    name: str,
) -> None:
    """The loop both stages share: AdamW on UNet + text encoder, warm-up/cosine LR, EMA."""
    modules = [pipe.unet, pipe.text_encoder]
    for m in modules:
        m.train()
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    ema = _Ema(modules, ema_decay)
    began, running = time.perf_counter(), None
    every = max(1, steps // 20)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr)
        loss = loss_fn(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(step)
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % every == 0 or step + 1 == steps:
            per = (time.perf_counter() - began) / (step + 1)
            log(
                f"{name} step {step + 1}/{steps} loss {running:.4f} "
                f"({per:.2f} s/step, {per * (steps - step - 1) / 60:.1f} min left)"
            )
    ema.copy_to_model()
    for m in modules:
        m.eval()


def train_teacher(pipe: ToyPipeline, cfg: TrainConfig, log: _Log) -> None:
    """Standard diffusion training: v-prediction, text dropped 10% of the time, t uniform for
    half of each batch and at high noise (``high_noise_from`` and above) for the other half."""
    images, prompts = make_dataset(cfg.images, cfg.seed)
    log(f"rendered {len(prompts)} training images")
    data = to_unet_space(images, patch_size(pipe.unet))
    ids = _token_ids(pipe, prompts)
    empty = _token_ids(pipe, [""])
    sched = pipe.scheduler
    gen = torch.Generator().manual_seed(cfg.seed + 10)

    def loss_fn(step: int) -> torch.Tensor:
        idx = torch.randint(0, len(data), (cfg.batch,), generator=gen)
        x0, tokens = data[idx], ids[idx].clone()
        drop = torch.rand(cfg.batch, generator=gen) < 0.1
        tokens[drop] = empty
        noise = torch.randn(x0.shape, generator=gen)
        # Part of every batch at high noise (t >= high_noise_from), where the image does not
        # yet show an object's colour or shape and only the text can decide them: with t
        # uniform, the model learned backgrounds but took colours from the noise instead.
        t = torch.where(
            torch.rand(cfg.batch, generator=gen) < cfg.high_noise,
            torch.randint(cfg.high_noise_from, 1000, (cfg.batch,), generator=gen),
            torch.randint(0, 1000, (cfg.batch,), generator=gen),
        )
        context, mask = text_context(pipe.text_encoder, tokens)
        xt = sched.add_noise(x0, noise, t)
        pred = denoise(pipe.unet, xt, t, context, mask)
        return F.mse_loss(pred, sched.get_velocity(x0, noise, t))

    _optimise(pipe, cfg.teacher_steps, cfg.teacher_lr, cfg.ema, loss_fn, log, "teacher")


@torch.no_grad()
def make_pairs(teacher: ToyPipeline, cfg: TrainConfig, log: _Log):
    """Noise -> image pairs from the teacher's guided DDIM ODE, for fresh random prompts."""
    rng = np.random.default_rng(cfg.seed + 20)
    prompts = [sample_scene(rng).prompt for _ in range(cfg.pairs)]
    gen = torch.Generator().manual_seed(cfg.seed + 21)
    c = teacher.unet.config
    noise = torch.randn((cfg.pairs, c.in_channels, c.sample_size, c.sample_size), generator=gen)
    targets, chunk, began = [], 128, time.perf_counter()
    for start in range(0, cfg.pairs, chunk):
        images = teacher(
            prompts[start : start + chunk],
            num_inference_steps=cfg.pair_steps,
            guidance_scale=cfg.guidance,
            latents=noise[start : start + chunk],
            output_type="pt",
        ).images
        targets.append(to_unet_space(images * 2 - 1, patch_size(teacher.unet)))
        done = start + len(images)
        per = (time.perf_counter() - began) / done
        log(f"pairs {done}/{cfg.pairs} ({per * (cfg.pairs - done) / 60:.1f} min left)")
    return prompts, noise, torch.cat(targets)


def train_student(student: ToyPipeline, pairs, cfg: TrainConfig, log: _Log) -> None:
    """Regress the teacher's ODE endpoint from the noise and from DDIM's in-between points.

    Half of each batch is at t = 999 (pure noise: the 1-step case), a third on the other 4-step
    timesteps, the rest anywhere. The point at t is ``sqrt(a_t) x0 + sqrt(1 - a_t) z`` for the
    pair's noise z and image x0: exactly where DDIM puts the sample after predicting x0 from z,
    so a student that is right at t = 999 stays right on every later step.
    """
    prompts, noise, targets = pairs
    ids = _token_ids(student, prompts)
    sched = student.scheduler
    alphas = sched.alphas_cumprod
    grid = torch.tensor([749, 499, 249])
    gen = torch.Generator().manual_seed(cfg.seed + 30)

    def loss_fn(step: int) -> torch.Tensor:
        idx = torch.randint(0, len(targets), (cfg.batch,), generator=gen)
        z, x0 = noise[idx], targets[idx]
        u = torch.rand(cfg.batch, generator=gen)
        t = torch.where(
            u < 0.5,
            torch.full((cfg.batch,), 999),
            torch.where(
                u < 0.8,
                grid[torch.randint(0, 3, (cfg.batch,), generator=gen)],
                torch.randint(1, 999, (cfg.batch,), generator=gen),
            ),
        )
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * z
        context, mask = text_context(student.text_encoder, ids[idx])
        v = denoise(student.unet, xt, t, context, mask)
        return F.mse_loss(a.sqrt() * xt - (1 - a).sqrt() * v, x0)

    _optimise(student, cfg.student_steps, cfg.student_lr, cfg.ema, loss_fn, log, "student")


def _save(pipe: ToyPipeline, folder: Path, log: _Log) -> None:
    pipe.save_pretrained(folder, safe_serialization=True)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    log(f"saved {folder} ({size / 1e6:.1f} MB)")


def train(out: Path, cfg: TrainConfig, skip_teacher: bool = False) -> tuple[Path, Path]:
    """Run every stage and save ``<out>/toy-base`` and ``<out>/toy-turbo``; return both."""
    log = _Log()
    torch.manual_seed(cfg.seed)
    base_dir, turbo_dir = Path(out) / "toy-base", Path(out) / "toy-turbo"
    if skip_teacher:
        teacher = ToyPipeline.from_pretrained(base_dir)
        log(f"loaded the teacher from {base_dir}")
    else:
        teacher = build_pipeline(cfg.size, cfg.seed)
        n = sum(p.numel() for p in teacher.unet.parameters())
        log(f"teacher UNet {n / 1e6:.2f}M parameters; {cfg.teacher_steps} steps of {cfg.batch}")
        train_teacher(teacher, cfg, log)
        _save(teacher, base_dir, log)
    teacher.set_progress_bar_config(disable=True)
    pairs = make_pairs(teacher, cfg, log)
    # A fresh pipeline holding the teacher's weights: its configs are the builder's own, so a
    # student distilled from a teacher loaded from disk is saved exactly like one from memory.
    student = build_pipeline(cfg.size, cfg.seed)
    student.unet.load_state_dict(teacher.unet.state_dict())
    student.text_encoder.load_state_dict(teacher.text_encoder.state_dict())
    train_student(student, pairs, cfg, log)
    _save(student, turbo_dir, log)
    log("training done")
    return base_dir, turbo_dir


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m models.toy.train --out data/weights [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m models.toy.train", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("data/weights"), help="weights folder")
    parser.add_argument("--quick", action="store_true", help="a few iterations of every stage")
    parser.add_argument("--seed", type=int, default=0, help="seed of every stage (default 0)")
    parser.add_argument("--teacher-steps", type=int, default=None, help="override")
    parser.add_argument("--student-steps", type=int, default=None, help="override")
    parser.add_argument("--pairs", type=int, default=None, help="override")
    parser.add_argument("--batch", type=int, default=None, help="override")
    parser.add_argument("--lr", type=float, default=None, help="teacher learning rate override")
    parser.add_argument("--student-lr", type=float, default=None, help="override")
    parser.add_argument("--pair-steps", type=int, default=None, help="override")
    parser.add_argument("--guidance", type=float, default=None, help="override")
    parser.add_argument(
        "--skip-teacher", action="store_true", help="reuse <out>/toy-base; distil the student only"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--channels", type=str, default=None, help="UNet widths per level, e.g. 32,64 (override)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = replace(QUICK if args.quick else FULL, seed=args.seed)
    overrides = {"teacher_steps": args.teacher_steps, "student_steps": args.student_steps}
    overrides.update(pairs=args.pairs, batch=args.batch, teacher_lr=args.lr)
    overrides.update(student_lr=args.student_lr, pair_steps=args.pair_steps)
    overrides.update(guidance=args.guidance)
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if args.channels:
        channels = tuple(int(c) for c in args.channels.split(","))
        cfg = replace(cfg, size=replace(cfg.size, channels=channels))
    began = time.perf_counter()
    base_dir, turbo_dir = train(args.out, cfg, skip_teacher=args.skip_teacher)
    print(f"training wall time {(time.perf_counter() - began) / 60:.1f} min", flush=True)
    if cfg.judge_prompts:
        from models.toy.evaluate import folder_drawers, judge_table, print_table
        from models.toy.grammar import benchmark_scenes

        began = time.perf_counter()
        rows = judge_table(folder_drawers(args.out), benchmark_scenes(cfg.judge_prompts))
        print_table(rows)
        print(f"judged in {time.perf_counter() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
