"""Tiny, randomly initialised SDXL pipelines for offline demos and tests.

The pipeline built here has the same structure as Stable Diffusion XL (two CLIP text encoders, an
SDXL-style UNet with ``text_time`` added conditioning, a KL autoencoder and an Euler scheduler) but
only a few hundred thousand weights, so it runs on a CPU in a fraction of a second and is loaded
through exactly the same ``from_pretrained`` path as a real checkpoint. The weights are random, so
the images are structured noise; that is enough to exercise generation, storage and the arena.

Run ``python -m models.tiny data/weights/tiny-sdxl`` to (re)write the shipped copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

__all__ = ["IMAGE_SIZE", "build_tiny_lora", "build_tiny_sdxl", "main"]

#: Side length in pixels of the images a tiny pipeline draws by default.
IMAGE_SIZE = 64

_BOS = "<|startoftext|>"
_EOS = "<|endoftext|>"
_TEXT_HIDDEN = 32
_PROJECTION_DIM = 32
_TIME_EMBED_DIM = 8


def _byte_alphabet() -> list[str]:
    """Return the 256 printable characters that stand for the bytes 0..255.

    Byte-level BPE (GPT-2, CLIP) maps every byte to a printable unicode character so that any
    UTF-8 text can be tokenised without an unknown token; bytes that are already printable stand
    for themselves, the rest are shifted above U+0100.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping: dict[int, str] = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shift)
            shift += 1
    return [mapping[b] for b in range(256)]


def write_clip_tokenizer_files(folder: Path) -> int:
    """Write a minimal byte-level CLIP vocabulary (``vocab.json``, ``merges.txt``) into *folder*.

    Every byte is a token, both inside a word and at its end (CLIP marks word ends with
    ``</w>``); there are no merges, so a word costs one token per byte. That keeps the vocabulary
    at 514 entries while still tokenising any text.

    Parameters
    ----------
    folder : Path
        Directory to write into; created if missing.

    Returns
    -------
    int
        The vocabulary size, which the text encoders' embedding tables must match.
    """
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + [_BOS, _EOS]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return len(vocab)


def _text_encoders(vocab_size: int, bos_id: int, eos_id: int, seed: int):
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=_TEXT_HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=_PROJECTION_DIM,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    torch.manual_seed(seed)
    encoder = CLIPTextModel(config)
    torch.manual_seed(seed + 1)
    encoder_2 = CLIPTextModelWithProjection(config)
    return encoder, encoder_2


def _unet(seed: int) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 2,  # the two-level VAE below halves the resolution once
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        transformer_layers_per_block=(1, 1),
        use_linear_projection=True,
        # SDXL conditions on the concatenated hidden states of both text encoders ...
        cross_attention_dim=2 * _TEXT_HIDDEN,
        # ... and on the pooled projection plus six Fourier-embedded size/crop numbers.
        addition_embed_type="text_time",
        addition_time_embed_dim=_TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=6 * _TIME_EMBED_DIM + _PROJECTION_DIM,
    )


def _vae(seed: int) -> AutoencoderKL:
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
        sample_size=IMAGE_SIZE,
    )


def _scheduler() -> EulerDiscreteScheduler:
    # The noise schedule of the real SDXL base checkpoint, so that cards override it the same way.
    return EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
        prediction_type="epsilon",
    )


def build_tiny_sdxl(out_dir: Path, seed: int = 0) -> Path:
    """Build a tiny random SDXL pipeline from configs and save it with ``save_pretrained``.

    Parameters
    ----------
    out_dir : Path
        Destination folder; it receives ``model_index.json`` and one sub-folder per component,
        with weights as safetensors. Existing files are overwritten.
    seed : int, optional
        Seed for the random initialisation; the same seed writes the same weights.

    Returns
    -------
    Path
        *out_dir*, ready for ``DiffusionPipeline.from_pretrained(out_dir)``.
    """
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_size = write_clip_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    bos_id = tokenizer.convert_tokens_to_ids(_BOS)
    eos_id = tokenizer.convert_tokens_to_ids(_EOS)
    text_encoder, text_encoder_2 = _text_encoders(vocab_size, bos_id, eos_id, seed)
    pipe = StableDiffusionXLPipeline(
        vae=_vae(seed + 2),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=_unet(seed + 3),
        scheduler=_scheduler(),
        add_watermarker=False,
    )
    pipe.save_pretrained(out_dir, safe_serialization=True)
    # transformers 5 saves only tokenizer.json; the slow CLIPTokenizer of transformers 4 needs
    # the vocabulary and merges files, so both are kept next to it.
    for name in ("tokenizer", "tokenizer_2"):
        write_clip_tokenizer_files(out_dir / name)
    return out_dir


def build_tiny_lora(pipeline_dir: Path, out_dir: Path, seed: int = 0, rank: int = 2) -> Path:
    """Write a random LoRA for the UNet of a tiny pipeline, in the diffusers LoRA format.

    Used to exercise the ``[lora]`` card table offline. Unlike a freshly initialised LoRA (whose
    up-projection is zero), these adapters change the output, so a test can see them applied.

    Parameters
    ----------
    pipeline_dir : Path
        A folder written by :func:`build_tiny_sdxl`.
    out_dir : Path
        Destination folder; receives ``pytorch_lora_weights.safetensors``.
    seed : int, optional
        Seed for the adapter weights.
    rank : int, optional
        LoRA rank.

    Returns
    -------
    Path
        *out_dir*.
    """
    from peft import LoraConfig  # only needed here and for LoRA cards
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(pipeline_dir, subfolder="unet")
    torch.manual_seed(seed)
    unet.add_adapter(
        LoraConfig(
            r=rank,
            lora_alpha=rank,
            init_lora_weights=False,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    StableDiffusionXLPipeline.save_lora_weights(
        save_directory=out_dir,
        unet_lora_layers=get_peft_model_state_dict(unet),
        safe_serialization=True,
    )
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m models.tiny OUT_DIR [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m models.tiny", description="Write a tiny random SDXL pipeline."
    )
    parser.add_argument("out_dir", type=Path, help="destination folder")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    args = parser.parse_args(argv)
    path = build_tiny_sdxl(args.out_dir, seed=args.seed)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(f"wrote {path} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
