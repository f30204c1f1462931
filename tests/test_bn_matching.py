"""BatchNorm-statistics matching: zero at the running statistics, its known value elsewhere."""

import pytest
import torch
from torch import nn

from tsgf.bn_matching import BatchNormStatistics, bn_matching_loss


def single_bn_model(channels: int = 2) -> nn.Module:
    return nn.Sequential(nn.BatchNorm3d(channels)).eval()


def batch_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(dim=(0, 2, 3, 4)), x.var(dim=(0, 2, 3, 4), unbiased=False)


def test_loss_is_zero_when_batch_statistics_equal_running_ones():
    x = torch.randn(4, 2, 3, 5, 5) * 2 + 1
    model = single_bn_model()
    model[0].running_mean, model[0].running_var = batch_moments(x)
    with BatchNormStatistics(model) as stats:
        model(x)
    assert bn_matching_loss(stats, first_layer_multiplier=10.0).item() == pytest.approx(0.0, abs=1e-5)


def test_loss_has_its_known_value_and_is_positive_otherwise():
    x = torch.randn(4, 2, 3, 5, 5)
    model = single_bn_model()
    mean, var = batch_moments(x)
    model[0].running_mean = mean + torch.tensor([3.0, 4.0])  # ||mu - RM|| = 5
    model[0].running_var = var + torch.tensor([0.0, 1.0])  # ||var - RV|| = 1
    with BatchNormStatistics(model) as stats:
        model(x)
    assert bn_matching_loss(stats, first_layer_multiplier=1.0).item() == pytest.approx(6.0, rel=1e-5)
    assert bn_matching_loss(stats, first_layer_multiplier=10.0).item() == pytest.approx(60.0, rel=1e-5)


def test_only_the_first_layer_is_multiplied(tiny_teacher):
    clips = torch.rand(3, 3, 6, 16, 16)
    with BatchNormStatistics(tiny_teacher) as stats:
        tiny_teacher(clips)
    plain = bn_matching_loss(stats, 1.0)
    boosted = bn_matching_loss(stats, 3.0)
    mean, var = stats.batch_stats[0]
    first = torch.linalg.vector_norm(mean - stats.layers[0].running_mean) + torch.linalg.vector_norm(
        var - stats.layers[0].running_var)
    assert len(stats.layers) == 2
    assert (boosted - plain).item() == pytest.approx(2 * first.item(), rel=1e-5)


def test_hooks_are_removed_on_exit(tiny_teacher):
    with BatchNormStatistics(tiny_teacher) as stats:
        pass
    assert all(not layer._forward_hooks for layer in stats.layers)


def test_a_model_without_batchnorm_is_refused():
    with pytest.raises(ValueError, match="BatchNorm3d"):
        BatchNormStatistics(nn.Sequential(nn.Conv3d(3, 3, 1)))
