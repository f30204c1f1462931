"""Clip-consistent augmentation: one spatial transform per clip, applied identically to all of its frames.

Two users: distillation (`random_clip_augment`, differentiable: crop, flip, roll jitter) and TSGF_A during
evaluation (`saliency_guided_augment`: crops centred where the clip moves, erasures placed where it does not).
Clips are (N, T, C, H, W) float tensors with pixels in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


def affine_clip_transform(clips: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp each clip by its own 2x3 affine `theta` (N, 2, 3); frames are stacked as channels so every frame of a
    clip gets exactly the same warp."""
    n, t, c, h, w = clips.shape
    stacked = clips.reshape(n, t * c, h, w)
    grid = F.affine_grid(theta.to(clips), [n, t * c, h, w], align_corners=False)
    return F.grid_sample(stacked, grid, mode="bilinear", padding_mode="border", align_corners=False).reshape(
        n, t, c, h, w)


def crop_theta(scale: torch.Tensor, centre_x: torch.Tensor, centre_y: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Affine matrices of a square crop of side `scale` (fraction of the frame) at a centre in [-1, 1] coordinates,
    resized back to the full frame, mirrored where `flip` is true."""
    theta = torch.zeros(len(scale), 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = scale * torch.where(flip, -1.0, 1.0)
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = centre_x.clamp(-(1 - scale), 1 - scale)
    theta[:, 1, 2] = centre_y.clamp(-(1 - scale), 1 - scale)
    return theta


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def random_clip_augment(clips: torch.Tensor, generator: torch.Generator, crop_scale: tuple[float, float],
                        flip: bool, max_roll: float) -> torch.Tensor:
    """Differentiable random crop + flip + roll jitter (roll by up to `max_roll` of the frame size), per clip."""
    n, _, _, h, w = clips.shape
    scale = _uniform(n, crop_scale[0], crop_scale[1], generator)
    centre_x = _uniform(n, -1, 1, generator) * (1 - scale)
    centre_y = _uniform(n, -1, 1, generator) * (1 - scale)
    flips = (torch.rand(n, generator=generator) < 0.5) & flip
    out = affine_clip_transform(clips, crop_theta(scale, centre_x, centre_y, flips))
    if max_roll > 0:
        limit = (int(max_roll * h), int(max_roll * w))
        shifts = [(int(torch.randint(-limit[0], limit[0] + 1, (1,), generator=generator)),
                   int(torch.randint(-limit[1], limit[1] + 1, (1,), generator=generator))) for _ in range(n)]
        out = torch.stack([torch.roll(clip, shifts=shift, dims=(2, 3)) for clip, shift in zip(out, shifts)])
    return out


def student_crop(params: dict[str, Any]) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """`evaluation.augment` as a training harness's augmentation: the random crop (and flip) of every student
    without TSGF_A, of the full-data students and of MTT's experts; None when it is off."""
    crop_scale, flip = tuple(params["crop_scale"]), params["flip"]
    if crop_scale == (1.0, 1.0) and not flip:
        return None

    def augment(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return random_clip_augment(clips, gen, crop_scale, flip, max_roll=0.0)

    return augment


def shuffle_frames(clips: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each clip's frames (N, T, ...) in a random order of its own: what the order-blind probe trains and tests on,
    so that a clip and its time reversal look the same to it."""
    n, t = clips.shape[:2]
    order = torch.argsort(torch.rand(n, t, generator=generator), dim=1)
    return clips[torch.arange(n)[:, None], order]


@dataclass(frozen=True)
class SaliencyAugmentConfig:
    """TSGF_A. `guided` false draws the same crops and erasures at uniformly random places (the control)."""

    crop_scale: tuple[float, float]
    flip: bool
    erase_prob: float
    erase_area: tuple[float, float]
    guided: bool

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "SaliencyAugmentConfig":
        return cls(**{**params, "crop_scale": tuple(params["crop_scale"]), "erase_area": tuple(params["erase_area"])})


def _sample_positions(weights: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres (x, y) in [-1, 1], one per map, drawn with probability proportional to `weights` (N, H, W)."""
    n, h, w = weights.shape
    flat = weights.reshape(n, -1).double() + 1e-6  # never an all-zero distribution
    index = torch.multinomial(flat, 1, generator=generator).squeeze(1)
    rows, cols = index // w, index % w
    return (cols.double() + 0.5) / w * 2 - 1, (rows.double() + 0.5) / h * 2 - 1


def saliency_guided_augment(clips: torch.Tensor, saliency_maps: torch.Tensor, generator: torch.Generator,
                            config: SaliencyAugmentConfig) -> torch.Tensor:
    """TSGF_A: erase a low-saliency rectangle (with the clip's mean colour), then crop around a high-saliency point.

    `saliency_maps` (N, H, W) in [0, 1] say where each clip moves (tsgf.saliency.spatial_saliency_map).
    """
    n, _, _, h, w = clips.shape
    maps = saliency_maps if config.guided else torch.ones_like(saliency_maps)
    out = clips
    if config.erase_prob > 0:
        erase = torch.rand(n, generator=generator) < config.erase_prob
        area = _uniform(n, config.erase_area[0], config.erase_area[1], generator)
        aspect = torch.exp(_uniform(n, -0.7, 0.7, generator))
        half_w, half_h = (area * aspect).sqrt(), (area / aspect).sqrt()  # half-sides in [-1, 1] units
        cx, cy = _sample_positions(1.0 - maps if config.guided else maps, generator)
        xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w * 2 - 1
        ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h * 2 - 1
        inside = (((xs[None, None, :] - cx[:, None, None]).abs() <= half_w[:, None, None])
                  & ((ys[None, :, None] - cy[:, None, None]).abs() <= half_h[:, None, None]) & erase[:, None, None])
        mask = inside[:, None, None].to(clips.dtype)  # (N, 1, 1, H, W): same rectangle in every frame
        mean_colour = clips.mean(dim=(1, 3, 4), keepdim=True)
        out = out * (1 - mask) + mean_colour * mask
    scale = _uniform(n, config.crop_scale[0], config.crop_scale[1], generator)
    cx, cy = _sample_positions(maps, generator)
    flips = (torch.rand(n, generator=generator) < 0.5) & config.flip
    return affine_clip_transform(out, crop_theta(scale, cx, cy, flips))


__all__ = [
    "affine_clip_transform",
    "crop_theta",
    "random_clip_augment",
    "student_crop",
    "SaliencyAugmentConfig",
    "saliency_guided_augment",
    "shuffle_frames",
]
