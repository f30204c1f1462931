"""Stages of workflow/rules/teacher.smk: the BatchNorm teacher, and its features of every training clip."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tsgf.clipset import ClipSet, load_clipset, train_and_holdout
from tsgf.stages.common import json_arg, write_json

log = logging.getLogger("tsgf")


class _Fitted(NamedTuple):
    """A network trained with the teacher's recipe, and what its handler needs to test and record it."""

    params: dict[str, Any]
    device: Any  # torch.device (torch is imported by the handlers, not at module import)
    data: ClipSet
    holdout_rows: np.ndarray
    network: Any  # nn.Module
    recipe: Any  # TrainConfig
    curve: list[dict[str, float]]
    seconds: float
    checkpoint: Any  # Checkpoint


def _fit_with_teacher_recipe(args: argparse.Namespace, desc: str, augment: Any = None) -> _Fitted:
    """The teacher's BatchNorm network trained on the train split with the teacher's recipe (and `augment`), with
    snapshots and resume: what train_teacher and order_blind_probe share."""
    from tsgf.models import NetworkConfig, build_network
    from tsgf.stages.torch_common import split_source, stage_checkpoint, start_compute
    from tsgf.training import TrainConfig, train_classifier

    params = json_arg(args.params)
    device = start_compute(args, params["seed"])
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    network = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape,
                            batchnorm=True)
    recipe = TrainConfig.from_dict(params["train"])
    curve = train_classifier(network, split_source(data, train_rows), recipe, params["seed"], device,
                             data.clip_shape[0], augment=augment, desc=desc, precision=args.precision,
                             checkpoint=checkpoint)
    return _Fitted(params, device, data, holdout_rows, network, recipe, curve, checkpoint.elapsed_seconds(),
                   checkpoint)


def _test(fitted: _Fitted, source: Any, precision: str) -> dict[str, Any]:
    """Accuracy and pair accuracy of a fitted network on `source` (the holdout clips, as it should see them)."""
    from tsgf.datasets.motion import partner_labels
    from tsgf.training import evaluate_classifier

    data, recipe = fitted.data, fitted.recipe
    return evaluate_classifier(fitted.network, source, data.num_classes, recipe.test_passes, recipe.batch_size,
                               fitted.params["seed"], fitted.device, data.clip_shape[0], precision,
                               recipe.batch_zscore, partner_labels(data.classes, data.meta["motion_only_classes"]))


def train_teacher(args: argparse.Namespace) -> None:
    """Train the BatchNorm teacher on the train split and test it on the holdout split."""
    from tsgf import runtime
    from tsgf.models import count_parameters, save_network
    from tsgf.stages.torch_common import split_source

    fitted = _fit_with_teacher_recipe(args, "teacher")
    params, data, teacher, curve = fitted.params, fitted.data, fitted.network, fitted.curve
    result = _test(fitted, split_source(data, fitted.holdout_rows), args.precision)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_network(out / "model.pt", teacher.cpu(), params["network"], data.num_classes, data.clip_shape, True)
    pd.DataFrame(curve).to_csv(out / "curve.csv", index=False)
    write_json(out / "metrics.json", {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": fitted.seconds,
        "parameters": count_parameters(teacher), "final_train_accuracy": curve[-1]["train_accuracy"],
        "peak_rss_mb": runtime.peak_rss_mb(), "own_peak_mb": runtime.own_peak_mb(),
        "peak_gpu_mb": runtime.peak_gpu_mb(fitted.device), "classes": data.classes, "device": str(fitted.device),
        "precision": args.precision, "params": params})
    fitted.checkpoint.remove()
    log.info("teacher: %s accuracy %.3f (chance %.3f) after %.0f s", params["holdout"], result["accuracy"],
             1 / data.num_classes, fitted.seconds)


def order_blind_probe(args: argparse.Namespace) -> None:
    """The teacher's network and recipe, trained and tested on clips whose frames are shuffled (each clip its own
    order, every batch anew): how much of the task needs no temporal order. Where a pair of classes differs only
    in order, its pair accuracy is the floor of the temporal score (50 % in expectation)."""
    import torch

    from tsgf import runtime
    from tsgf.augment import shuffle_frames
    from tsgf.stages.torch_common import split_source
    from tsgf.training import ClipSource

    fitted = _fit_with_teacher_recipe(args, "order-blind probe", augment=shuffle_frames)
    params, data, rows = fitted.params, fitted.data, fitted.holdout_rows
    holdout = split_source(data, rows)
    # the test clips shuffled once, from a stream of their own, so every pass sees the same frames
    clips = torch.from_numpy(np.asarray(data.clips[rows]))
    shuffled = shuffle_frames(clips, torch.Generator().manual_seed(params["seed"])).numpy()
    result = _test(fitted, ClipSource(shuffled, np.arange(len(rows)), holdout.labels, holdout.mean, holdout.std),
                   args.precision)
    write_json(Path(args.out), {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": fitted.seconds,
        "final_train_accuracy": fitted.curve[-1]["train_accuracy"], "peak_rss_mb": runtime.peak_rss_mb(),
        "device": str(fitted.device), "precision": args.precision, "params": params})
    fitted.checkpoint.remove()
    log.info("order-blind probe: %s accuracy %.3f, pair accuracy %s", params["holdout"], result["accuracy"],
             result.get("pair_accuracy"))


def teacher_features(args: argparse.Namespace) -> None:
    """The teacher's penultimate features of every training clip (.npz), for the coresets."""
    from tsgf import runtime
    from tsgf.models import load_network
    from tsgf.stages.torch_common import split_source, start_compute
    from tsgf.startup import mark_first_step
    from tsgf.training import TrainConfig, embed_clips

    params = json_arg(args.params)
    device = start_compute(args, 0)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    teacher = load_network(Path(args.teacher) / "model.pt")
    batch_zscore = TrainConfig.from_dict(params["train"]).batch_zscore
    with runtime.Stopwatch() as watch:
        mark_first_step()  # the features' own memory is measured from here
        features = embed_clips(teacher, split_source(data, train_rows), params["train"]["batch_size"], device,
                               data.clip_shape[0], args.precision, batch_zscore)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, rows=train_rows, labels=data.labels(train_rows), features=features, seconds=watch.seconds,
             peak_rss_mb=runtime.peak_rss_mb(), own_peak_mb=runtime.own_peak_mb())
    log.info("teacher features %s of %d training clips in %.1f s", features.shape, len(train_rows), watch.seconds)


__all__ = ["train_teacher", "order_blind_probe", "teacher_features"]
