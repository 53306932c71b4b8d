"""Milliseconds per image: plain diffusers against t2i-arena's engine, in one run.

The SDXL architecture is built from its configs with random weights (no hub, no download):
the real SDXL UNet, VAE and both CLIP text encoders (a byte-level tokenizer of 514 tokens stands
in for CLIP's, which changes nothing downstream: 77 tokens either way). The pipeline is saved
once and then loaded twice through ``from_pretrained``:

- ``diffusers``: ``StableDiffusionXLPipeline.from_pretrained`` in float16, as a user would;
- ``engine``: :func:`models.backends.load_pipeline` on a card with ``channels_last`` and
  ``fuse_qkv`` (add ``--compile MODE`` for torch.compile);
- ``engine+fp16vae``: the same with ``[engine] vae`` pointing at the pipeline's own VAE folder, so
  ``force_upcast`` is off and the decoder runs in float16 (the sdxl-vae-fp16-fix setting; with
  random weights the numbers are the same either way).

Cases (full config): 512×512 at 1 and 4 steps, batch 1 and 8, no guidance; 1024×1024 at 50
steps with guidance 5.0, batch 1. ``--reduced`` uses the tiny SDXL of :mod:`models.tiny` at 64×64
and 128×128 (8 steps instead of 50) on a CPU in a few minutes. Each figure is the median of ``--repeats`` timed calls
after one warm-up call, divided by the batch size.

Then the FLOPs of one 1-step 512×512 image (64×64 with ``--reduced``) per part, counted with
``torch.utils.flop_counter.FlopCounterMode``: both text encoders, one UNet step, the VAE decoder
(its FLOPs do not depend on the dtype; its time does, see the fp32/fp16 decoder rows).
``--flops-only`` counts them for the full config on the meta device, on any machine.

    .venv/bin/python -P benchmarks/generation.py --reduced
    python3 -P benchmarks/generation.py --json OUT.json          # on a GPU
    .venv/bin/python -P benchmarks/generation.py --flops-only
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import (  # noqa: E402
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from models.tiny import build_tiny_sdxl, write_clip_tokenizer_files  # noqa: E402

FULL_CASES = [(512, 1, 1, 0.0), (512, 1, 8, 0.0), (512, 4, 1, 0.0), (512, 4, 8, 0.0)]
FULL_CASES += [(1024, 50, 1, 5.0)]
REDUCED_CASES = [(64, 1, 1, 0.0), (64, 1, 8, 0.0), (64, 4, 1, 0.0), (64, 4, 8, 0.0)]
REDUCED_CASES += [(128, 8, 1, 5.0)]  # 50 steps on a CPU would take minutes
PROMPT = "a photograph of an astronaut riding a horse on the moon"


def _sdxl_parts(vocab: int, bos: int, eos: int) -> dict:
    """The SDXL 1.0 base architecture (its published configs), randomly initialised."""
    clip = {"vocab_size": vocab, "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos}
    enc1 = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            projection_dim=768,
            hidden_act="quick_gelu",
            **clip,
        )
    )
    enc2 = CLIPTextModelWithProjection(
        CLIPTextConfig(
            hidden_size=1280,
            intermediate_size=5120,
            num_hidden_layers=32,
            num_attention_heads=20,
            projection_dim=1280,
            hidden_act="gelu",
            **clip,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        block_out_channels=(320, 640, 1280),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(5, 10, 20),
        transformer_layers_per_block=(1, 2, 10),
        use_linear_projection=True,
        cross_attention_dim=2048,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=1024,
        scaling_factor=0.13025,
        force_upcast=True,
    )
    return {"text_encoder": enc1, "text_encoder_2": enc2, "unet": unet, "vae": vae}


def build_full_sdxl(out: Path, device: str) -> Path:
    """Write a random SDXL pipeline (float16 safetensors) to *out*; initialised on *device*."""
    with tempfile.TemporaryDirectory() as tmp:
        vocab = write_clip_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    bos, eos = (tokenizer.convert_tokens_to_ids(t) for t in ("<|startoftext|>", "<|endoftext|>"))
    torch.manual_seed(0)
    with torch.device(device):  # random init of 3.5B weights is minutes on a CPU, ms on a GPU
        parts = _sdxl_parts(vocab, bos, eos)
    pipe = StableDiffusionXLPipeline(
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        add_watermarker=False,
        scheduler=EulerAncestralDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            timestep_spacing="trailing",
            steps_offset=1,
        ),
        **parts,
    )
    pipe.to(torch.float16).save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):
        write_clip_tokenizer_files(out / name)
    return out


def _card(folder: Path, repo: Path, dtype: str, engine: str) -> Path:
    card = folder / f"bench-{abs(hash(engine)) % 10**6}.toml"
    card.write_text(
        f'id = "{card.stem}"\ndisplay_name = "bench"\nbackend = "diffusers"\n'
        f'repo = "{repo.as_posix()}"\npipeline = "StableDiffusionXLPipeline"\n'
        f'dtype = "{dtype}"\n\n[scheduler]\nclass = "EulerAncestralDiscreteScheduler"\n'
        f'timestep_spacing = "trailing"\n\n[engine]\n{engine}\n',
        encoding="utf-8",
    )
    return card


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _ms_per_image(call, device: str, batch: int, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        began = time.perf_counter()
        call()
        _sync(device)
        times.append((time.perf_counter() - began) * 1000 / batch)
    return statistics.median(times)


def _contenders(
    repo: Path,
    device: str,
    dtype: torch.dtype,
    compile_mode: str | None,
    tmp: Path,
    runners: set[str],
):
    from models.backends import load_pipeline
    from models.cards import load_card

    held = {}
    if "diffusers" in runners:
        held["plain"] = StableDiffusionXLPipeline.from_pretrained(repo, dtype=dtype).to(device)
        held["plain"].set_progress_bar_config(disable=True)

    def run_plain(size, steps, batch, guidance):
        gens = [torch.Generator(device).manual_seed(i) for i in range(batch)]
        return held["plain"](
            prompt=[PROMPT] * batch,
            num_inference_steps=steps,
            guidance_scale=guidance,
            height=size,
            width=size,
            generator=gens,
            output_type="pil",
        ).images

    if held:
        yield "diffusers", run_plain
    held.clear()  # one pipeline in memory at a time
    name = str(dtype).removeprefix("torch.")
    base = "channels_last = true\nfuse_qkv = true\n"
    if compile_mode:
        base += f'compile = "{compile_mode}"\n'
    for label, engine in (("engine", base), ("engine+fp16vae", base + f'vae = "{repo / "vae"}"\n')):
        if label not in runners:
            continue
        loaded = load_pipeline(load_card(_card(tmp, repo, name, engine)), device)

        def run_engine(size, steps, batch, guidance, loaded=loaded):
            loaded.call_kwargs = {
                "num_inference_steps": steps,
                "guidance_scale": guidance,
                "height": size,
                "width": size,
            }
            return loaded([PROMPT] * batch, list(range(batch)))

        yield label, run_engine
        loaded.close()
        del loaded
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def count_flops(pipe: StableDiffusionXLPipeline, size: int, device: str) -> dict[str, float]:
    """FLOPs of one 1-step image at *size*, per part (text encoders, UNet step, VAE decoder)."""
    flops = {}
    with torch.no_grad():
        ids = torch.zeros(1, 77, dtype=torch.long, device=device)
        for name in ("text_encoder", "text_encoder_2"):
            with FlopCounterMode(display=False) as counter:
                getattr(pipe, name)(ids, output_hidden_states=True)
            flops[name] = counter.get_total_flops()
        unet, vae = pipe.unet, pipe.vae
        dt = unet.dtype
        side = size // 2 ** (len(vae.config.block_out_channels) - 1)
        latent = torch.zeros(1, 4, side, side, device=device, dtype=dt)
        cond = torch.zeros(1, 77, unet.config.cross_attention_dim, device=device, dtype=dt)
        pooled = torch.zeros(1, pipe.text_encoder_2.config.projection_dim, device=device, dtype=dt)
        added = {"text_embeds": pooled, "time_ids": torch.zeros(1, 6, device=device, dtype=dt)}
        with FlopCounterMode(display=False) as counter:
            unet(latent, torch.tensor([999], device=device), cond, added_cond_kwargs=added)
        flops["unet (1 step)"] = counter.get_total_flops()
        with FlopCounterMode(display=False) as counter:
            vae.decode(latent.to(vae.dtype))
        flops["vae decoder"] = counter.get_total_flops()
    flops["total"] = sum(flops.values())
    return flops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reduced", action="store_true", help="tiny config, small sizes (CPU)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per figure")
    parser.add_argument("--compile", default=None, help="torch.compile mode for the engine")
    parser.add_argument(
        "--runners",
        default="diffusers,engine,engine+fp16vae",
        help="comma-separated: diffusers, engine, engine+fp16vae (default: all three)",
    )
    parser.add_argument("--flops-only", action="store_true", help="full-config FLOPs on meta")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="keep the random pipeline here (reused when it is already there)",
    )
    args = parser.parse_args(argv)
    results: dict = {"device": args.device, "versions": {}}
    from models.backends import device_name, library_versions

    results["versions"] = library_versions()
    if args.flops_only:
        with tempfile.TemporaryDirectory() as tmp:
            vocab = write_clip_tokenizer_files(Path(tmp))
        with torch.device("meta"):
            parts = _sdxl_parts(vocab, 512, 513)
        pipe = argparse.Namespace(**parts)
        results["flops"] = count_flops(pipe, 512, "meta")
    else:
        results["device_name"] = device_name(args.device)
        on_gpu = args.device.startswith("cuda")
        dtype = torch.float16 if on_gpu else torch.float32
        repeats = args.repeats or (5 if on_gpu else 1)
        cases = REDUCED_CASES if args.reduced else FULL_CASES
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            repo = args.repo or tmp / "sdxl"
            if (repo / "model_index.json").is_file():
                pass  # an earlier run's pipeline: the same seed built it
            elif args.reduced:
                repo = build_tiny_sdxl(repo)
            else:
                repo = build_full_sdxl(repo, args.device)
            runners = set(args.runners.split(","))
            for label, run in _contenders(repo, args.device, dtype, args.compile, tmp, runners):
                for size, steps, batch, guidance in cases:
                    ms = _ms_per_image(
                        functools.partial(run, size, steps, batch, guidance),
                        args.device,
                        batch,
                        repeats,
                    )
                    rows.append(
                        {
                            "runner": label,
                            "size": size,
                            "steps": steps,
                            "batch": batch,
                            "guidance": guidance,
                            "ms_per_image": round(ms, 2),
                        }
                    )
                    print(
                        f"{label:15} {size:5}² {steps:3} steps batch {batch} "
                        f"guidance {guidance:3.1f}: {ms:9.2f} ms/image",
                        flush=True,
                    )
                    if args.json:  # a run stopped by its time limit keeps what it measured
                        results.update(rows=rows, dtype=str(dtype), repeats=repeats)
                        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
            pipe = StableDiffusionXLPipeline.from_pretrained(repo, dtype=dtype).to(args.device)
            results["flops"] = count_flops(pipe, 64 if args.reduced else 512, args.device)
        results.update(rows=rows, dtype=str(dtype), repeats=repeats, compile=args.compile)
    for part, value in results["flops"].items():
        print(f"FLOPs {part:16} {value / 1e12:10.4f} TFLOP")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
