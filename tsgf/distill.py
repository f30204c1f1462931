"""Uni-level synthesis of the distilled set against a frozen BatchNorm teacher, with TSGF_O.

For each IPC index and class group, a class-diverse batch (one clip per class of the group) is optimised on its
own, SRe2L-style (tsgf/sharding.py splits these batches into jobs):
    L = CE(teacher(aug(x)), y) + lambda_BN * sum_l m_l (||mu_l - RM_l|| + ||var_l - RV_l||)
with Adam (or SGD with momentum: `optimiser`) and a cosine learning rate, the same random crop/flip/roll on every
frame of a clip, and pixels clamped to [0, 1] after each step. TSGF_O scales each step by the temporal saliency of
the current clips (detached), so near-static frames move less than high-motion ones. With TSGF_O off this is SRe2L.

TSGF_O's `apply_to` knob: Adam divides each coordinate's gradient by its own running RMS, so a per-frame factor
that is constant over iterations cancels out of the update when it is applied to the gradient ("gradient", the
literal reading of the paper); "update" (the default) scales the Adam step itself, which is what makes the
filter act. Both are measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tsgf.augment import random_clip_augment
from tsgf.bn_matching import BatchNormStatistics, bn_matching_loss
from tsgf.checkpoint import Checkpoint, disabled
from tsgf.errors import TSGFError
from tsgf.models import NetworkConfig, build_network, embed, model_input
from tsgf.runtime import autocast, place, progress
from tsgf.runtime import generator as make_generator
from tsgf.saliency import SaliencyConfig, expand_to_clips, temporal_saliency
from tsgf.sharding import DistillResult, Shard, class_groups, shard_positions
from tsgf.startup import mark_first_step
from tsgf.training import ClipSource, check_finite


@dataclass(frozen=True)
class DistillConfig:
    """The synthesis loop's settings, filled from validated params (the schema holds their defaults); the
    filter's three fields are None when TSGF_O is off."""

    iterations: int
    optimiser: str  # "adam" or "sgd" (with momentum)
    lr: float
    betas: tuple[float, float]  # Adam's
    momentum: float  # SGD's
    bn_weight: float | None  # lambda_BN; None for DM, which has no teacher
    first_bn_multiplier: float | None
    init: str  # "real": the random real clips of the same seed; "noise": uniform noise
    classes_per_batch: int  # each optimised batch holds one clip per class of a group this size (0: all)
    crop_scale: tuple[float, float]
    flip: bool
    max_roll: float
    tsgf_o: bool
    apply_to: str | None  # TSGF_O scales the Adam "update" or the "gradient"
    saliency_every: int | None  # recompute the saliency weights every N iterations
    saliency: SaliencyConfig | None
    log_every: int

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "DistillConfig":
        """From the workflow's params; SRe2L's carry no filter keys (`tsgf_o: {enabled: false}`, no `saliency`),
        so tuning the filter never reruns it."""
        augment, tsgf_o = params["augment"], params["tsgf_o"]
        filter_keys = dict(apply_to=None, saliency_every=None, saliency=None)
        if tsgf_o["enabled"]:
            filter_keys = dict(apply_to=tsgf_o["apply_to"], saliency_every=tsgf_o["recompute_every"],
                               saliency=SaliencyConfig.from_dict(params["saliency"]))
        return cls(**_optimiser_keys(params),
                   bn_weight=params["bn_weight"], first_bn_multiplier=params["first_bn_multiplier"],
                   init=params["init"], classes_per_batch=params["classes_per_batch"],
                   crop_scale=tuple(augment["crop_scale"]), flip=augment["flip"],
                   max_roll=augment["max_roll"], tsgf_o=tsgf_o["enabled"], log_every=params["log_every"],
                   **filter_keys)

    @classmethod
    def without_teacher(cls, params: dict[str, Any]) -> "DistillConfig":
        """The synthesis loop's settings for a method with no teacher, DM, MTT or a stage of VDSD (params: its
        config section with the distillation augmentation): no BN matching, no TSGF_O."""
        augment = params["augment"]
        return cls(**_optimiser_keys(params), bn_weight=None,
                   first_bn_multiplier=None, init=params["init"], classes_per_batch=0,
                   crop_scale=tuple(augment["crop_scale"]), flip=augment["flip"], max_roll=augment["max_roll"],
                   tsgf_o=False, apply_to=None, saliency_every=None, saliency=None, log_every=params["log_every"])


def _optimiser_keys(params: dict[str, Any]) -> dict[str, Any]:
    """The step settings DM's and SRe2L's sections spell alike: length, optimiser and its hyperparameters."""
    return dict(iterations=params["iterations"], optimiser=params["optimiser"], lr=params["lr"],
                betas=tuple(params["betas"]), momentum=params["momentum"])


def pixel_optimiser(synthetic: torch.Tensor, config: DistillConfig, extra_groups: Sequence[dict[str, Any]] = ()
                    ) -> torch.optim.Optimizer:
    """The optimiser of the synthesised tensor (lr `config.lr`) and of any `extra_groups` (torch parameter groups,
    each with its own "lr"): what else a method learns with its clips, such as MTT's step size. Every group keeps its
    starting lr as "base_lr", which the synthesis loop's cosine decay scales."""
    groups = [{"params": [synthetic], "lr": config.lr}, *({**group} for group in extra_groups)]
    for group in groups:
        group["base_lr"] = group["lr"]
    if config.optimiser == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    return torch.optim.Adam(groups, lr=config.lr, betas=config.betas)


def to_uint8(clips: torch.Tensor) -> np.ndarray:
    return (clips.detach().cpu() * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()


# what a synthesis loop minimises: the augmented clips (N, T, C, H, W) in [0, 1] -> (loss, named parts)
Objective = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def teacher_objective(teacher: nn.Module, labels: torch.Tensor, config: DistillConfig, mean: torch.Tensor,
                      std: torch.Tensor, precision: str = "fp32") -> Objective:
    """SRe2L's recover loss against the frozen BatchNorm teacher: CE + lambda_BN * BN-statistics matching."""

    def objective(augmented: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # only the teacher's forward pass may run in bf16: the BN statistics hook and both losses are fp32
        with BatchNormStatistics(teacher) as statistics, autocast(augmented.device, precision):
            logits = teacher(place(model_input(augmented, mean, std), augmented.device))
        ce = F.cross_entropy(logits.float(), labels)
        bn = bn_matching_loss(statistics, config.first_bn_multiplier)
        return ce + config.bn_weight * bn, {"ce": ce, "bn": bn}

    return objective


def optimise_batch(init: torch.Tensor, objective: Objective, config: DistillConfig, gen: torch.Generator,
                   desc: str, checkpoint: Checkpoint | None = None, job_state: dict[str, Any] | None = None,
                   resume: dict[str, Any] | None = None, render: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   pixels: bool = True, extra_groups: Sequence[dict[str, Any]] = ()) -> tuple[torch.Tensor, list]:
    """Optimise one batch of clips (N, T, C, H, W) in [0, 1] to minimise `objective` of their augmented copies:
    the one synthesis loop of every optimised training set (SRe2L, TSGF, DM, MTT and both stages of VDSD).

    With `render`, the objective sees `render(tensor)` instead of the optimised tensor itself (VDSD: its stills
    shown in every frame, or its dynamic memory through the integrator); the tensor is clamped to [0, 1] after each
    step when it holds `pixels`. `extra_groups` are parameter groups learnt alongside (`pixel_optimiser`); their
    tensors are updated in place and snapshotted with the batch.

    When `checkpoint` is due after an iteration, it saves `job_state` (the caller's progress over batches) with
    this batch's state under "batch"; `resume` is such a "batch" state to continue from."""
    checkpoint = checkpoint or disabled()
    synthetic = init.clone().requires_grad_(True)
    optimiser = pixel_optimiser(synthetic, config, extra_groups)
    learnt_alongside = [tensor for group in extra_groups for tensor in group["params"]]
    weights = torch.ones((), device=init.device)
    curve: list[dict[str, float]] = []
    first_iteration = 0
    if resume is not None:
        with torch.no_grad():
            synthetic.copy_(resume["synthetic"])
            for tensor, saved in zip(learnt_alongside, resume.get("extra", []), strict=True):
                tensor.copy_(saved)
        optimiser.load_state_dict(resume["optimiser"])
        gen.set_state(resume["generator"])
        weights, curve, first_iteration = resume["weights"].to(init.device), resume["curve"], resume["iteration"]
    for iteration in progress(range(first_iteration, config.iterations), config.iterations - first_iteration, desc):
        for group in optimiser.param_groups:  # cosine decay to 0
            group["lr"] = 0.5 * group["base_lr"] * (1 + math.cos(math.pi * iteration / config.iterations))
        mark_first_step()
        clips = synthetic if render is None else render(synthetic)
        augmented = random_clip_augment(clips, gen, config.crop_scale, config.flip, config.max_roll)
        loss, parts = objective(augmented)
        check_finite(loss, f"{desc}, iteration {iteration + 1}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if config.tsgf_o:
            if iteration % config.saliency_every == 0:
                weights = expand_to_clips(temporal_saliency(synthetic, config.saliency), synthetic.shape)
            if config.apply_to == "gradient":
                synthetic.grad.mul_(weights)
            before = synthetic.detach().clone()
        optimiser.step()
        with torch.no_grad():
            if config.tsgf_o and config.apply_to == "update":
                synthetic.copy_(before + weights * (synthetic - before))
            if pixels:
                synthetic.clamp_(0.0, 1.0)
        if iteration % config.log_every == 0 or iteration == config.iterations - 1:
            curve.append({"iteration": iteration + 1, "loss": loss.item(),
                          **{name: value.item() for name, value in parts.items()},
                          "mean_weight": float(weights.mean()) if config.tsgf_o else 1.0})
        if checkpoint.due():
            batch = {"iteration": iteration + 1, "synthetic": synthetic.detach().cpu(),
                     "extra": [tensor.detach().cpu() for tensor in learnt_alongside],
                     "optimiser": optimiser.state_dict(), "generator": gen.get_state(), "weights": weights.cpu(),
                     "curve": curve}
            checkpoint.save({**(job_state or {}), "batch": batch},
                            where=f"{desc}, after iteration {iteration + 1}/{config.iterations}")
    return synthetic.detach(), curve


def distill(teacher: nn.Module, init_clips: torch.Tensor, num_classes: int, ipc: int, config: DistillConfig,
            seed: int, device: torch.device, mean: torch.Tensor, std: torch.Tensor, shard: Shard,
            precision: str = "fp32", checkpoint: Checkpoint | None = None) -> DistillResult:
    """Run the batches of `shard`. `init_clips` (in [0, 1]) are the real clips at the shard's positions
    (`shard_positions`, ascending) that the synthetic ones start from; they are ignored for init "noise".
    Each batch (IPC index i, class group g) has its own random stream, so any sharding merges into the same set.
    With a `checkpoint`, a killed run resumes at the iteration of the batch where its last snapshot was taken."""
    checkpoint = checkpoint or disabled()
    teacher = place(teacher, device).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    mean, std = mean.to(device), std.to(device)
    positions = shard_positions(shard, num_classes, ipc, config.classes_per_batch)
    local = {position: k for k, position in enumerate(positions)}
    groups = class_groups(num_classes, config.classes_per_batch)
    # what a snapshot needs besides the batch in progress: the finished batches, their clips and curves
    job_state: dict[str, Any] = {"finished": [], "output": torch.zeros_like(init_clips), "curve": []}
    in_progress = None
    if (state := checkpoint.load()) is not None:
        job_state, in_progress = {k: state[k] for k in job_state}, state["batch"]
    for index in shard.ipc_indices:
        for group in shard.groups:
            if [index, group] in job_state["finished"]:
                continue
            gen = make_generator(seed, index, group)
            members = torch.tensor([local[c * ipc + index] for c in groups[group]])
            init = init_clips[members]
            if config.init == "noise":
                init = torch.rand(init.shape, generator=gen)
            labels = torch.tensor(groups[group], device=device)
            objective = teacher_objective(teacher, labels, config, mean, std, precision)
            clips, batch_curve = optimise_batch(init.to(device), objective, config, gen,
                                                desc=f"distil IPC index {index + 1}/{ipc}, class group {group + 1}",
                                                checkpoint=checkpoint, job_state=job_state, resume=in_progress)
            in_progress = None
            job_state["output"][members] = clips.cpu()
            job_state["curve"] += [{"ipc_index": index, "class_group": group, **row} for row in batch_curve]
            job_state["finished"].append([index, group])
    stored = to_uint8(job_state["output"])
    if config.tsgf_o:  # the filter's per-frame weights of what is stored, whatever granularity TSGF_O used
        record = replace(config.saliency, granularity="frame")
        saliency = temporal_saliency(torch.from_numpy(stored).float() / 255.0, record).numpy()
    else:
        saliency = np.ones(stored.shape[:2], dtype=np.float32)
    return DistillResult(np.array(positions), stored, job_state["curve"], saliency, checkpoint.elapsed_seconds())


def distribution_matching_objective(real: ClipSource, labels: torch.Tensor, network: NetworkConfig,
                                    num_classes: int, clip_shape: tuple[int, int, int, int], config: DistillConfig,
                                    real_per_class: int, scale_by_ipc: bool, gen: torch.Generator,
                                    precision: str = "fp32") -> Objective:
    """DM (Zhao & Bilen 2023): at each call a freshly initialised network of the student's architecture embeds a
    random batch of real clips per class and the synthetic clips; the loss is the sum over classes of the squared
    distance between the mean embeddings. Real clips get the same kind of clip-consistent augmentation.
    `scale_by_ipc` multiplies each class's term by its number of synthetic clips: a clip's share of the mean's
    gradient falls as 1/IPC, so without it a step size tuned at IPC 1 barely moves the clips of a larger set."""
    by_class = {int(c): np.flatnonzero(real.labels == c) for c in labels.unique()}
    for label, members in by_class.items():
        if len(members) == 0:
            raise TSGFError(f"distribution matching: class {label} has no real training clips to match")

    def objective(augmented: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = augmented.device
        with torch.random.fork_rng(devices=[]):  # the network's initialisation draws from our stream only
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            net = place(build_network(network, num_classes, clip_shape), device).eval()
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        mean, std = real.mean.to(device), real.std.to(device)
        loss = torch.zeros((), device=device)
        for label, members in by_class.items():
            count = min(real_per_class, len(members))
            picked = members[torch.randperm(len(members), generator=gen)[:count].numpy()]
            clips, _ = real.read(picked)
            clips = random_clip_augment(clips, gen, config.crop_scale, config.flip, config.max_roll).to(device)
            with torch.no_grad(), autocast(device, precision):
                real_mean = embed(net, place(model_input(clips, mean, std), device)).float().mean(0)
            with autocast(device, precision):
                synthetic = embed(net, place(model_input(augmented[labels == label], mean, std), device))
            distance = (real_mean - synthetic.float().mean(0)).pow(2).sum()
            loss = loss + distance * (len(synthetic) if scale_by_ipc else 1)
        return loss, {}

    return objective


def distribution_matching(init_clips: torch.Tensor, num_classes: int, ipc: int, real: ClipSource,
                          network: NetworkConfig, config: DistillConfig, real_per_class: int,
                          scale_by_ipc: bool, seed: int, device: torch.device, precision: str = "fp32",
                          checkpoint: Checkpoint | None = None) -> DistillResult:
    """A whole DM set (class-major, `ipc` clips per class) optimised as one batch in the shared synthesis loop:
    DM matches each class's mean embedding with all of its synthetic clips together, so the set is not split
    into independent per-IPC batches. `init_clips` are the random real clips of the same seed ("real" init)."""
    checkpoint = checkpoint or disabled()
    gen = make_generator(seed, ipc, 1)
    labels = torch.arange(num_classes).repeat_interleave(ipc)
    init = init_clips if config.init == "real" else torch.rand(init_clips.shape, generator=gen)
    objective = distribution_matching_objective(real, labels.to(device), network, num_classes,
                                                tuple(init_clips.shape[1:]), config, real_per_class, scale_by_ipc,
                                                gen, precision)
    state = checkpoint.load()
    clips, curve = optimise_batch(init.to(device), objective, config, gen, desc=f"DM, IPC {ipc}",
                                  checkpoint=checkpoint, job_state={}, resume=state["batch"] if state else None)
    stored = to_uint8(clips)
    return DistillResult(np.arange(len(stored)), stored, curve, np.ones(stored.shape[:2], dtype=np.float32),
                         checkpoint.elapsed_seconds())


__all__ = ["DistillConfig", "Objective", "to_uint8", "teacher_objective", "optimise_batch", "distill",
           "distribution_matching_objective", "distribution_matching"]
