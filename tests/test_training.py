"""The one training/evaluation harness, and the benchmark network's size."""

import math

import numpy as np
import pytest
import torch

from tsgf.checkpoint import Checkpoint
from tsgf.errors import ConfigError, NonFiniteLossError
from tsgf.models import build_network, count_parameters, embed, model_input
from tsgf.training import (ClipSource, SoftLabels, embed_clips, evaluate_classifier, soft_label_loss,
                           train_classifier)
from schema_configs import network_config, train_config

CPU = torch.device("cpu")
SMALL = network_config(width=4, depth=2, kernel=(3, 3, 3), spatial_strides=(2, 1))


def separable_source(per_class: int = 6) -> ClipSource:
    """Class 0: dark clips; class 1: bright clips. Trivially separable from any pixel."""
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, size=(per_class, 4, 3, 16, 16))
    bright = rng.integers(190, 255, size=(per_class, 4, 3, 16, 16))
    clips = np.concatenate([dark, bright]).astype(np.uint8)
    labels = np.repeat([0, 1], per_class)
    return ClipSource(clips, np.arange(len(clips)), labels, torch.full((3,), 0.5), torch.full((3,), 0.3))


def test_the_benchmark_convnet3d_has_its_published_size():
    benchmark = network_config(width=64, kernel=(3, 7, 7), spatial_strides=(2, 2, 2))  # as in config/paper/
    model = build_network(benchmark, 50, (16, 3, 112, 112))
    assert count_parameters(model) == pytest.approx(3.65e6, rel=0.01)
    assert model(torch.zeros(1, 3, 16, 112, 112)).shape == (1, 50)


def test_harness_reaches_100_percent_on_a_trivially_separable_set():
    torch.manual_seed(0)
    model = build_network(SMALL, 2, (4, 3, 16, 16))
    data = separable_source()
    curve = train_classifier(model, data, train_config(epochs=15, lr=0.05, batch_size=4), 0, CPU, frames=4)
    result = evaluate_classifier(model, separable_source(per_class=3), 2, passes=3, batch_size=8, seed=0,
                                 device=CPU, frames=4)
    assert result["accuracy"] == 1.0 and result["per_class_accuracy"] == [1.0, 1.0]
    assert curve[-1]["loss"] < curve[0]["loss"]
    assert result["test_passes"] == 1  # clips have no temporal slack: one pass sees everything


def test_a_source_held_in_memory_reads_the_same_values_and_trains_the_same_student():
    source = separable_source()
    held = source.in_memory()
    positions = np.array([5, 0, 11, 3])
    for (clips, labels), (held_clips, held_labels) in [(source.read(positions), held.read(positions))]:
        assert torch.equal(clips, held_clips) and torch.equal(labels, held_labels)
    weights = []
    for data in (source, held):
        torch.manual_seed(3)
        model = build_network(SMALL, 2, (4, 3, 16, 16))
        train_classifier(model, data, train_config(epochs=2, lr=0.05, batch_size=4), 3, CPU, 4)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_training_is_deterministic():
    weights = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_network(SMALL, 2, (4, 3, 16, 16))
        train_classifier(model, separable_source(), train_config(epochs=2, lr=0.05, batch_size=4), 3, CPU, 4)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_divergence_stops_with_the_epoch():
    torch.manual_seed(0)
    model = build_network(SMALL, 2, (4, 3, 16, 16))
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+, step \d+: the loss became"):
        train_classifier(model, separable_source(), train_config(epochs=30, lr=1e12, batch_size=4), 0, CPU, 4)


def test_batch_zscore_standardises_the_whole_batch_and_is_off_by_default():
    from tsgf.models import model_input

    clips = torch.rand(4, 6, 3, 8, 8) * 0.5 + 0.3
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    plain, scored = model_input(clips, mean, std), model_input(clips, mean, std, batch_zscore=True)
    assert abs(float(plain.mean())) > 0.1
    assert abs(float(scored.mean())) < 1e-5 and abs(float(scored.std()) - 1) < 1e-5
    assert torch.allclose(scored, (plain - plain.mean()) / plain.std())


def swapped(data: ClipSource) -> ClipSource:
    return ClipSource(data.clips, data.rows, 1 - data.labels, data.mean, data.std)


def predictions(model: torch.nn.Module, data: ClipSource) -> torch.Tensor:
    clips, _ = data.read(np.arange(len(data.rows)))
    with torch.no_grad():
        return model.eval()(model_input(clips, data.mean, data.std)).argmax(1)


def weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([t.detach().flatten().float() for t in model.state_dict().values()])


@pytest.fixture(scope="module")
def contrary_teacher() -> torch.nn.Module:
    """A BatchNorm teacher trained to call the dark clips 1 and the bright ones 0: the opposite of the hard labels."""
    torch.manual_seed(5)
    teacher = build_network(SMALL, 2, (4, 3, 16, 16), batchnorm=True)
    train_classifier(teacher, swapped(separable_source()), train_config(epochs=15, lr=0.05, batch_size=4), 5, CPU, 4)
    assert torch.equal(predictions(teacher, separable_source()), 1 - torch.from_numpy(separable_source().labels))
    return teacher.eval()


def test_soft_label_loss_has_its_known_values():
    teacher = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    assert float(soft_label_loss(teacher.clone(), teacher, 3.0)) == pytest.approx(0.0, abs=1e-7)
    # row 0: teacher (1/2, 1/2), student (3/4, 1/4) -> KL = 1/2 ln(4/3); row 1 matches; batchmean halves the sum
    student = torch.tensor([[math.log(3.0), 0.0], [1.0, -2.0]])
    assert float(soft_label_loss(student, teacher, 1.0)) == pytest.approx(0.25 * math.log(4 / 3), rel=1e-5)
    # at T = 2 the logits are halved before the softmax and the KL is scaled by T^2 = 4
    assert float(soft_label_loss(2 * student, 2 * teacher, 2.0)) == pytest.approx(math.log(4 / 3), rel=1e-5)


def test_soft_label_loss_equals_a_manual_kl_divergence():
    torch.manual_seed(6)
    student, teacher, temperature = torch.randn(5, 4), torch.randn(5, 4), 2.5
    p, q = (teacher / temperature).softmax(1), (student / temperature).softmax(1)
    expected = (p * (p.log() - q.log())).sum() / 5 * temperature**2
    assert torch.allclose(soft_label_loss(student, teacher, temperature), expected, atol=1e-6)


def test_soft_labels_need_a_positive_temperature():
    with pytest.raises(ConfigError, match="temperature"):
        SoftLabels(torch.nn.Identity(), 0.0, batch_zscore=False)


def test_a_student_on_soft_labels_learns_the_teachers_predictions_not_the_hard_labels(contrary_teacher):
    data = separable_source()
    teacher_says = predictions(contrary_teacher, data)
    teacher_before = weights(contrary_teacher)
    torch.manual_seed(7)
    student = build_network(SMALL, 2, (4, 3, 16, 16))
    agreement_before = float((predictions(student, data) == teacher_says).float().mean())
    contrary_teacher.train()  # handed over in train mode: the harness must freeze it itself
    curve = train_classifier(student, data, train_config(epochs=15, lr=0.05, batch_size=4), 7, CPU, 4,
                             soft_labels=SoftLabels(contrary_teacher, temperature=2.0, batch_zscore=False))
    assert float((predictions(student, data) == teacher_says).float().mean()) == 1.0 > agreement_before
    assert curve[-1]["loss"] < curve[0]["loss"]
    assert curve[-1]["train_accuracy"] <= 0.1  # counted against the hard labels, which the teacher contradicts
    # frozen: it predicted in eval mode from a copy, so no step, no BatchNorm statistics, and its mode as handed over
    assert torch.equal(weights(contrary_teacher), teacher_before) and contrary_teacher.training


class Interrupted(Exception):
    pass


class InterruptedAfter(Checkpoint):
    """Snapshots every epoch and stops the run (as a kill would) right after the snapshot of epoch `epoch`."""

    def __init__(self, path, epoch: int) -> None:
        super().__init__(path, 0.0, {"run": "soft"})
        self.epoch = epoch

    def save(self, state, where: str) -> None:
        super().save(state, where)
        if state["epoch"] == self.epoch:
            raise Interrupted


def test_soft_label_training_resumes_to_the_same_weights(contrary_teacher, tmp_path):
    config = train_config(epochs=4, lr=0.05, batch_size=4)
    soft = SoftLabels(contrary_teacher, temperature=2.0, batch_zscore=False)
    torch.manual_seed(8)
    uninterrupted = build_network(SMALL, 2, (4, 3, 16, 16))
    expected = train_classifier(uninterrupted, separable_source(), config, 8, CPU, 4, soft_labels=soft)
    torch.manual_seed(8)
    with pytest.raises(Interrupted):
        train_classifier(build_network(SMALL, 2, (4, 3, 16, 16)), separable_source(), config, 8, CPU, 4,
                         checkpoint=InterruptedAfter(tmp_path / "run.ckpt", 2), soft_labels=soft)
    torch.manual_seed(99)  # the resumed run must take everything from the snapshot, not from a lucky seed
    resumed = build_network(SMALL, 2, (4, 3, 16, 16))
    curve = train_classifier(resumed, separable_source(), config, 8, CPU, 4,
                             checkpoint=Checkpoint(tmp_path / "run.ckpt", 0.0, {"run": "soft"}), soft_labels=soft)
    assert curve == expected
    assert torch.equal(weights(resumed), weights(uninterrupted))


@pytest.mark.parametrize("arch", ["convnet3d", "r3d_18"])
def test_embed_clips_equals_embed_on_the_centred_window_in_row_order(arch):
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, size=(9, 8, 3, 24, 24)).astype(np.uint8)
    rows = np.array([7, 2, 5, 0, 8, 3, 1])
    data = ClipSource(clips, rows, np.zeros(len(rows), dtype=np.int64), torch.full((3,), 0.4),
                      torch.full((3,), 0.25))
    torch.manual_seed(9)
    config = SMALL if arch == "convnet3d" else network_config(arch=arch)
    model = build_network(config, 3, (6, 3, 24, 24))
    model(torch.randn(4, 3, 6, 24, 24))  # train-mode pass: eval-mode features then differ from train-mode ones
    features = embed_clips(model, data, batch_size=3, device=CPU, frames=6)
    assert not model.training
    centred = torch.from_numpy(clips[rows][:, 1:7]).float() / 255.0
    with torch.no_grad():
        expected = embed(model.eval(), model_input(centred, data.mean, data.std))
    assert features.dtype == np.float32 and features.shape == (7, expected.shape[1])
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-4, atol=1e-5)


class _FirstLogitIsBrightness(torch.nn.Module):
    """Logits (mean input, 0, 0, 0): class 0 wins on bright clips, and a tie is possible only at zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x.mean(dim=(1, 2, 3, 4))
        return torch.stack([first, *[torch.zeros_like(first)] * 3], dim=1)


class _ZeroLogits(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), 4)


def test_pair_accuracy_ranks_the_true_class_against_its_reversed_partner_only():
    # classes 0 and 1 are a pair, 2 and 3 have none; clip values 200 / 50 / 230 / 20 with labels 0 / 1 / 1 / 2
    values, labels = [200, 50, 230, 20], np.array([0, 1, 1, 2])
    clips = np.stack([np.full((4, 3, 8, 8), v, dtype=np.uint8) for v in values])
    data = ClipSource(clips, np.arange(4), labels, torch.full((3,), 0.5), torch.full((3,), 0.25))
    result = evaluate_classifier(_FirstLogitIsBrightness(), data, 4, passes=1, batch_size=3, seed=0, device=CPU,
                                 frames=4, partners=np.array([1, 0, -1, -1]))
    # bright class 0 beats class 1: hit; dark class 1 beats class 0: hit; bright class 1 loses to class 0: miss
    assert result["pair_accuracy"] == pytest.approx(2 / 3) and result["num_pair_clips"] == 3
    assert result["accuracy"] == 0.5  # argmax: 0 on bright clips, 1 (the first of the zeros) on dark ones
    blind = evaluate_classifier(_ZeroLogits(), data, 4, 1, 3, 0, CPU, 4, partners=np.array([1, 0, -1, -1]))
    assert blind["pair_accuracy"] == 0.5  # every comparison a tie
    assert evaluate_classifier(_FirstLogitIsBrightness(), data, 4, 1, 3, 0, CPU, 4)["pair_accuracy"] is None


def test_shuffled_frames_are_each_clips_own_frames_in_an_order_that_forgets_time():
    from tsgf.augment import shuffle_frames

    clips = torch.arange(2 * 6, dtype=torch.float32).reshape(2, 6, 1, 1, 1).expand(2, 6, 3, 4, 4).clone()
    shuffled = shuffle_frames(clips, torch.Generator().manual_seed(0))
    for original, mixed in zip(clips, shuffled):
        assert sorted(mixed[:, 0, 0, 0].tolist()) == original[:, 0, 0, 0].tolist()  # a permutation of its frames
    assert not torch.equal(shuffled, clips)
    assert torch.equal(shuffled, shuffle_frames(clips, torch.Generator().manual_seed(0)))  # seeded
