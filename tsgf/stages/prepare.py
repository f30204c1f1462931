"""Stages of workflow/rules/prepare.smk: the embedded dataset generated, or real videos decoded, into prepared
clips; and how much each class moves."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tsgf.clipset import load_clipset, train_and_holdout, update_meta
from tsgf.errors import TSGFError
from tsgf.stages.common import json_arg

log = logging.getLogger("tsgf")


def generate_motion_dataset(args: argparse.Namespace) -> None:
    """Generate the embedded motion dataset from its seed into a prepared clip set."""
    from tsgf.datasets import motion

    params = json_arg(args.params)
    motion.generate_motion_dataset(params["motion"], args.out)
    _name_dataset(args.out, params["name"])


def prepare_dataset(args: argparse.Namespace) -> None:
    """Decode a real video dataset (read from dataset.root) into a prepared clip set, resumably."""
    from tsgf.datasets.layouts import build_index, expected_num_classes
    from tsgf.datasets.prepare import prepare_video_dataset
    from tsgf.datasets.video import ClipSpec

    params = json_arg(args.params)
    index = build_index(params)
    if len(index.classes) != expected_num_classes(params):
        raise TSGFError(f"dataset.root {params['root']}: found {len(index.classes)} classes, but layout "
                        f"'{params['layout']}' with dataset.classes {params['classes']!r} should give "
                        f"{expected_num_classes(params)}; list the classes you have in dataset.classes")
    counts = index.counts()
    log.info("%s: %d classes, %d train and %d test clips listed", params["root"], len(index.classes),
             counts["train"], counts["test"])
    recipe = {"reader": "tsgf.datasets", "version": 1, "params": params}
    prepare_video_dataset(index, ClipSpec.from_dict(params["clip"]), args.out, recipe, args.threads,
                          params["normalisation"])
    _name_dataset(args.out, params["name"])


def _name_dataset(out: Path, name: str) -> None:
    """Record the dataset's name (tables look published numbers up by it) and log what was prepared."""
    meta = update_meta(out, dataset=name)
    log.info("prepared %d clips of shape %s in %s (sha256 %s)", meta["num_clips"], meta["clip_shape"], out,
             meta["sha256"][:12])


def class_motion_strength(args: argparse.Namespace) -> None:
    """Mean inter-frame difference of each class's training clips (the failure analysis by motion strength)."""
    import torch

    from tsgf.saliency import frame_differences

    params = json_arg(args.params)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    strength = np.empty(len(train_rows))
    for start in range(0, len(train_rows), 256):  # chunks: memory stays flat on a large dataset
        chunk = torch.from_numpy(np.asarray(data.clips[train_rows[start : start + 256]])).float() / 255.0
        strength[start : start + 256] = frame_differences(chunk).mean(dim=(1, 2, 3)).numpy()
    labels = data.labels(train_rows)
    table = pd.DataFrame({"class_name": [data.classes[c] for c in labels], "strength": strength})
    table = table.groupby("class_name", sort=False)["strength"].agg(["mean", "count"]).reset_index()
    table.columns = ["class_name", "mean_frame_difference", "clips"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    log.info("motion strength of %d classes: %.4f to %.4f", len(table), table["mean_frame_difference"].min(),
             table["mean_frame_difference"].max())


__all__ = ["generate_motion_dataset", "prepare_dataset", "class_motion_strength"]
