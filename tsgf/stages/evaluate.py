"""Stages of workflow/rules/evaluate.smk: fresh students trained on a training set (or the full train split)
and tested on the real holdout split, all through one harness (tsgf/training.py).

A job trains one cell: a student per seed, one after another in this process, each from its own initialisation,
batch order and augmentation stream, so a student's result is the same whichever other seeds share its job
(tests/test_resume.py checks it to the last digit). The process, its imports, the holdout clips and the teacher are
paid for once per cell instead of once per student."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from tsgf.clipset import ClipSet, load_clipset, train_and_holdout
from tsgf.errors import TSGFError
from tsgf.stages.common import json_arg, write_json

if TYPE_CHECKING:  # torch stays out of this module's import
    import torch

    from tsgf.checkpoint import Checkpoint
    from tsgf.training import ClipSource, SoftLabels, TrainConfig

    Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

log = logging.getLogger("tsgf")


def evaluate_set(args: argparse.Namespace) -> None:
    """A student per seed on that seed's training set (selected or synthesised), with the set's augmentation and
    labels."""
    import torch

    from tsgf.augment import SaliencyAugmentConfig, saliency_guided_augment, student_crop
    from tsgf.models import load_network
    from tsgf.saliency import SaliencyConfig, spatial_saliency_map
    from tsgf.stages.torch_common import normalisation, start_compute
    from tsgf.training import ClipSource, SoftLabels, TrainConfig

    if len(args.train_sets) != len(args.seeds):
        raise TSGFError(f"--train-sets names {len(args.train_sets)} sets but --seeds {len(args.seeds)} seeds: give "
                        f"one training set per seed, in the same order")
    params = json_arg(args.params)
    device = start_compute(args, args.seeds[0])
    data = load_clipset(args.data)
    students = []
    for seed, path in zip(args.seeds, args.train_sets):
        training_set = load_clipset(path)
        rows = np.arange(len(training_set.clips))
        # a few-shot set is small and read at every step of every epoch: decoded once
        train = ClipSource(training_set.clips, rows, training_set.labels(rows), *normalisation(data)).in_memory()
        students.append(_Student(seed, train, training_set.meta, str(path)))
    if args.augmentation == "tsgf_a":
        saliency = SaliencyConfig.from_dict(params["saliency"])
        tsgf_a = SaliencyAugmentConfig.from_dict(params["tsgf_a"])

        def augment(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            return saliency_guided_augment(clips, spatial_saliency_map(clips, saliency), gen, tsgf_a)

    else:
        augment = student_crop(params["augment"])
    soft_labels = None
    if params["labels"]["kind"] == "soft":
        if args.teacher is None:
            raise TSGFError("this student learns from soft labels (params labels.kind 'soft') but no --teacher was "
                            "given to take them from")
        # the teacher sees its input normalised as in its own training
        teacher_train = json.loads((args.teacher / "metrics.json").read_text())["params"]["train"]
        soft_labels = SoftLabels(load_network(args.teacher / "model.pt"), params["labels"]["temperature"],
                                 batch_zscore=TrainConfig.from_dict(teacher_train).batch_zscore)
    _train_and_test_students(args, device, params, data, students, TrainConfig.from_dict(params["train"]), augment,
                             soft_labels, method=args.method, augmentation=args.augmentation)


def evaluate_full_data(args: argparse.Namespace) -> None:
    """A student per seed on the full real train split (hard labels, the base augmentation): the upper reference
    row."""
    from tsgf.augment import student_crop
    from tsgf.stages.torch_common import split_source, start_compute
    from tsgf.training import TrainConfig

    params = json_arg(args.params)
    device = start_compute(args, args.seeds[0])
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    train = split_source(data, train_rows)
    _train_and_test_students(args, device, params, data, [_Student(seed, train, {}, None) for seed in args.seeds],
                             TrainConfig.from_dict(params["full_data_train"]), student_crop(params["augment"]), None,
                             method="full", augmentation="none")


@dataclass(frozen=True)
class _Student:
    """One student of a cell: its seed, what it trains on, and that training set's metadata and path (None for the
    full train split)."""

    seed: int
    train: ClipSource
    set_meta: dict[str, Any]
    train_set: str | None


def _train_and_test_students(args: argparse.Namespace, device: torch.device, params: dict[str, Any], data: ClipSet,
                             students: list[_Student], config: TrainConfig, augment: Augment | None,
                             soft_labels: SoftLabels | None, method: str, augmentation: str) -> None:
    """Train and test each student of the cell in turn and write their rows, `{"students": [...]}` in seed order.

    A killed job resumes: its own snapshot lists the finished students' rows, and the student in progress resumes
    from snapshots of its own (`Checkpoint.part`)."""
    from tsgf.stages.torch_common import split_source, stage_checkpoint

    job = stage_checkpoint(args, device)
    finished: dict[int, dict[str, Any]] = (job.load() or {}).get("finished", {})
    _, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    holdout = split_source(data, holdout_rows)
    for student in students:
        if student.seed in finished:
            continue
        checkpoint = job.part(f"seed{student.seed}")
        finished[student.seed] = _train_and_test_student(args, device, params, data, holdout, student, config,
                                                         augment, soft_labels, method, augmentation, checkpoint)
        job.save({"finished": finished}, where=f"after the student of seed {student.seed}")
        checkpoint.remove()
    write_json(Path(args.out), {"students": [finished[student.seed] for student in students]})
    job.remove()


def _train_and_test_student(args: argparse.Namespace, device: torch.device, params: dict[str, Any], data: ClipSet,
                            holdout: ClipSource, student: _Student, config: TrainConfig, augment: Augment | None,
                            soft_labels: SoftLabels | None, method: str, augmentation: str,
                            checkpoint: Checkpoint) -> dict[str, Any]:
    """The one evaluation harness: train a freshly initialised student, test it, return its results row."""
    import torch

    from tsgf import runtime
    from tsgf.datasets.motion import partner_labels
    from tsgf.models import NetworkConfig, build_network
    from tsgf.training import evaluate_classifier, train_classifier

    full_data, seed, train = student.train_set is None, student.seed, student.train
    torch.manual_seed(seed)  # student initialisation
    frames = data.clip_shape[0]
    network = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape)
    curve = train_classifier(network, train, config, seed, device, frames, augment,
                             desc=f"student {method}, seed {seed}", precision=args.precision, checkpoint=checkpoint,
                             soft_labels=soft_labels)
    result = evaluate_classifier(network, holdout, data.num_classes, config.test_passes, config.batch_size, seed,
                                 device, frames, args.precision, config.batch_zscore,
                                 partner_labels(data.classes, data.meta["motion_only_classes"]))
    seconds = checkpoint.elapsed_seconds()
    motion_only = set(data.meta["motion_only_classes"])
    per_class = dict(zip(data.classes, result["per_class_accuracy"]))
    motion = [a for c, a in per_class.items() if c in motion_only]
    other = [a for c, a in per_class.items() if c not in motion_only]
    num_train = len(train.rows)
    # pixels and int64 labels; soft labels are made by the teacher while the student trains, so it is stored too
    storage = num_train * int(np.prod(data.clip_shape)) + 8 * num_train
    if soft_labels is not None:
        storage += sum(t.numel() * t.element_size() for t in soft_labels.teacher.state_dict().values())
    set_meta = student.set_meta
    log.info("student on %s (%s), seed %d: %s accuracy %.3f in %.0f s", method, augmentation, seed, params["holdout"],
             result["accuracy"], seconds)
    return {
        "dataset": data.meta["dataset"], "method": method, "augmentation": augmentation,
        "tsgf_o": method == "tsgf", "tsgf_a": augmentation == "tsgf_a",
        "ipc": None if full_data else num_train // data.num_classes, "seed": seed,
        "labels": "hard" if soft_labels is None else f"soft (T = {soft_labels.temperature:g})",
        "student": params["network"]["arch"] + ("" if params["network"]["arch"] != "convnet3d"
                                                 else f" (width {params['network']['width']})"),
        "holdout": params["holdout"], "accuracy": result["accuracy"], "pair_accuracy": result["pair_accuracy"],
        "per_class_accuracy": per_class,
        "motion_only_accuracy": float(np.mean(motion)) if motion else None,
        "other_accuracy": float(np.mean(other)) if other else None, "num_train_clips": num_train,
        "storage_bytes": storage,
        "distill_seconds": set_meta.get("wall_seconds", 0.0), "distill_peak_rss_mb": set_meta.get("peak_rss_mb"),
        "distill_own_peak_mb": set_meta.get("own_peak_mb"), "distill_peak_gpu_mb": set_meta.get("peak_gpu_mb"),
        "prerequisite": set_meta.get("prerequisite"), "prerequisite_seconds": set_meta.get("prerequisite_seconds"),
        "prerequisite_own_peak_mb": set_meta.get("prerequisite_own_peak_mb"),
        "eval_seconds": seconds, "eval_peak_rss_mb": runtime.peak_rss_mb(), "test_passes": result["test_passes"],
        "final_train_loss": curve[-1]["loss"], "final_train_accuracy": curve[-1]["train_accuracy"],
        "train_set": student.train_set, "device": str(device), "precision": args.precision, "params": params}


__all__ = ["evaluate_set", "evaluate_full_data"]
