"""Configurations of the toy family's networks and the settings its five model cards use.

Kept apart from the training loops so that tests, the judge benchmark and the trainer agree on
one definition of every model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from models.toy.grammar import IMAGE_SIZE
from models.toy.pipeline import MAX_TOKENS, SPECIAL_TOKENS, ToyPipeline, build_tokenizer

__all__ = ["CARD_SETTINGS", "NetSize", "build_pipeline", "build_scheduler"]

TEXT_HIDDEN = 64


@dataclass(frozen=True)
class NetSize:
    """Widths of the UNet's levels and of the text encoder; small enough for two CPU cores."""

    channels: tuple[int, ...] = (32, 64)
    text_layers: int = 2
    #: Also feed the prompt's mean token state into the timestep embedding, applied by every
    #: residual block as a scale and shift (see ``models.toy.pipeline.denoise``).
    pooled_text: bool = True


#: Card id -> (weights folder under data/weights, steps, guidance scale). The teacher's 4- and
#: 1-step cards keep its guidance, as SDXL base would be run; the students need none.
CARD_SETTINGS: dict[str, tuple[str, int, float]] = {
    "toy-base-50step": ("toy-base", 50, 1.5),
    "toy-base-4step": ("toy-base", 4, 1.5),
    "toy-base-1step": ("toy-base", 1, 1.5),
    "toy-turbo-1step": ("toy-turbo", 1, 0.0),
    "toy-turbo-4step": ("toy-turbo", 4, 0.0),
}


def build_scheduler() -> DDIMScheduler:
    """DDIM over a cosine schedule rescaled to zero terminal SNR, v-prediction, trailing steps.

    Zero terminal SNR makes the first step start from pure noise, as sampling does (Lin et al.
    2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed"); trailing timesteps
    make a 1-step run denoise from t = 999 instead of t = 1. v-prediction keeps the x0 estimate
    well-conditioned at that step, where epsilon-prediction would divide by sqrt(alpha_bar) = 0.
    """
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=True,
    )


def _text_encoder(size: NetSize, vocab_size: int) -> CLIPTextModel:
    ids = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=TEXT_HIDDEN,
        intermediate_size=2 * TEXT_HIDDEN,
        num_hidden_layers=size.text_layers,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        projection_dim=TEXT_HIDDEN,
        hidden_act="gelu",
        pad_token_id=ids["[PAD]"],
        bos_token_id=ids["[BOS]"],
        eos_token_id=ids["[EOS]"],
    )
    return CLIPTextModel(config)


def _unet(size: NetSize) -> UNet2DConditionModel:
    levels = len(size.channels)
    # Attention only below the top level: at 16x16 it would cost more than the convolutions.
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (levels - 1)
    up = ("CrossAttnUpBlock2D",) * (levels - 1) + ("UpBlock2D",)
    return UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 2,  # the pipeline folds 2x2 pixels into 12 channels
        in_channels=12,
        out_channels=12,
        block_out_channels=size.channels,
        down_block_types=down,
        up_block_types=up,
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=4,  # diffusers' legacy name: this is the number of heads
        cross_attention_dim=TEXT_HIDDEN,
        class_embed_type="projection" if size.pooled_text else None,
        resnet_time_scale_shift="scale_shift" if size.pooled_text else "default",
        projection_class_embeddings_input_dim=TEXT_HIDDEN if size.pooled_text else None,
    )


def build_pipeline(size: NetSize, seed: int) -> ToyPipeline:
    """A freshly initialised toy pipeline (seeded), ready to train."""
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    text_encoder = _text_encoder(size, len(tokenizer))
    torch.manual_seed(seed + 1)
    unet = _unet(size)
    return ToyPipeline(
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=build_scheduler(),
    )
