"""Torch-free helpers shared by the stage modules: parameters in, JSON and training sets out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsgf.baselines import select_random_real
from tsgf.clipset import ClipSet, train_and_holdout, write_clipset
from tsgf.errors import TSGFError
from tsgf.sharding import Shard, shard_plan


def json_arg(text: str) -> dict[str, Any]:
    """A `--params`-style argument: JSON text, or @file holding it."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    return json.loads(text)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def selected_real(data: ClipSet, params: dict[str, Any], ipc: int, seed: int) -> np.ndarray:
    """The random real rows of (ipc, seed): the random-real set, and what DM, SRe2L and TSGF start from."""
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    return select_random_real(train_rows, data.labels(train_rows), data.num_classes, ipc, seed)


def write_training_set(out: Path, data: ClipSet, clips: np.ndarray, rows: np.ndarray, source: str,
                       recipe: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write a training set (selected rows or synthesised clips at the class-major positions of `rows`) in the
    clip-set format, each clip traced to the real clip it came from or started from."""
    labels = data.labels(rows)
    ipc = len(rows) // data.num_classes
    real_ids = data.manifest.set_index("index").loc[rows, "clip_id"]
    manifest = pd.DataFrame({
        "index": np.arange(len(rows)), "label": labels,
        "class_name": [data.classes[label] for label in labels],
        "clip_id": [f"{source}/{data.classes[label]}/{i % ipc}" for i, label in enumerate(labels)],
        "split": "train", "source": [f"{source}:{clip_id}" for clip_id in real_ids],
        "status": "ok", "reason": ""})
    # how far synthesis moved the clips from the real ones they started from (0 for a selection; from noise, the
    # distance to the real clip at that position): mean |difference| per pixel value, in [0, 1]
    distance = float(np.abs(clips.astype(np.float32) - np.asarray(data.clips[rows], np.float32)).mean() / 255)
    write_clipset(out, clips, manifest, data.classes, data.meta["mean"], data.meta["std"], recipe,
                  data.meta["motion_only_classes"],
                  extra_meta={"dataset": data.meta["dataset"], "distance_to_real": distance, **extra})


def teacher_cost(teacher: Path) -> dict[str, Any]:
    """What a set made against the teacher at `teacher` needs beforehand: the teacher's training, its wall time and
    own peak memory (a set's "prerequisite" keys; the cost table shows them in columns of their own)."""
    metrics = json.loads((Path(teacher) / "metrics.json").read_text())
    return {"prerequisite": "teacher", "prerequisite_seconds": metrics["train_seconds"],
            "prerequisite_own_peak_mb": metrics.get("own_peak_mb")}


def shard_of(params: dict[str, Any], num_classes: int, ipc: int, number: int) -> Shard:
    """Shard `number` of a distilled set's plan (tsgf/sharding.py), or an error naming the valid range."""
    plan = shard_plan(num_classes, ipc, params["classes_per_batch"], params["ipc_per_job"])
    if not 0 <= number < len(plan):
        raise TSGFError(f"shard {number} does not exist: this set has {len(plan)} shards (0..{len(plan) - 1})")
    return plan[number]


__all__ = ["json_arg", "write_json", "selected_real", "write_training_set", "teacher_cost", "shard_of"]
