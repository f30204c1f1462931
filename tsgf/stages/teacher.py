"""Stages of workflow/rules/teacher.smk: the BatchNorm teacher, and its features of every training clip."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tsgf.clipset import load_clipset, train_and_holdout
from tsgf.stages.common import json_arg, write_json

log = logging.getLogger("tsgf")


def train_teacher(args: argparse.Namespace) -> None:
    """Train the BatchNorm teacher on the train split and test it on the holdout split."""
    from tsgf import runtime
    from tsgf.models import NetworkConfig, build_network, count_parameters, save_network
    from tsgf.stages.torch_common import split_source, stage_checkpoint, start_compute
    from tsgf.datasets.motion import partner_labels
    from tsgf.training import TrainConfig, evaluate_classifier, train_classifier

    params = json_arg(args.params)
    device = start_compute(args, params["seed"])
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    teacher = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape,
                            batchnorm=True)
    config = TrainConfig.from_dict(params["train"])
    curve = train_classifier(teacher, split_source(data, train_rows), config, params["seed"], device,
                             data.clip_shape[0], desc="teacher", precision=args.precision, checkpoint=checkpoint)
    seconds = checkpoint.elapsed_seconds()
    result = evaluate_classifier(teacher, split_source(data, holdout_rows), data.num_classes, config.test_passes,
                                 config.batch_size, params["seed"], device, data.clip_shape[0], args.precision,
                                 config.batch_zscore, partner_labels(data.classes, data.meta["motion_only_classes"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_network(out / "model.pt", teacher.cpu(), params["network"], data.num_classes, data.clip_shape, True)
    pd.DataFrame(curve).to_csv(out / "curve.csv", index=False)
    write_json(out / "metrics.json", {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": seconds,
        "parameters": count_parameters(teacher), "final_train_accuracy": curve[-1]["train_accuracy"],
        "peak_rss_mb": runtime.peak_rss_mb(), "peak_gpu_mb": runtime.peak_gpu_mb(device),
        "classes": data.classes, "device": str(device), "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("teacher: %s accuracy %.3f (chance %.3f) after %.0f s", params["holdout"], result["accuracy"],
             1 / data.num_classes, seconds)


def order_blind_probe(args: argparse.Namespace) -> None:
    """The teacher's network and recipe, trained and tested on clips whose frames are shuffled (each clip its own
    order, every batch anew): how much of the task needs no temporal order. Where a pair of classes differs only
    in order, its pair accuracy is the floor of the temporal score (50 % in expectation)."""
    import torch

    from tsgf import runtime
    from tsgf.augment import shuffle_frames
    from tsgf.datasets.motion import partner_labels
    from tsgf.models import NetworkConfig, build_network
    from tsgf.stages.torch_common import split_source, stage_checkpoint, start_compute
    from tsgf.training import ClipSource, TrainConfig, evaluate_classifier, train_classifier

    params = json_arg(args.params)
    device = start_compute(args, params["seed"])
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    probe = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape,
                          batchnorm=True)
    config = TrainConfig.from_dict(params["train"])
    curve = train_classifier(probe, split_source(data, train_rows), config, params["seed"], device,
                             data.clip_shape[0], augment=shuffle_frames, desc="order-blind probe",
                             precision=args.precision, checkpoint=checkpoint)
    seconds = checkpoint.elapsed_seconds()
    holdout = split_source(data, holdout_rows)
    # the test clips shuffled once, from a stream of their own, so every pass sees the same frames
    clips = torch.from_numpy(np.asarray(data.clips[holdout_rows]))
    shuffled = shuffle_frames(clips, torch.Generator().manual_seed(params["seed"])).numpy()
    test = ClipSource(shuffled, np.arange(len(holdout_rows)), holdout.labels, holdout.mean, holdout.std)
    result = evaluate_classifier(probe, test, data.num_classes, config.test_passes, config.batch_size,
                                 params["seed"], device, data.clip_shape[0], args.precision, config.batch_zscore,
                                 partner_labels(data.classes, data.meta["motion_only_classes"]))
    write_json(Path(args.out), {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": seconds,
        "final_train_accuracy": curve[-1]["train_accuracy"], "peak_rss_mb": runtime.peak_rss_mb(),
        "device": str(device), "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("order-blind probe: %s accuracy %.3f, pair accuracy %s", params["holdout"], result["accuracy"],
             result.get("pair_accuracy"))


def teacher_features(args: argparse.Namespace) -> None:
    """The teacher's penultimate features of every training clip (.npz), for the coresets."""
    from tsgf import runtime
    from tsgf.models import load_network
    from tsgf.stages.torch_common import split_source, start_compute
    from tsgf.training import TrainConfig, embed_clips

    params = json_arg(args.params)
    device = start_compute(args, 0)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    teacher = load_network(Path(args.teacher) / "model.pt")
    batch_zscore = TrainConfig.from_dict(params["train"]).batch_zscore
    with runtime.Stopwatch() as watch:
        features = embed_clips(teacher, split_source(data, train_rows), params["train"]["batch_size"], device,
                               data.clip_shape[0], args.precision, batch_zscore)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, rows=train_rows, labels=data.labels(train_rows), features=features, seconds=watch.seconds,
             peak_rss_mb=runtime.peak_rss_mb())
    log.info("teacher features %s of %d training clips in %.1f s", features.shape, len(train_rows), watch.seconds)


__all__ = ["train_teacher", "order_blind_probe", "teacher_features"]
