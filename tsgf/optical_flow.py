"""Dense optical flow of a clip (OpenCV Farnebäck) and its colour coding, for the motion figure (TSGF paper, Fig. 5).

Flow vectors are (dx, dy) in pixels per frame, image coordinates (x right, y down). The colour code is the usual
HSV wheel: hue = direction (0° = rightwards = red, then through yellow-green to downwards at 90°), saturation full,
value = magnitude / `max_magnitude` (clipped at 1), so a still pixel is black.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FarnebackParams:
    """cv2.calcOpticalFlowFarneback's knobs. The defaults suit the small frames (24–112 px) of this workflow: two
    pyramid levels keep a 2–3 px motion inside the 9 px window at the coarse level."""

    pyr_scale: float = 0.5
    levels: int = 2
    winsize: int = 9
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1


def _grey(frame: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 with C = 1 or 3 (RGB) -> (H, W) uint8."""
    if frame.shape[0] == 1:
        return np.ascontiguousarray(frame[0])
    return cv2.cvtColor(np.ascontiguousarray(frame.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)


def optical_flow(clip: np.ndarray, params: FarnebackParams = FarnebackParams()) -> np.ndarray:
    """Dense flow between consecutive frames of one clip: (T, C, H, W) uint8 -> (T-1, H, W, 2) float32 (dx, dy)."""
    if clip.ndim != 4 or clip.shape[1] not in (1, 3) or clip.dtype != np.uint8:
        raise ValueError(f"optical_flow needs one uint8 clip (T, C, H, W) with C = 1 or 3, got {clip.dtype} "
                         f"{clip.shape}")
    if clip.shape[0] < 2:
        raise ValueError(f"optical_flow needs at least two frames, got a clip of shape {clip.shape}")
    grey = [_grey(frame) for frame in clip]
    return np.stack([cv2.calcOpticalFlowFarneback(previous, current, None, params.pyr_scale, params.levels,
                                                  params.winsize, params.iterations, params.poly_n,
                                                  params.poly_sigma, 0)
                     for previous, current in zip(grey[:-1], grey[1:])]).astype(np.float32)


def flow_to_rgb(flow: np.ndarray, max_magnitude: float) -> np.ndarray:
    """(..., H, W, 2) flow -> (..., H, W, 3) uint8 RGB on the HSV wheel; magnitudes ≥ max_magnitude are full value."""
    if max_magnitude <= 0:
        raise ValueError(f"max_magnitude must be positive, got {max_magnitude}")
    dx, dy = np.asarray(flow[..., 0], np.float32), np.asarray(flow[..., 1], np.float32)
    magnitude, angle = cv2.cartToPolar(dx.reshape(-1), dy.reshape(-1), angleInDegrees=True)
    hsv = np.empty((dx.size, 1, 3), np.uint8)
    hsv[:, 0, 0] = np.round(angle.reshape(-1) / 2) % 180  # OpenCV's 8-bit hue spans 0..179 for 0..358°
    hsv[:, 0, 1] = 255
    hsv[:, 0, 2] = np.round(255 * np.clip(magnitude.reshape(-1) / max_magnitude, 0, 1))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(*dx.shape, 3)


def colour_wheel(size: int = 65) -> np.ndarray:
    """The legend of flow_to_rgb: pixel (x, y) shows the colour of a flow pointing from the centre to it, the rim
    at max_magnitude; outside the disc is white. (size, size, 3) uint8."""
    radius = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - radius
    wheel = flow_to_rgb(np.stack([x, y], axis=-1), max_magnitude=radius)
    wheel[np.hypot(x, y) > radius] = 255
    return wheel


__all__ = ["FarnebackParams", "optical_flow", "flow_to_rgb", "colour_wheel"]
