"""A clip set as one looping animated GIF (Pillow): every clip of the set tiled in a class × clip grid, played in
step, so a reader can watch what the distilled videos do over time.

GIF stores 256 colours per frame (Pillow's median-cut palette), so colours come back close, not exact; and Pillow
merges consecutive identical frames into one longer frame, so a completely static set plays as fewer frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tsgf.clipset import ClipSet

GAP_VALUE = 255  # white lines between the tiles


def set_mosaic(clipset: ClipSet, gap: int = 1) -> np.ndarray:
    """(T, H', W', 3) uint8: one row per class (label order), one column per clip of that class (manifest order),
    `gap` white pixels between tiles; a class with fewer clips than the widest row leaves its cells white."""
    num_frames, channels, height, width = clipset.clip_shape
    manifest = clipset.manifest.sort_values(["label", "index"], kind="stable")
    rows = [list(group["index"]) for _, group in manifest.groupby("label", sort=True)]
    columns = max((len(row) for row in rows), default=0)
    if not rows or columns == 0:
        raise ValueError(f"clip set {clipset.path} has no clips to tile")
    mosaic = np.full((num_frames, len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), GAP_VALUE,
                     dtype=np.uint8)
    for r, indices in enumerate(rows):
        for c, index in enumerate(indices):
            clip = np.asarray(clipset.clips[int(index)]).transpose(0, 2, 3, 1)  # (T, C, H, W) -> (T, H, W, C)
            top, left = r * (height + gap), c * (width + gap)
            mosaic[:, top:top + height, left:left + width] = clip if channels == 3 else clip.repeat(3, axis=-1)
    return mosaic


def write_gif(frames: np.ndarray, out: str | Path, fps: float = 4.0, scale: int = 1) -> Path:
    """(T, H, W, 3) uint8 frames -> a looping GIF at `fps`, each pixel drawn as a `scale` × `scale` block."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_gif needs uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape} for {out}")
    if scale < 1 or fps <= 0:
        raise ValueError(f"write_gif needs scale ≥ 1 and fps > 0, got scale={scale}, fps={fps} for {out}")
    enlarged = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(frame) for frame in enlarged]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def export_set_gif(clipset: ClipSet, out: str | Path, fps: float = 4.0, min_tile_pixels: int = 96) -> Path:
    """The set's mosaic as a GIF, enlarged by a whole factor so that each clip is at least `min_tile_pixels` high
    (a 24 px clip would be a smudge on screen)."""
    scale = max(1, -(-min_tile_pixels // clipset.clip_shape[2]))
    return write_gif(set_mosaic(clipset), out, fps=fps, scale=scale)


__all__ = ["set_mosaic", "write_gif", "export_set_gif"]
