"""Helpers of the stages that run networks (they import torch): device and seeds, snapshots, clip sources."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from tsgf import runtime
from tsgf.checkpoint import Checkpoint
from tsgf.clipset import ClipSet
from tsgf.training import ClipSource


def normalisation(data: ClipSet) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and std the networks see the clips of `data` normalised with."""
    return torch.tensor(data.meta["mean"]), torch.tensor(data.meta["std"])


def split_source(data: ClipSet, rows: np.ndarray) -> ClipSource:
    """Rows of a prepared clip set as a training or test source."""
    return ClipSource(data.clips, rows, data.labels(rows), *normalisation(data))


def start_compute(args: argparse.Namespace, seed: int) -> torch.device:
    """Device, threads and seeds of a compute stage."""
    device = runtime.select_device(args.device)
    runtime.configure(args.threads, seed, device)
    return device


def stage_checkpoint(args: argparse.Namespace, device: torch.device) -> Checkpoint:
    """The stage's snapshots (off without --checkpoint), keyed by everything that decides its bits: the command
    line minus where it writes and how often, plus the device actually used."""
    key = {name: str(value) for name, value in sorted(vars(args).items())
           if name not in ("checkpoint", "checkpoint_every", "log_level")}
    return Checkpoint(args.checkpoint, args.checkpoint_every, {**key, "resolved_device": str(device)})


__all__ = ["normalisation", "split_source", "start_compute", "stage_checkpoint"]
