"""The one prepared-clip format every dataset, real or distilled, is stored in.

A clip set is a directory holding
  clips.npy     uint8 array (N, T, C, H, W), NumPy's .npy format, read memory-mapped;
  manifest.csv  one row per clip: index (row in clips.npy, -1 for a clip that failed to prepare), clip_id,
                label, class_name, split (train/test), source, status (ok/failed), reason;
  meta.json     format tag, clip shape, class names, which classes only motion separates, the per-channel
                normalisation, the recipe that made it, and the SHA-256 of clips.npy's pixels.
Nothing downstream knows which dataset it reads: everything it needs is in these three files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsgf.errors import ClipSetError

FORMAT = "tsgf-clips/1"
CLIPS_FILE = "clips.npy"
MANIFEST_FILE = "manifest.csv"
META_FILE = "meta.json"
MANIFEST_COLUMNS = ["index", "clip_id", "label", "class_name", "split", "source", "status", "reason"]


def clips_sha256(clips: np.ndarray) -> str:
    """SHA-256 of the pixels (shape included), chunked so a memory-mapped set is never loaded whole."""
    digest = hashlib.sha256(repr((clips.shape, str(clips.dtype))).encode())
    for start in range(0, len(clips), 256):
        digest.update(np.ascontiguousarray(clips[start : start + 256]).tobytes())
    return digest.hexdigest()


def write_clipset(
    out_dir: str | Path,
    clips: np.ndarray,
    manifest: pd.DataFrame,
    classes: list[str],
    mean: list[float],
    std: list[float],
    recipe: dict[str, Any],
    motion_only_classes: list[str] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a whole clip set held in memory (generated or distilled sets); returns its metadata."""
    if clips.dtype != np.uint8 or clips.ndim != 5:
        raise ClipSetError(f"clips must be uint8 (N, T, C, H, W); got {clips.dtype} {clips.shape}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / CLIPS_FILE, clips)
    manifest = manifest.reindex(columns=MANIFEST_COLUMNS)
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    meta = {
        "format": FORMAT,
        "num_clips": int(len(clips)),
        "clip_shape": [int(s) for s in clips.shape[1:]],
        "classes": list(classes),
        "motion_only_classes": list(motion_only_classes or []),
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
        "recipe": recipe,
        "sha256": clips_sha256(clips),
        **(extra_meta or {}),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def update_meta(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Add or replace fields of a clip set's meta.json (e.g. the dataset name a generator does not know)."""
    meta_path = Path(path) / META_FILE
    meta = {**json.loads(meta_path.read_text()), **fields}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


@dataclass
class ClipSet:
    """A prepared clip set, pixels memory-mapped; `manifest` holds only the clips that prepared fine."""

    path: Path
    clips: np.ndarray
    manifest: pd.DataFrame
    meta: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.meta["clip_shape"])  # type: ignore[return-value]

    def indices(self, split: str) -> np.ndarray:
        """Rows of clips.npy that belong to `split`, in manifest order."""
        return self.manifest.loc[self.manifest["split"] == split, "index"].to_numpy(dtype=np.int64)

    def labels(self, rows: np.ndarray) -> np.ndarray:
        by_row = self.manifest.set_index("index")["label"]
        return by_row.loc[rows].to_numpy(dtype=np.int64)


def load_clipset(path: str | Path) -> ClipSet:
    """Open a clip set; a missing or inconsistent file gives an error naming it."""
    root = Path(path)
    for name in (CLIPS_FILE, MANIFEST_FILE, META_FILE):
        if not (root / name).is_file():
            raise ClipSetError(f"{root / name} is missing: {root} is not a prepared clip set "
                               f"(expected {CLIPS_FILE}, {MANIFEST_FILE} and {META_FILE}); re-run its preparation rule")
    meta = json.loads((root / META_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ClipSetError(f"{root / META_FILE}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    clips = np.load(root / CLIPS_FILE, mmap_mode="r")
    manifest = pd.read_csv(root / MANIFEST_FILE, keep_default_na=False)
    missing = set(MANIFEST_COLUMNS) - set(manifest.columns)
    if missing:
        raise ClipSetError(f"{root / MANIFEST_FILE} lacks the columns {sorted(missing)}")
    manifest = manifest[manifest["status"] == "ok"].reset_index(drop=True)
    if len(manifest) and (manifest["index"].max() >= len(clips) or manifest["index"].min() < 0):
        raise ClipSetError(f"{root / MANIFEST_FILE} points past the {len(clips)} clips in {root / CLIPS_FILE}")
    if tuple(clips.shape[1:]) != tuple(meta["clip_shape"]):
        raise ClipSetError(f"{root / CLIPS_FILE} has clips of shape {clips.shape[1:]}, "
                           f"{root / META_FILE} says {meta['clip_shape']}")
    return ClipSet(root, clips, manifest, meta)


def train_and_holdout(clipset: ClipSet, holdout: str, val_fraction: float,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows to train on and rows to report on.

    holdout="test": the train split, and the test split. holdout="val": a per-class `val_fraction` of the train
    split (fixed by `seed`) is held out for tuning and the rest is trained on; the test split is never touched.
    """
    train = clipset.indices("train")
    if holdout == "test":
        return train, clipset.indices("test")
    if holdout != "val":
        raise ClipSetError(f"holdout must be 'test' or 'val', got {holdout!r}")
    labels = clipset.labels(train)
    rng = np.random.default_rng(seed)
    val_mask = np.zeros(len(train), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_val = max(1, int(round(val_fraction * len(members))))
        val_mask[rng.permutation(members)[:n_val]] = True
    return train[~val_mask], train[val_mask]
