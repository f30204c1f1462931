"""The one training/evaluation harness, and the benchmark network's size."""

import numpy as np
import pytest
import torch

from tsgf.errors import NonFiniteLossError
from tsgf.models import NetworkConfig, build_network, count_parameters
from tsgf.training import ClipSource, TrainConfig, evaluate_classifier, train_classifier

CPU = torch.device("cpu")
SMALL = NetworkConfig(width=4, depth=2, kernel=(3, 3, 3), spatial_strides=(2, 1))


def separable_source(per_class: int = 6) -> ClipSource:
    """Class 0: dark clips; class 1: bright clips. Trivially separable from any pixel."""
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, size=(per_class, 4, 3, 16, 16))
    bright = rng.integers(190, 255, size=(per_class, 4, 3, 16, 16))
    clips = np.concatenate([dark, bright]).astype(np.uint8)
    labels = np.repeat([0, 1], per_class)
    return ClipSource(clips, np.arange(len(clips)), labels, torch.full((3,), 0.5), torch.full((3,), 0.3))


def test_the_benchmark_convnet3d_has_its_published_size():
    model = build_network(NetworkConfig(), 50, (16, 3, 112, 112))
    assert count_parameters(model) == pytest.approx(3.65e6, rel=0.01)
    assert model(torch.zeros(1, 3, 16, 112, 112)).shape == (1, 50)


def test_harness_reaches_100_percent_on_a_trivially_separable_set():
    torch.manual_seed(0)
    model = build_network(SMALL, 2, (4, 3, 16, 16))
    data = separable_source()
    curve = train_classifier(model, data, TrainConfig(epochs=15, lr=0.05, batch_size=4), 0, CPU, frames=4)
    result = evaluate_classifier(model, separable_source(per_class=3), 2, passes=3, batch_size=8, seed=0,
                                 device=CPU, frames=4)
    assert result["accuracy"] == 1.0 and result["per_class_accuracy"] == [1.0, 1.0]
    assert curve[-1]["loss"] < curve[0]["loss"]
    assert result["test_passes"] == 1  # clips have no temporal slack: one pass sees everything


def test_training_is_deterministic():
    weights = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_network(SMALL, 2, (4, 3, 16, 16))
        train_classifier(model, separable_source(), TrainConfig(epochs=2, lr=0.05, batch_size=4), 3, CPU, 4)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_divergence_stops_with_the_epoch():
    torch.manual_seed(0)
    model = build_network(SMALL, 2, (4, 3, 16, 16))
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+, step \d+: the loss became"):
        train_classifier(model, separable_source(), TrainConfig(epochs=30, lr=1e12, batch_size=4), 0, CPU, 4)


def test_batch_zscore_standardises_the_whole_batch_and_is_off_by_default():
    from tsgf.models import model_input

    clips = torch.rand(4, 6, 3, 8, 8) * 0.5 + 0.3
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    plain, scored = model_input(clips, mean, std), model_input(clips, mean, std, batch_zscore=True)
    assert abs(float(plain.mean())) > 0.1
    assert abs(float(scored.mean())) < 1e-5 and abs(float(scored.std()) - 1) < 1e-5
    assert torch.allclose(scored, (plain - plain.mean()) / plain.std())
