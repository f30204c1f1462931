"""Optical flow of a known motion, and its colour code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tsgf.optical_flow import colour_wheel, flow_to_rgb, optical_flow


def _texture_moving_right(frames: int, size: int, step: int) -> np.ndarray:
    """A smooth random texture shifted `step` px to the right per frame: (T, 3, size, size) uint8."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 1.5)
    texture = np.interp(texture, (texture.min(), texture.max()), (0, 255)).astype(np.uint8)
    clip = np.stack([np.roll(texture, step * t, axis=1) for t in range(frames)])
    return np.repeat(clip[:, None], 3, axis=1)


def test_a_texture_shifted_right_has_rightward_flow() -> None:
    flow = optical_flow(_texture_moving_right(frames=5, size=48, step=2))
    assert flow.shape == (4, 48, 48, 2) and flow.dtype == np.float32
    interior = flow[:, 8:-8, 8:-8]  # np.roll wraps the texture round: the border columns are not a clean shift
    np.testing.assert_allclose(interior[..., 0], 2.0, atol=0.1)
    np.testing.assert_allclose(interior[..., 1], 0.0, atol=0.1)
    hue = cv2.cvtColor(flow_to_rgb(interior, max_magnitude=2.0).reshape(-1, 1, 3), cv2.COLOR_RGB2HSV)[..., 0]
    assert np.all((hue <= 2) | (hue >= 178))  # red: the hue of rightwards


def test_grey_clips_and_bad_input() -> None:
    grey = _texture_moving_right(frames=3, size=32, step=1)[:, :1]
    assert optical_flow(grey).shape == (2, 32, 32, 2)
    with pytest.raises(ValueError, match="at least two frames"):
        optical_flow(grey[:1])
    with pytest.raises(ValueError, match="uint8 clip"):
        optical_flow(grey.astype(np.float32))


@pytest.mark.parametrize("flow, rgb", [((2, 0), (255, 0, 0)), ((-2, 0), (0, 255, 255)), ((1, 0), (128, 0, 0)),
                                       ((0, 0), (0, 0, 0)), ((9, 0), (255, 0, 0))])
def test_flow_colours(flow: tuple[float, float], rgb: tuple[int, int, int]) -> None:
    """Hue = direction, value = magnitude relative to the maximum (clipped), a still pixel is black."""
    assert tuple(flow_to_rgb(np.array([[flow]], np.float32), max_magnitude=2.0)[0, 0]) == rgb


def test_colour_wheel_is_the_legend_of_flow_to_rgb() -> None:
    wheel = colour_wheel(65)
    assert tuple(wheel[32, 64]) == (255, 0, 0)  # right rim: full-speed rightwards
    assert tuple(wheel[64, 32]) == tuple(flow_to_rgb(np.array([[[0, 2]]], np.float32), 2.0)[0, 0])  # bottom: down
    assert tuple(wheel[32, 32]) == (0, 0, 0) and tuple(wheel[0, 0]) == (255, 255, 255)
