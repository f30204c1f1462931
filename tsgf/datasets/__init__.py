"""Datasets: the embedded motion generator (motion.py) and readers of real video datasets (layouts.py, video.py,
prepare.py), all written as one clip-set format."""

from __future__ import annotations

from typing import Any

REAL_DATASET_KEYS = ("name", "layout", "root", "split", "classes", "hmdb51_train", "folder", "clip", "normalisation")


def dataset_params(dataset: dict[str, Any]) -> dict[str, Any]:
    """The keys of a (validated) `dataset` section that shape its prepared clips: the generator's knobs for the
    motion dataset, the reader's for a real one. Only these address the prepared set, so a motion knob never
    re-prepares a real dataset and vice versa."""
    if dataset["layout"] == "motion":
        motion = dataset["motion"]
        if motion["appearance"]["strength"] == 0:  # off: the motion-only clips, at the addresses they always had
            motion = {key: value for key, value in motion.items() if key != "appearance"}
        return {"name": dataset["name"], "layout": "motion", "motion": motion}
    return {key: dataset[key] for key in REAL_DATASET_KEYS}


def clip_frames(dataset: dict[str, Any]) -> int:
    """Frames per prepared clip."""
    return dataset["motion"]["frames"] if dataset["layout"] == "motion" else dataset["clip"]["frames"]


__all__ = ["REAL_DATASET_KEYS", "dataset_params", "clip_frames"]
