"""The bi-level baselines: matching training trajectories (MTT, Cazenavette et al., CVPR 2022) and its
static-dynamic variant for videos (VDSD, Wang et al., "Dancing with Still Images", CVPR 2024).

Expert trajectories: networks of the student's architecture trained on the real train split by the one training
harness, their parameters recorded before the first epoch and after every epoch (`train_classifier(...,
trajectory=...)`), saved a few experts per job (`ExpertBuffer` reads them back).

MTT's objective: draw an expert and a start epoch s < `max_start_epoch`; a student starting from the expert's
parameters theta_s takes `syn_steps` SGD steps on the (augmented) synthetic clips with a learnable step size alpha,
ending at theta_hat; the loss is the published normalised parameter distance

    ||theta_hat - theta_{s+M}||^2 / ||theta_s - theta_{s+M}||^2        (M = `expert_epochs`)

back-propagated through the unrolled steps into the clips and alpha. The inner loop is functional
(`torch.func.functional_call` on one flat parameter vector), so its memory grows with `syn_steps` as the unrolled
graph must and no more. Clips and alpha are learnt in the one synthesis loop (`tsgf.distill.optimise_batch`).

VDSD on top of it: a static memory (one still image per clip, shown in every frame) is distilled first, by the
same trajectory matching; then, with the stills frozen, a dynamic memory (a few low-resolution frames per clip)
and an integrator network shared by the set learn to add motion back: clip = clamp(still + integrator(still,
upsampled dynamic memory)). The stored set is the rendered clips, so every student trains on it like on any set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from tsgf.checkpoint import Checkpoint, disabled
from tsgf.distill import DistillConfig, Objective, optimise_batch, to_uint8
from tsgf.errors import TSGFError
from tsgf.models import model_input
from tsgf.runtime import generator as make_generator
from tsgf.runtime import place
from tsgf.sharding import DistillResult


@dataclass(frozen=True)
class MatchingConfig:
    """MTT's inner loop, filled from the validated `mtt` section (the schema holds the defaults)."""

    syn_steps: int  # unrolled student steps per iteration
    expert_epochs: int  # M: the target is the expert M epochs after the start
    max_start_epoch: int  # start epochs are drawn from 0 .. max_start_epoch - 1
    syn_lr: float  # the learnable step size's starting value
    lr_lr: float  # the step size's own learning rate
    batch_syn: int  # synthetic clips per unrolled step (0: all of them)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "MatchingConfig":
        return cls(**{name: params[name] for name in cls.__dataclass_fields__})


class FunctionalNetwork:
    """A network evaluated at any flat parameter vector (`tsgf.training.parameter_vector` order), so the unrolled
    student steps are plain differentiable functions of the vector."""

    def __init__(self, template: nn.Module) -> None:
        self.template = template.train()
        self.names = [name for name, _ in template.named_parameters()]
        self.shapes = [p.shape for p in template.parameters()]
        self.sizes = [p.numel() for p in template.parameters()]

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def __call__(self, flat: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(flat, self.sizes)
        weights = {name: piece.view(shape) for name, piece, shape in zip(self.names, pieces, self.shapes)}
        return functional_call(self.template, weights, (inputs,))


def trajectory_matching_loss(start: torch.Tensor, target: torch.Tensor, reached: torch.Tensor) -> torch.Tensor:
    """MTT's normalised parameter distance: ||reached - target||^2 / ||start - target||^2 (0 when the synthetic
    steps land on the expert's later parameters; 1 when they do not move)."""
    return (reached - target).pow(2).sum() / (start - target).pow(2).sum()


def unroll_student(network: FunctionalNetwork, start: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor,
                   step_size: torch.Tensor, steps: int, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """The parameters after `steps` SGD steps of cross-entropy on `inputs` (network input, (N, C, T, H, W)) from
    `start`, differentiable with respect to the inputs and `step_size` (each step's graph is kept for that).
    Each step takes `batch_size` clips in a fresh random order (0: all)."""
    params = start.detach().clone().requires_grad_(True)
    count = len(labels)
    for _ in range(steps):
        chosen = torch.randperm(count, generator=gen)[:batch_size] if 0 < batch_size < count else None
        batch, batch_labels = (inputs, labels) if chosen is None else (inputs[chosen], labels[chosen])
        loss = F.cross_entropy(network(params, batch), batch_labels)
        (gradient,) = torch.autograd.grad(loss, params, create_graph=True)
        params = params - step_size * gradient
    return params


class ExpertBuffer:
    """The expert trajectories of one buffer, read from its job files (each `{"trajectories": (K, E + 1, P),
    ...}`), memory-mapped so that only the epochs drawn are read."""

    def __init__(self, paths: list[Path]) -> None:
        if not paths:
            raise TSGFError("the expert buffer has no files: list every expert_trajectories output")
        loaded = [torch.load(path, map_location="cpu", weights_only=True, mmap=True) for path in paths]
        self.files = sorted(loaded, key=lambda saved: saved["experts"][0])  # expert order, however listed
        self.index = [(f, k) for f, saved in enumerate(self.files) for k in range(len(saved["trajectories"]))]
        self.epochs = int(self.files[0]["trajectories"].shape[1]) - 1
        self.network = self.files[0]["network"]

    def __len__(self) -> int:
        return len(self.index)

    def cost(self) -> dict[str, Any]:
        """What training the buffer took (a set's "prerequisite" keys): the wall time of all its experts and the
        largest own peak memory of its jobs (tsgf.measure.own_peak_mb)."""
        peaks = [saved["own_peak_mb"] for saved in self.files if saved.get("own_peak_mb") is not None]
        return {"prerequisite": f"expert buffer ({len(self)} experts)",
                "prerequisite_seconds": float(sum(saved["seconds"] for saved in self.files)),
                "prerequisite_own_peak_mb": max(peaks) if peaks else None}

    def parameters(self, expert: int, epoch: int) -> torch.Tensor:
        f, k = self.index[expert]
        return self.files[f]["trajectories"][k, epoch].clone()


def trajectory_objective(network: FunctionalNetwork, buffer: ExpertBuffer, labels: torch.Tensor,
                         config: MatchingConfig, step_size: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                         gen: torch.Generator) -> Objective:
    """MTT's loss of a set's augmented clips: a random expert and start epoch per call (from `gen`)."""
    if config.max_start_epoch + config.expert_epochs > buffer.epochs:
        raise TSGFError(f"mtt.max_start_epoch ({config.max_start_epoch}) + mtt.expert_epochs "
                        f"({config.expert_epochs}) exceed the {buffer.epochs} epochs of the expert buffer: lower them "
                        f"or raise experts.train.epochs")

    def objective(augmented: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = augmented.device
        expert = int(torch.randint(0, len(buffer), (1,), generator=gen))
        start_epoch = int(torch.randint(0, config.max_start_epoch, (1,), generator=gen))
        start = buffer.parameters(expert, start_epoch).to(device)
        target = buffer.parameters(expert, start_epoch + config.expert_epochs).to(device)
        inputs = place(model_input(augmented, mean, std), device)
        # the student's dropout draws from torch's global stream: seeded from ours, so a resumed run draws the same
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            reached = unroll_student(network, start, inputs, labels, step_size, config.syn_steps, config.batch_syn,
                                     gen)
        return trajectory_matching_loss(start, target, reached), {"step_size": step_size.detach()}

    return objective


class Integrator(nn.Module):
    """VDSD's integrator: still (N, 1, C, H, W) and dynamic memory (N, T_d, C_d, h, w) -> clips (N, T, C, H, W) in
    [0, 1]. The memory is upsampled to the clip's frames and size, stacked with the still on the channel axis, and
    two 3x3x3 convolutions give a residual added to the still; the last is zero-initialised, so the first clips are
    exactly the stills."""

    def __init__(self, channels: int, dynamic_channels: int, width: int, frames: int) -> None:
        super().__init__()
        self.frames = frames
        self.mix = nn.Conv3d(channels + dynamic_channels, width, 3, padding=1)
        self.out = nn.Conv3d(width, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, stills: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        n, _, _, height, width = stills.shape
        still = stills.permute(0, 2, 1, 3, 4).expand(-1, -1, self.frames, -1, -1)
        motion = F.interpolate(dynamic.permute(0, 2, 1, 3, 4), size=(self.frames, height, width), mode="trilinear",
                               align_corners=False)
        residual = self.out(F.relu(self.mix(torch.cat([still, motion], dim=1))))
        return (still + residual).clamp(0.0, 1.0).permute(0, 2, 1, 3, 4)


@dataclass(frozen=True)
class StaticDynamicConfig:
    """VDSD's two stages, from the validated `vdsd` section; each stage is a synthesis loop of its own."""

    static: DistillConfig
    dynamic: DistillConfig
    still: str  # which frame of the real clip a still starts from: "middle" or "mean" (over frames)
    dynamic_frames: int
    dynamic_channels: int
    downsample: int
    integrator_width: int
    integrator_lr: float


def _stream(seed: int, ipc: int, use: int) -> torch.Generator:
    """The random streams of one set: 0 and 1 learn the first and second stage, 2 draws initialisations (DM's
    stream is (seed, ipc, 1), so (seed, ipc, 2 + use) never meets it)."""
    return make_generator(seed, ipc, 2 + use)


def match_trajectories(init_clips: torch.Tensor, num_classes: int, ipc: int, buffer: ExpertBuffer,
                       network: nn.Module, config: DistillConfig, matching: MatchingConfig, seed: int,
                       device: torch.device, mean: torch.Tensor, std: torch.Tensor,
                       static_dynamic: StaticDynamicConfig | None = None,
                       checkpoint: Checkpoint | None = None) -> tuple[DistillResult, dict[str, float]]:
    """An MTT set (class-major, `ipc` clips per class, learnt as one batch like DM), or with `static_dynamic` a
    VDSD set, and what else was learnt: the final step size and, for VDSD, the bytes its memories and integrator
    take as float32. `init_clips` (in [0, 1]) are the random real clips of the same seed; `network` is a template
    of the experts' architecture (its weights are never used). A killed run resumes from its last snapshot."""
    checkpoint = checkpoint or disabled()
    labels = torch.arange(num_classes).repeat_interleave(ipc).to(device)
    functional = FunctionalNetwork(place(network, device))
    mean, std = mean.to(device), std.to(device)
    state = checkpoint.load() or {"stage": 0, "stills": None, "batch": None}

    def learn(init: torch.Tensor, stage_config: DistillConfig, stage: int, desc: str, render=None, pixels=True,
              extra: tuple[dict[str, Any], ...] = ()) -> tuple[torch.Tensor, list, float]:
        gen = _stream(seed, ipc, stage)
        step_size = torch.tensor(matching.syn_lr, device=device, requires_grad=True)
        objective = trajectory_objective(functional, buffer, labels, matching, step_size, mean, std, gen)
        groups = ({"params": [step_size], "lr": matching.lr_lr}, *extra)
        resume = state["batch"] if state["stage"] == stage else None
        learnt, curve = optimise_batch(init.to(device), objective, stage_config, gen, desc, checkpoint,
                                       job_state={"stage": stage, "stills": state["stills"]}, resume=resume,
                                       render=render, pixels=pixels, extra_groups=groups)
        return learnt, curve, float(step_size.detach())

    if static_dynamic is None:
        init = init_clips if config.init == "real" else torch.rand(init_clips.shape, generator=_stream(seed, ipc, 2))
        clips, curve, step_size = learn(init, config, 0, f"MTT, IPC {ipc}")
        stored = to_uint8(clips)
        return (DistillResult(np.arange(len(stored)), stored, curve, np.ones(stored.shape[:2], dtype=np.float32),
                              checkpoint.elapsed_seconds()), {"learnt_step_size": step_size})

    vdsd = static_dynamic
    frames = init_clips.shape[1]
    if state["stage"] == 0:  # the static memory: one still per clip, shown in every frame
        stills = (init_clips[:, frames // 2 : frames // 2 + 1] if vdsd.still == "middle"
                  else init_clips.mean(dim=1, keepdim=True))
        if vdsd.static.init == "noise":
            stills = torch.rand(stills.shape, generator=_stream(seed, ipc, 2))
        stills, static_curve, _ = learn(stills, vdsd.static, 0, f"VDSD static memory, IPC {ipc}",
                                        render=lambda still: still.expand(-1, frames, -1, -1, -1))
        state = {"stage": 1, "stills": {"stills": stills.detach().cpu(), "curve": static_curve}, "batch": None}
    stills = state["stills"]["stills"].to(device)
    gen = _stream(seed, ipc, 2)
    with torch.random.fork_rng(devices=[]):  # the integrator's initialisation draws from our stream only
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        integrator = Integrator(init_clips.shape[2], vdsd.dynamic_channels, vdsd.integrator_width, frames).to(device)
    height, width = init_clips.shape[3] // vdsd.downsample, init_clips.shape[4] // vdsd.downsample
    memory = 0.1 * torch.randn((len(stills), vdsd.dynamic_frames, vdsd.dynamic_channels, height, width),
                               generator=gen)
    weights = {"params": list(integrator.parameters()), "lr": vdsd.integrator_lr}
    memory, dynamic_curve, step_size = learn(memory, vdsd.dynamic, 1, f"VDSD dynamic memory, IPC {ipc}",
                                             render=lambda dynamic: integrator(stills, dynamic), pixels=False,
                                             extra=(weights,))
    with torch.no_grad():
        stored = to_uint8(integrator(stills, memory))
    curve = ([{**row, "stage": "static"} for row in state["stills"]["curve"]]
             + [{**row, "stage": "dynamic"} for row in dynamic_curve])
    # what VDSD stores: stills, dynamic memory and the integrator (float32), against the rendered uint8 clips
    stored_floats = stills.numel() + memory.numel() + sum(p.numel() for p in integrator.parameters())
    result = DistillResult(np.arange(len(stored)), stored, curve, np.ones(stored.shape[:2], dtype=np.float32),
                           checkpoint.elapsed_seconds())
    return result, {"learnt_step_size": step_size, "memory_bytes": 4 * stored_floats}


__all__ = ["MatchingConfig", "FunctionalNetwork", "trajectory_matching_loss", "unroll_student", "ExpertBuffer",
           "trajectory_objective", "Integrator", "StaticDynamicConfig", "match_trajectories"]
