"""The one harness that trains a classifier on a clip set and tests it: the teacher, the full-data student and
every student trained on a distilled or random-real set go through `train_classifier` / `evaluate_classifier`.

Benchmark protocol: SGD with momentum and weight decay, cross-entropy on hard labels, lr x0.1 at the milestones,
and the test accuracy averaged over several passes (each with a random temporal window when stored clips are
longer than the network's input). Optionally (SRe2L-style relabelling) a frozen teacher's softened predictions on
each training batch replace the hard labels in the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tsgf.checkpoint import Checkpoint, disabled
from tsgf.errors import ConfigError, NonFiniteLossError
from tsgf.models import embed, model_input, predicting_network
from tsgf.runtime import autocast, place, progress
from tsgf.runtime import generator as make_generator
from tsgf.startup import mark_first_step

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe, filled from a validated `*.train` section (the schema holds its defaults)."""

    epochs: int
    lr: float
    momentum: float
    weight_decay: float
    lr_milestones: tuple[float, ...]  # fractions of the epochs after which lr is multiplied by lr_gamma
    lr_gamma: float
    batch_size: int
    test_passes: int
    batch_zscore: bool  # the benchmark's per-batch standardisation, at train and test time

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "TrainConfig":
        values = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        if "lr_milestones" in values:
            values["lr_milestones"] = tuple(values["lr_milestones"])
        return cls(**values)


@dataclass
class ClipSource:
    """Training or test clips: uint8 (N, T, C, H, W) (memory-mapped or in memory), the rows to use, their labels,
    and the normalisation of the set they came from; `pixels`, when set (`in_memory`), the rows' pixels already
    decoded."""

    clips: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    mean: torch.Tensor
    std: torch.Tensor
    pixels: torch.Tensor | None = None

    def read(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels in [0, 1] and labels of the given positions (indices into `rows`)."""
        labels = torch.from_numpy(self.labels[positions])
        if self.pixels is not None:
            return self.pixels[torch.from_numpy(positions)], labels
        return torch.from_numpy(np.asarray(self.clips[self.rows[positions]])).float().div_(255.0), labels

    def in_memory(self) -> "ClipSource":
        """The same source with every row's pixels decoded once, the same values `read` would give: for a small set
        that is read again at every step (a few-shot training set: 200 epochs of a few batches)."""
        return replace(self, pixels=torch.from_numpy(np.asarray(self.clips[self.rows])).float().div_(255.0))


@dataclass(frozen=True)
class SoftLabels:
    """Train on a frozen teacher's predictions at `temperature` instead of the hard labels; `batch_zscore` is the
    teacher's own input protocol (it may differ from the student's)."""

    teacher: nn.Module
    temperature: float
    batch_zscore: bool

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"the soft-label temperature must be positive, not {self.temperature}")


def soft_label_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
                    ) -> torch.Tensor:
    """KL(softmax(teacher / T) || softmax(student / T)) * T^2, averaged over the batch; the T^2 keeps the gradient
    scale independent of T (Hinton et al.)."""
    student = F.log_softmax(student_logits / temperature, dim=1)
    teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(student, teacher, reduction="batchmean", log_target=True) * temperature**2


def temporal_window(clips: torch.Tensor, frames: int, gen: torch.Generator | None) -> torch.Tensor:
    """A window of `frames` consecutive frames: random start with a generator, the centred one without."""
    slack = clips.shape[1] - frames
    if slack <= 0:
        return clips
    start = int(torch.randint(0, slack + 1, (1,), generator=gen)) if gen is not None else slack // 2
    return clips[:, start : start + frames]


def parameter_vector(model: nn.Module) -> torch.Tensor:
    """Every parameter of `model`, flattened into one detached float32 CPU vector, in `model.parameters()` order
    (`tsgf.trajectory_matching.FunctionalNetwork` reads such a vector back)."""
    return torch.cat([p.detach().float().cpu().reshape(-1) for p in model.parameters()])


def check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"{where}: the loss became {loss.item()} (not finite). Lower the learning rate "
                                 f"or check the input clips for NaN/Inf pixels")


def train_classifier(model: nn.Module, data: ClipSource, config: TrainConfig, seed: int, device: torch.device,
                     frames: int, augment: Augment | None = None, desc: str = "train", precision: str = "fp32",
                     checkpoint: Checkpoint | None = None, soft_labels: SoftLabels | None = None,
                     trajectory: list[torch.Tensor] | None = None) -> list[dict[str, float]]:
    """Train `model` in place from its current weights; returns the per-epoch curve (loss, accuracy, lr).

    With `soft_labels`, the loss is `soft_label_loss` against the teacher's logits on the very batch the student
    sees (after windowing and augmentation), predicted by `predicting_network(teacher)` on `device`; the curve's
    train_accuracy still counts hard-label hits.

    With a `checkpoint`, the state after each epoch is snapshotted when due, and a snapshot of this same run is
    resumed from: weights, optimiser, scheduler, both random streams (batch order and augmentation; dropout)
    and the curve, so the result equals an uninterrupted run's.

    With a `trajectory` list (an expert of MTT's buffer), the model's `parameter_vector` is appended to it before
    the first epoch and after every epoch, and it is part of the snapshots."""
    checkpoint = checkpoint or disabled()
    gen = make_generator(seed, 1)
    model = place(model, device).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    milestones = sorted({max(1, round(m * config.epochs)) for m in config.lr_milestones})
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones, gamma=config.lr_gamma)
    mean, std = data.mean.to(device), data.std.to(device)
    teacher = place(predicting_network(soft_labels.teacher), device) if soft_labels is not None else None
    curve: list[dict[str, float]] = []
    first_epoch = 0
    if (state := checkpoint.load()) is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])  # dropout draws from torch's global stream
        if device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        curve, first_epoch = state["curve"], state["epoch"]
        if trajectory is not None:
            trajectory[:] = state["trajectory"]
    if trajectory is not None and first_epoch == 0:
        trajectory[:] = [parameter_vector(model)]
    for epoch in progress(range(first_epoch, config.epochs), config.epochs - first_epoch, desc):
        order = torch.randperm(len(data.rows), generator=gen).numpy()
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            clips, labels = data.read(order[start : start + config.batch_size])
            clips = temporal_window(clips, frames, gen)
            if augment is not None:
                clips = augment(clips, gen)
            clips, labels = clips.to(device), labels.to(device)
            mark_first_step()
            with autocast(device, precision):
                logits = model(place(model_input(clips, mean, std, config.batch_zscore), device))
            if soft_labels is None:
                loss = F.cross_entropy(logits.float(), labels)
            else:
                # eval mode draws no random numbers, so the teacher leaves both random streams as they are
                with torch.no_grad(), autocast(device, precision):
                    targets = teacher(place(model_input(clips, mean, std, soft_labels.batch_zscore), device))
                loss = soft_label_loss(logits.float(), targets.float(), soft_labels.temperature)
            check_finite(loss, f"{desc}, epoch {epoch + 1}, step {start // config.batch_size + 1}")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            loss_sum += loss.item() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
        curve.append({"epoch": epoch + 1, "loss": loss_sum / len(order), "train_accuracy": correct / len(order),
                      "lr": optimiser.param_groups[0]["lr"]})
        schedule.step()
        if trajectory is not None:
            trajectory.append(parameter_vector(model))
        if checkpoint.due():
            checkpoint.save({"epoch": epoch + 1, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                             "schedule": schedule.state_dict(), "generator": gen.get_state(),
                             "torch_rng": torch.get_rng_state(),
                             "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                             "curve": curve, "trajectory": trajectory},
                            where=f"{desc}, after epoch {epoch + 1}/{config.epochs}")
    return curve


@torch.no_grad()
def evaluate_classifier(model: nn.Module, data: ClipSource, num_classes: int, passes: int, batch_size: int,
                        seed: int, device: torch.device, frames: int, precision: str = "fp32",
                        batch_zscore: bool = False, partners: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy and per-class accuracy, averaged over `passes` (one pass when clips have no temporal slack), and
    pair accuracy: on the clips whose class has a time-reversed partner (`partners[label]`, -1: none), the share
    whose true class scores above the partner (a tie counts half), 0.5 for a network blind to frame order; None
    when no clip has a partner."""
    model = place(model, device).eval()
    if data.clips.shape[1] <= frames:
        passes = 1  # every pass would see the same frames
    gen = make_generator(seed, 2)
    mean, std = data.mean.to(device), data.std.to(device)
    partner = np.full(len(data.labels), -1) if partners is None else np.asarray(partners)[data.labels]
    paired = partner >= 0
    per_pass_hits = np.zeros((passes, len(data.rows)), dtype=bool)
    per_pass_pair_hits = np.zeros((passes, len(data.rows)))
    for p in range(passes):
        for start in range(0, len(data.rows), batch_size):
            positions = np.arange(start, min(start + batch_size, len(data.rows)))
            clips, labels = data.read(positions)
            clips = temporal_window(clips, frames, gen if passes > 1 else None).to(device)
            with autocast(device, precision):
                logits = model(place(model_input(clips, mean, std, batch_zscore), device)).float().cpu()
            per_pass_hits[p, positions] = (logits.argmax(1) == labels).numpy()
            rows = np.flatnonzero(paired[positions])
            if len(rows):
                index = torch.from_numpy(rows)
                true = logits[index, labels[index]].numpy()
                reverse = logits[index, torch.from_numpy(partner[positions[rows]])].numpy()
                per_pass_pair_hits[p, positions[rows]] = (true > reverse) + 0.5 * (true == reverse)
    hits = per_pass_hits.mean(axis=0)
    per_class = [float(hits[data.labels == c].mean()) if (data.labels == c).any() else float("nan")
                 for c in range(num_classes)]
    pair = float(per_pass_pair_hits.mean(axis=0)[paired].mean()) if paired.any() else None
    return {"accuracy": float(hits.mean()), "per_class_accuracy": per_class, "pair_accuracy": pair,
            "num_pair_clips": int(paired.sum()), "test_passes": passes, "num_test_clips": int(len(data.rows))}


@torch.no_grad()
def embed_clips(model: nn.Module, data: ClipSource, batch_size: int, device: torch.device, frames: int,
                precision: str = "fp32", batch_zscore: bool = False) -> np.ndarray:
    """Penultimate features (N, D) float32 of every clip, in `data.rows` order: eval mode, the centred temporal
    window (deterministic, so coresets picked on them are too)."""
    model = place(model, device).eval()
    mean, std = data.mean.to(device), data.std.to(device)
    parts = []
    for start in range(0, len(data.rows), batch_size):
        clips, _ = data.read(np.arange(start, min(start + batch_size, len(data.rows))))
        clips = temporal_window(clips, frames, None).to(device)
        with autocast(device, precision):
            parts.append(embed(model, place(model_input(clips, mean, std, batch_zscore), device)).float().cpu())
    return torch.cat(parts).numpy()


__all__ = ["TrainConfig", "ClipSource", "SoftLabels", "soft_label_loss", "temporal_window", "parameter_vector",
           "check_finite", "train_classifier", "evaluate_classifier", "embed_clips"]
