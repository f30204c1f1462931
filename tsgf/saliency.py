"""The temporal saliency filter (TSGF paper, Eq. 6-8), with every unreported choice a parameter.

For clips x of shape (N, T, C, H, W) with pixels in [0, 1]:
  D_t = |x_{t+1} - x_t|  (or its square), averaged over channels          -> (N, T-1, H, W)
  mapped onto T frames: "forward" repeats the last difference, "central" averages the two neighbours
  s_t = sum_{j=-k..k} alpha_j d_{t+j}   (replicate padding, alpha sums to 1)
  w   = s / (max s + eps), then the floor: w <- beta + (1 - beta) w
Per-frame weights use d_t = mean over pixels; per-pixel maps smooth D itself along time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SaliencyConfig:
    """The filter's knobs, filled from the validated `saliency` section (the schema holds their defaults)."""

    window: int  # k: the smoothing window is 2k+1 frames
    weights: str  # alpha: "uniform" or "gaussian"
    gaussian_sigma: float  # width of the Gaussian alpha, in frames
    eps: float
    floor: float  # beta: the smallest weight a frame or pixel can get
    difference: str  # "l1" |dx| or "l2" dx^2
    alignment: str  # how T-1 differences map onto T frames: "forward" or "central"
    granularity: str  # "frame" (one weight per frame) or "pixel" (one per frame and pixel)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "SaliencyConfig":
        return cls(**params)


def smoothing_weights(window: int, kind: str, sigma: float = 1.0) -> torch.Tensor:
    """alpha_{-k..k}, summing to 1."""
    offsets = torch.arange(-window, window + 1, dtype=torch.float64)
    if kind == "uniform":
        alpha = torch.ones_like(offsets)
    elif kind == "gaussian":
        alpha = torch.exp(-(offsets**2) / (2 * sigma**2))
    else:
        raise ValueError(f"unknown smoothing weights {kind!r}: use 'uniform' or 'gaussian'")
    return alpha / alpha.sum()


def frame_differences(clips: torch.Tensor, difference: str = "l1") -> torch.Tensor:
    """Inter-frame differences averaged over channels: (N, T, C, H, W) -> (N, T-1, H, W)."""
    delta = clips[:, 1:] - clips[:, :-1]
    if difference == "l1":
        delta = delta.abs()
    elif difference == "l2":
        delta = delta.square()
    else:
        raise ValueError(f"unknown difference {difference!r}: use 'l1' or 'l2'")
    return delta.mean(dim=2)


def align_to_frames(diffs: torch.Tensor, alignment: str) -> torch.Tensor:
    """Map the T-1 differences (dim 1) onto T frames."""
    if alignment == "forward":  # frame t is scored by its change to t+1; the last frame repeats the last change
        return torch.cat([diffs, diffs[:, -1:]], dim=1)
    if alignment == "central":  # frame t is scored by the mean change to both neighbours
        padded = torch.cat([diffs[:, :1], diffs, diffs[:, -1:]], dim=1)
        return 0.5 * (padded[:, :-1] + padded[:, 1:])
    raise ValueError(f"unknown alignment {alignment!r}: use 'forward' or 'central'")


def smooth_over_time(scores: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Convolve along dim 1 (time) with alpha, replicate padding; works for (N, T) and (N, T, H, W)."""
    window = (len(alpha) - 1) // 2
    if window == 0:
        return scores
    shape = scores.shape
    series = scores.reshape(shape[0], shape[1], -1).permute(0, 2, 1).reshape(-1, 1, shape[1])
    series = F.pad(series, (window, window), mode="replicate")
    smoothed = F.conv1d(series, alpha.to(series.dtype).view(1, 1, -1))
    return smoothed.reshape(shape[0], -1, shape[1]).permute(0, 2, 1).reshape(shape)


def temporal_saliency(clips: torch.Tensor, config: SaliencyConfig) -> torch.Tensor:
    """Saliency weights in [floor, 1] of clips (N, T, C, H, W), detached.

    Returns (N, T) for granularity "frame" and (N, T, H, W) for "pixel". A clip with no motion at all gets the
    floor everywhere (its raw weights are 0 / (0 + eps)).
    """
    if clips.shape[1] < 2:
        raise ValueError(f"temporal saliency needs at least 2 frames, got {clips.shape[1]}")
    with torch.no_grad():
        per_pixel = align_to_frames(frame_differences(clips.detach(), config.difference), config.alignment)
        if config.granularity == "frame":
            raw = per_pixel.mean(dim=(2, 3))
        elif config.granularity == "pixel":
            raw = per_pixel
        else:
            raise ValueError(f"unknown granularity {config.granularity!r}: use 'frame' or 'pixel'")
        alpha = smoothing_weights(config.window, config.weights, config.gaussian_sigma)
        smoothed = smooth_over_time(raw, alpha)
        peak = smoothed.flatten(1).amax(dim=1).view(-1, *([1] * (smoothed.dim() - 1)))
        normalised = smoothed / (peak + config.eps)
        return config.floor + (1.0 - config.floor) * normalised


def expand_to_clips(weights: torch.Tensor, clip_shape: torch.Size) -> torch.Tensor:
    """Broadcast (N, T) or (N, T, H, W) weights against clips (N, T, C, H, W)."""
    if weights.dim() == 2:
        return weights[:, :, None, None, None]
    return weights[:, :, None, :, :]


def spatial_saliency_map(clips: torch.Tensor, config: SaliencyConfig) -> torch.Tensor:
    """Where a clip moves: the per-pixel saliency averaged over time, (N, H, W), each map in [0, 1].

    TSGF_A uses it to choose where its crops and erasures land.
    """
    pixel = temporal_saliency(clips, replace(config, granularity="pixel", floor=0.0))
    spatial = pixel.mean(dim=1)
    peak = spatial.flatten(1).amax(dim=1).view(-1, 1, 1)
    return spatial / (peak + config.eps)


def describe(config: SaliencyConfig) -> str:
    """A short human label, for figure captions."""
    return (f"k={config.window}, alpha={config.weights}, eps={config.eps:g}, beta={config.floor:g}, "
            f"{config.difference}, {config.alignment}, per-{config.granularity}")


__all__ = [
    "SaliencyConfig",
    "smoothing_weights",
    "frame_differences",
    "align_to_frames",
    "smooth_over_time",
    "temporal_saliency",
    "expand_to_clips",
    "spatial_saliency_map",
    "describe",
]

