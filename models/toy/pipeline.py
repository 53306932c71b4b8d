"""``ToyPipeline``: a pixel-space text-to-image diffusion pipeline for the toy world.

Components, all standard and saved with ``save_pretrained``:

- ``tokenizer``: a word-level :class:`~transformers.PreTrainedTokenizerFast` over the grammar's
  vocabulary (:func:`build_tokenizer`), saved as ``tokenizer.json``;
- ``text_encoder``: a tiny :class:`~transformers.CLIPTextModel` (its last hidden states are the
  UNet's cross-attention context);
- ``unet``: a :class:`~diffusers.UNet2DConditionModel` predicting ``v``;
- ``scheduler``: any diffusers scheduler (DDIM with trailing timesteps as saved).

There is no VAE. The UNet works on the image folded 2x2 into channels (32x32x3 -> 16x16x12,
``pixel_unshuffle``): a lossless, fixed "autoencoder" that quarters the UNet's spatial work,
which is what makes training on two CPU cores affordable.

The call takes the keys cards use (``num_inference_steps``, ``guidance_scale``, ``height``,
``width``) and one generator per image, like the diffusers pipelines.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline, ImagePipelineOutput, UNet2DConditionModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.schedulers import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, PreTrainedTokenizerFast

from models.toy.grammar import VOCABULARY

__all__ = [
    "MAX_TOKENS",
    "SPECIAL_TOKENS",
    "ToyPipeline",
    "build_tokenizer",
    "denoise",
    "encode_prompts",
    "text_context",
    "tokenize",
]

#: Tokens per prompt after padding: the longest prompt has 15 words, plus begin and end.
MAX_TOKENS = 20
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Return the word-level tokenizer of the grammar: one id per word, lower-cased.

    Words outside the grammar become ``[UNK]`` rather than an error, so a stray prompt still
    draws (badly) instead of stopping a study's generation.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *VOCABULARY))}
    core = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]",
        special_tokens=[("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="[BOS]",
        eos_token="[EOS]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        model_max_length=MAX_TOKENS,
    )


def tokenize(tokenizer: PreTrainedTokenizerFast, prompts: list[str]) -> torch.Tensor:
    """Token ids of *prompts*, padded to :data:`MAX_TOKENS`."""
    return tokenizer(
        prompts,
        padding="max_length",
        max_length=MAX_TOKENS,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def text_context(
    text_encoder: CLIPTextModel, ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The UNet's cross-attention context for token *ids*: hidden states and the token mask.

    Padding is masked out on both sides. Left visible, the UNet learned to read the whole
    prompt from one padding position, whose state the causal encoder squeezes the prompt
    into; it kept the background from there and lost the objects' colours. Training and
    sampling both go through here, so they always see the same context.
    """
    ids = ids.to(text_encoder.device)
    mask = (ids != text_encoder.config.pad_token_id).long()
    return text_encoder(ids, attention_mask=mask).last_hidden_state, mask


def encode_prompts(
    tokenizer: PreTrainedTokenizerFast, text_encoder: CLIPTextModel, prompts: list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`text_context` of *prompts*."""
    return text_context(text_encoder, tokenize(tokenizer, prompts))


def denoise(
    unet: UNet2DConditionModel,
    sample: torch.Tensor,
    t: torch.Tensor | int,
    context: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """The UNet's prediction for *sample* at *t* given the text *context* and its token *mask*.

    A UNet built with ``class_embed_type="projection"`` also takes the prompt's mean token
    state (padding excluded) through its timestep embedding, which every residual block applies
    as a scale and shift of its features. With cross-attention alone, teachers learned the
    background but took the objects' colours from the noise: a colour only changes the loss at
    high noise, where the object's place is still unknown, and that signal was too weak to teach
    attention on a two-core budget. Sampling, teacher training and distillation all call this,
    so they always condition the same way.
    """
    labels = None
    if unet.config.class_embed_type == "projection":
        weights = mask.to(context.dtype).unsqueeze(-1)
        labels = (context * weights).sum(1) / weights.sum(1).clamp(min=1)
    return unet(
        sample, t, encoder_hidden_states=context, encoder_attention_mask=mask, class_labels=labels
    ).sample


def patch_size(unet: UNet2DConditionModel) -> int:
    """Side of the pixel square folded into the UNet's channels (2 for 12 channels)."""
    return round((unet.config.in_channels / 3) ** 0.5)


def to_unet_space(images: torch.Tensor, patch: int) -> torch.Tensor:
    """Images ``(n, 3, H, W)`` in [-1, 1] -> the UNet's ``(n, 3p^2, H/p, W/p)`` tensors."""
    return F.pixel_unshuffle(images, patch) if patch > 1 else images


def to_image_space(sample: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of :func:`to_unet_space`."""
    return F.pixel_shuffle(sample, patch) if patch > 1 else sample


class ToyPipeline(DiffusionPipeline):
    """Text to 32x32 image in pixel space; see the module docstring for the components."""

    model_cpu_offload_seq = "text_encoder->unet"

    def __init__(
        self,
        unet: UNet2DConditionModel,
        text_encoder: CLIPTextModel,
        tokenizer: PreTrainedTokenizerFast,
        scheduler: SchedulerMixin,
    ) -> None:
        super().__init__()
        self.register_modules(
            unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler
        )
        # Pixel space: no latent scaling, only [-1, 1] <-> [0, 255] and the output type.
        self.image_processor = VaeImageProcessor(vae_scale_factor=1, do_resize=False)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 50,
        guidance_scale: float = 3.0,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> ImagePipelineOutput | tuple:
        """Draw one image per prompt (times *num_images_per_prompt*).

        Parameters
        ----------
        prompt : str or list of str
            Prompts of the toy grammar.
        height, width : int, optional
            Image size in pixels; default the training size (32).
        num_inference_steps : int
            Scheduler steps.
        guidance_scale : float
            Classifier-free guidance; 1 or less runs the conditional model alone (one UNet
            call per step instead of two), as distilled students are meant to.
        num_images_per_prompt : int
            Images per prompt.
        generator : torch.Generator or list of them, optional
            With a list (one per image), each image's noise depends on its own generator only.
        latents : torch.Tensor, optional
            The starting noise in the UNet's space (the distiller passes it to pair it with
            the image it becomes); drawn from *generator* when left out.
        output_type : str
            ``"pil"``, ``"np"`` or ``"pt"``.
        return_dict : bool
            Return an :class:`~diffusers.ImagePipelineOutput` rather than a tuple.
        """
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        prompts = [p for p in prompts for _ in range(num_images_per_prompt)]
        patch = patch_size(self.unet)
        default = self.unet.config.sample_size * patch
        height, width = height or default, width or default
        if height % (8 * patch) or width % (8 * patch):
            raise ValueError(f"height and width must be multiples of {8 * patch}")
        device, dtype = self._execution_device, self.unet.dtype
        guided = guidance_scale > 1.0
        context, mask = encode_prompts(self.tokenizer, self.text_encoder, prompts)
        if guided:
            empty, empty_mask = encode_prompts(
                self.tokenizer, self.text_encoder, [""] * len(prompts)
            )
            context, mask = torch.cat([empty, context]), torch.cat([empty_mask, mask])
        shape = (len(prompts), self.unet.config.in_channels, height // patch, width // patch)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        sample = latents.to(device=device, dtype=dtype)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        sample = sample * self.scheduler.init_noise_sigma
        # Stochastic schedulers (Euler ancestral, DDPM) draw step noise from the generators too.
        takes_generator = "generator" in inspect.signature(self.scheduler.step).parameters
        extra: dict[str, Any] = {"generator": generator} if takes_generator else {}
        for t in self.progress_bar(self.scheduler.timesteps):
            model_in = torch.cat([sample] * 2) if guided else sample
            model_in = self.scheduler.scale_model_input(model_in, t)
            out = denoise(self.unet, model_in, t, context, mask)
            if guided:
                uncond, cond = out.chunk(2)
                out = uncond + guidance_scale * (cond - uncond)
            sample = self.scheduler.step(out, t, sample, **extra).prev_sample
        image = to_image_space(sample, patch).clamp(-1, 1)
        images = self.image_processor.postprocess(image, output_type=output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)
