"""The distillation loop: TSGF_O's floor, determinism, sharding, and a clear stop on a non-finite loss."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from tsgf.distill import (distill, distribution_matching, distribution_matching_objective,
                          optimise_batch, teacher_objective)
from tsgf.errors import NonFiniteLossError, TSGFError
from tsgf.runtime import generator
from tsgf.sharding import merge_shards, shard_plan, shard_positions
from tsgf.training import ClipSource
from schema_configs import distill_config, network_config, saliency_config

MEAN, STD = torch.full((3,), 0.5), torch.full((3,), 0.25)
BASE = distill_config(iterations=1, lr=0.01, crop_scale=(1.0, 1.0), flip=False, max_roll=0.0, tsgf_o=False,
                      saliency=saliency_config(window=0, floor=0.3, eps=1e-12))


def half_static_clips() -> torch.Tensor:
    """3 clips (one per class) that are static in frames 0-2 and change in every later frame, pixels well inside
    [0, 1] so no step is clamped."""
    gen = torch.Generator().manual_seed(0)
    clips = 0.4 + 0.2 * torch.rand(3, 1, 3, 16, 16, generator=gen).expand(3, 6, 3, 16, 16).clone()
    clips[:, 3:] = 0.4 + 0.2 * torch.rand(3, 3, 3, 16, 16, generator=gen)
    return clips


def one_step(teacher, clips, config):
    objective = teacher_objective(teacher, torch.arange(3), config, MEAN, STD)
    result, _ = optimise_batch(clips, objective, config, generator(0), "test")
    return result - clips


def test_tsgf_o_leaves_zero_saliency_frames_at_the_floor(tiny_teacher):
    clips = half_static_clips()
    plain = one_step(tiny_teacher, clips, BASE)
    filtered = one_step(tiny_teacher, clips, replace(BASE, tsgf_o=True))
    # forward differences: frames 0 and 1 see no change (zero saliency), frames 2-5 do
    assert plain.abs().min() > 0
    # Compare where Adam's first step is in its sign regime (|g| >> eps, a step of ~lr): there the step does not
    # depend on the gradient's last bits, which the CPU's kernels may sum in another order from run to run.
    settled = plain[:, :2].abs() > 0.9 * BASE.lr
    assert settled.float().mean() > 0.95
    deviation = (filtered[:, :2] - 0.3 * plain[:, :2])[settled].abs().max()
    assert deviation < 1e-7, f"floored frames moved {deviation:.3g} off 0.3 x the plain step"
    ratio = (filtered[:, 2:] / plain[:, 2:]).mean(dim=(2, 3, 4))
    assert (ratio > 0.3 + 1e-3).all() and (ratio <= 1 + 1e-6).all()


def test_a_zero_floor_freezes_static_frames_for_that_step(tiny_teacher):
    # Only for that step: once frame 2 moves, frame 1's difference to it is no longer zero.
    clips = half_static_clips()
    config = replace(BASE, tsgf_o=True, saliency=saliency_config(window=0, floor=0.0, eps=1e-12))
    moved = one_step(tiny_teacher, clips, config)
    assert moved[:, :2].abs().max() == 0 and moved[:, 3:].abs().max() > 0


def test_gradient_scaling_is_undone_by_adam_on_the_first_step(tiny_teacher):
    # Adam's first step is lr * g / (|g| + eps): a per-frame factor on g cancels except where |g| ~ eps. This is
    # why `apply_to: update` is the default: there the floored frames really move 0.3 times as far.
    clips = half_static_clips()
    plain = one_step(tiny_teacher, clips, BASE)
    on_gradient = one_step(tiny_teacher, clips, replace(BASE, tsgf_o=True, apply_to="gradient"))
    on_update = one_step(tiny_teacher, clips, replace(BASE, tsgf_o=True, apply_to="update"))
    size = lambda step: step[:, :2].abs().mean().item()  # noqa: E731  (the zero-saliency frames)
    assert size(on_gradient) / size(plain) > 0.98
    assert size(on_update) / size(plain) == pytest.approx(0.3, rel=1e-4)


def test_sgd_steps_follow_the_gradient_and_adam_steps_its_sign():
    # a quadratic with a known gradient: 0.5 * sum(w * (x - 0.5)^2) has gradient w * (x - 0.5), so SGD's first
    # step is lr * w * (x - 0.5) and Adam's is lr * sign(...) whatever w; the second SGD step adds momentum
    weights = torch.tensor([0.1, 1.0, 10.0]).view(1, 1, 3, 1, 1)
    start = torch.full((1, 2, 3, 4, 4), 0.6)
    objective = lambda x: ((0.5 * weights * (x - 0.5) ** 2).sum(), {})  # noqa: E731
    sgd = replace(BASE, optimiser="sgd", lr=0.01, momentum=0.5)
    adam = replace(BASE, optimiser="adam", lr=0.01)
    sgd_step = optimise_batch(start, objective, sgd, generator(0), "test")[0] - start
    adam_step = optimise_batch(start, objective, adam, generator(0), "test")[0] - start
    torch.testing.assert_close(sgd_step, (-0.01 * weights * 0.1).expand_as(start))
    torch.testing.assert_close(adam_step, torch.full_like(start, -0.01), rtol=0, atol=1e-6)
    # two steps at lr 0.01 then 0.005 (cosine over 2 iterations): v2 = 0.5 g1 + g2, x2 = x1 - 0.005 v2
    two = optimise_batch(start, objective, replace(sgd, iterations=2), generator(0), "test")[0]
    g1 = weights * 0.1
    x1 = 0.6 - 0.01 * g1
    expected = x1 - 0.005 * (0.5 * g1 + weights * (x1 - 0.5))
    torch.testing.assert_close(two, expected.expand_as(start))


def run(teacher, seed, ipc_per_job=0, **changes):
    """Distil 2 clips per class of 3 classes, as one job or as shards merged back together."""
    config = replace(BASE, iterations=3, max_roll=0.1, crop_scale=(0.7, 1.0), tsgf_o=True, **changes)
    init = torch.rand(6, 6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    shards = shard_plan(3, 2, config.classes_per_batch, ipc_per_job)
    results = [distill(teacher, init[shard_positions(shard, 3, 2, config.classes_per_batch)], 3, 2, config, seed,
                       torch.device("cpu"), MEAN, STD, shard) for shard in shards]
    return merge_shards(results, 6)


def test_same_config_and_seed_give_bit_identical_clips(tiny_teacher):
    first, second = run(tiny_teacher, seed=0), run(tiny_teacher, seed=0)
    assert first.clips.dtype == np.uint8 and first.clips.shape == (6, 6, 3, 16, 16)
    assert np.array_equal(first.clips, second.clips)
    assert not np.array_equal(first.clips, run(tiny_teacher, seed=1).clips)


def test_merged_shards_equal_an_unsharded_run_bit_for_bit(tiny_teacher):
    for classes_per_batch in (0, 2):
        whole = run(tiny_teacher, seed=0, classes_per_batch=classes_per_batch)
        sharded = run(tiny_teacher, seed=0, ipc_per_job=1, classes_per_batch=classes_per_batch)
        assert np.array_equal(whole.clips, sharded.clips) and np.array_equal(whole.saliency, sharded.saliency)
        assert [(r["ipc_index"], r["class_group"], r["loss"]) for r in whole.curve] == [
            (r["ipc_index"], r["class_group"], r["loss"]) for r in sharded.curve]
    # the batch composition is part of the method: other groups, other clips
    assert not np.array_equal(run(tiny_teacher, seed=0).clips, run(tiny_teacher, seed=0, classes_per_batch=2).clips)


def test_merging_refuses_missing_or_repeated_shards(tiny_teacher):
    config = replace(BASE, tsgf_o=True)
    shard = shard_plan(3, 2, 0, 1)[0]
    part = distill(tiny_teacher, torch.rand(3, 6, 3, 16, 16), 3, 2, config, 0, torch.device("cpu"), MEAN, STD, shard)
    with pytest.raises(TSGFError, match="not 0..5 once each"):
        merge_shards([part, part], 6)


def test_noise_initialisation_ignores_the_real_clips(tiny_teacher):
    result = run(tiny_teacher, seed=0, init="noise")
    assert result.saliency.shape == (6, 6)
    assert not np.array_equal(result.clips, run(tiny_teacher, seed=0).clips)


def test_a_nan_loss_stops_with_the_iteration(tiny_teacher):
    clips = half_static_clips()
    clips[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"iteration 1\b.*not finite"):
        one_step(tiny_teacher, clips, BASE)


def _real_source(clips: torch.Tensor, labels: list[int]) -> ClipSource:
    stored = (clips * 255).round().to(torch.uint8).numpy()
    return ClipSource(stored, np.arange(len(stored)), np.array(labels), MEAN, STD)


DM_NETWORK = network_config(width=4, depth=2, kernel=(3, 3, 3), spatial_strides=(2, 1), dropout=0.0)
NO_AUGMENT = replace(BASE, iterations=30, lr=0.05)


def test_the_dm_loss_is_zero_for_identical_sets():
    clips = (torch.rand(6, 6, 3, 16, 16, generator=generator(1)) * 255).round() / 255
    labels = [0, 0, 1, 1, 2, 2]
    real = _real_source(clips, labels)
    objective = distribution_matching_objective(real, torch.tensor(labels), DM_NETWORK, 3, (6, 3, 16, 16),
                                                NO_AUGMENT, real_per_class=2, scale_by_ipc=False, gen=generator(0))
    same, _ = objective(clips)
    other, _ = objective(clips.flip(0))  # every class gets another class's clips
    assert same.item() == pytest.approx(0.0, abs=1e-10)
    assert other.item() > 1e-4


def test_scaling_the_dm_loss_by_ipc_multiplies_each_class_term_by_its_clip_count():
    clips = torch.rand(6, 6, 3, 16, 16, generator=generator(1))
    labels = torch.tensor([0, 0, 0, 1, 1, 2])  # 3, 2 and 1 synthetic clips
    real = _real_source(torch.rand(6, 6, 3, 16, 16, generator=generator(2)), [0, 0, 1, 1, 2, 2])

    def per_class_losses(scale_by_ipc: bool) -> list[float]:
        # one class at a time (the objective sums the classes its labels name), same network and real batch
        terms = []
        for label in range(3):
            only = labels == label
            objective = distribution_matching_objective(real, labels[only], DM_NETWORK, 3, (6, 3, 16, 16),
                                                        NO_AUGMENT, 2, scale_by_ipc, generator(0))
            terms.append(objective(clips[only])[0].item())
        return terms

    plain, scaled = per_class_losses(False), per_class_losses(True)
    assert all(term > 1e-6 for term in plain)
    assert scaled == pytest.approx([3 * plain[0], 2 * plain[1], plain[2]], rel=1e-6)


def test_distribution_matching_lowers_its_loss_and_is_deterministic():
    # three classes of different brightness; the synthetic clips start from uniform noise
    brightness = torch.tensor([0.2, 0.5, 0.8]).repeat_interleave(4).view(12, 1, 1, 1, 1)
    real_clips = brightness + 0.1 * torch.rand(12, 6, 3, 16, 16, generator=generator(2))
    labels = [0] * 4 + [1] * 4 + [2] * 4
    real = _real_source(real_clips, labels)
    init = torch.rand(6, 6, 3, 16, 16, generator=generator(3))  # IPC 2, class-major
    runs = [distribution_matching(init, 3, 2, real, DM_NETWORK, NO_AUGMENT, 4, False, seed=0,
                                  device=torch.device("cpu"))
            for _ in range(2)]
    assert np.array_equal(runs[0].clips, runs[1].clips)
    assert runs[0].clips.shape == (6, 6, 3, 16, 16) and (runs[0].saliency == 1).all()

    def mean_loss(clips: torch.Tensor) -> float:  # the same 10 random networks and real batches for both
        objective = distribution_matching_objective(real, torch.tensor([0, 0, 1, 1, 2, 2]), DM_NETWORK, 3,
                                                    (6, 3, 16, 16), NO_AUGMENT, 4, False, generator(99))
        return float(np.mean([objective(clips)[0].item() for _ in range(10)]))

    assert mean_loss(torch.from_numpy(runs[0].clips).float() / 255) < 0.5 * mean_loss(init)
