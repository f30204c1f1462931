"""The temporal saliency filter on motions whose saliency is known by hand."""

import pytest
import torch

from tsgf.saliency import smoothing_weights, spatial_saliency_map, temporal_saliency
from schema_configs import saliency_config


def clip_moving_in_frames_3_to_5(frames: int = 8, size: int = 8, step: float = 0.1) -> torch.Tensor:
    """One clip whose pixels change (by `step`, everywhere) from frame 3 to 4, 4 to 5 and 5 to 6, nowhere else:
    the forward differences d_t = |x_{t+1} - x_t| are step at t = 3, 4, 5 and 0 otherwise."""
    level = torch.tensor([0, 0, 0, 0, 1, 2, 3, 3], dtype=torch.float64)[:frames] * step + 0.2
    return level.view(1, frames, 1, 1, 1).expand(1, frames, 3, size, size).clone()


EXACT = dict(eps=1e-12, floor=0.0)


def test_static_clip_gets_the_floor_everywhere():
    static = torch.full((2, 8, 3, 8, 8), 0.5)
    for granularity in ("frame", "pixel"):
        weights = temporal_saliency(static, saliency_config(floor=0.3, granularity=granularity))
        assert torch.equal(weights, torch.full_like(weights, 0.3))


def test_motion_in_frames_3_to_5_without_smoothing():
    weights = temporal_saliency(clip_moving_in_frames_3_to_5(), saliency_config(window=0, **EXACT))
    assert weights.squeeze(0).tolist() == pytest.approx([0, 0, 0, 1, 1, 1, 0, 0])


def test_uniform_smoothing_spreads_the_motion_by_k():
    weights = temporal_saliency(clip_moving_in_frames_3_to_5(), saliency_config(window=1, **EXACT))
    # s_t = mean(d_{t-1}, d_t, d_{t+1}) with d = [0, 0, 0, 1, 1, 1, 0, 0] (last frame repeats d_6)
    assert weights.squeeze(0).tolist() == pytest.approx([0, 0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0])


def test_central_alignment_averages_both_neighbours():
    weights = temporal_saliency(clip_moving_in_frames_3_to_5(), saliency_config(window=0, alignment="central", **EXACT))
    assert weights.squeeze(0).tolist() == pytest.approx([0, 0, 0, 0.5, 1, 1, 0.5, 0])


def test_floor_lifts_every_weight_affinely():
    weights = temporal_saliency(clip_moving_in_frames_3_to_5(), saliency_config(window=0, eps=1e-12, floor=0.25))
    assert weights.squeeze(0).tolist() == pytest.approx([0.25, 0.25, 0.25, 1, 1, 1, 0.25, 0.25])


def test_l2_difference_squares_before_averaging():
    clip = clip_moving_in_frames_3_to_5()
    clip[:, 4:] += 0.1  # the 3->4 change is now twice as large as the 4->5 and 5->6 changes
    l1 = temporal_saliency(clip, saliency_config(window=0, difference="l1", **EXACT)).squeeze(0)
    l2 = temporal_saliency(clip, saliency_config(window=0, difference="l2", **EXACT)).squeeze(0)
    assert l1[3:6].tolist() == pytest.approx([1, 0.5, 0.5])
    assert l2[3:6].tolist() == pytest.approx([1, 0.25, 0.25])


def test_eps_keeps_weights_below_one():
    weights = temporal_saliency(clip_moving_in_frames_3_to_5(), saliency_config(window=0, eps=0.1, floor=0.0))
    assert weights.max().item() == pytest.approx(0.1 / (0.1 + 0.1))


def test_gaussian_weights_are_symmetric_and_sum_to_one():
    alpha = smoothing_weights(2, "gaussian", sigma=1.0)
    assert alpha.sum().item() == pytest.approx(1.0)
    assert torch.allclose(alpha, alpha.flip(0))
    assert alpha[2] > alpha[1] > alpha[0]
    assert torch.allclose(smoothing_weights(2, "uniform"), torch.full((5,), 0.2, dtype=torch.float64))


def test_pixel_granularity_marks_only_the_moving_region():
    clip = torch.full((1, 6, 3, 8, 8), 0.5)
    for t in range(6):  # a bright pixel walks along row 2; the rest of the frame never changes
        clip[0, t, :, 2, t] = 1.0
    weights = temporal_saliency(clip, saliency_config(window=0, granularity="pixel", **EXACT))
    assert weights.shape == (1, 6, 8, 8)
    assert weights[0, :, 5:, :].abs().max() == 0  # static rows
    assert weights[0, 0, 2, 0] == pytest.approx(1.0) and weights[0, 0, 2, 1] == pytest.approx(1.0)
    spatial = spatial_saliency_map(clip, saliency_config(window=0, eps=1e-12))
    assert spatial[0, 2, :6].min() > 0 and spatial[0, 4:].max() == 0


def test_weights_do_not_carry_gradients():
    clip = clip_moving_in_frames_3_to_5().requires_grad_(True)
    assert not temporal_saliency(clip, saliency_config()).requires_grad
