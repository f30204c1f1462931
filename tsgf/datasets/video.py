"""Reading one clip out of a raw video file or a folder of frames: which frames, in time order, and one spatial
transform for all of them.

Videos are decoded with PyAV (FFmpeg). Frames are counted first from the container's packets (no decoding), the
wanted frame indices are chosen, and the video is decoded once keeping only those frames, each converted to RGB at
the target size by FFmpeg's scaler: memory stays at one clip, whatever the video's length. Frame folders are
sorted by the number in each file name (frame9 before frame10), never lexically.

Every failure is a `ClipReadError` whose message is the reason written into the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsgf.errors import TSGFError

VIDEO_SUFFIXES = (".avi", ".mp4", ".webm", ".mkv", ".mov", ".m4v")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
SAMPLINGS = ("stride", "fps", "uniform")


class ClipReadError(TSGFError):
    """One video or frame folder could not give a clip; the message is the manifest's reason."""


@dataclass(frozen=True)
class ClipSpec:
    """How a clip is cut out of a video.

    sampling "stride": `frames` frames `stride` apart (stride len // frames for videos too short for it), start
    random in the train split (fixed per clip by its id) and centred otherwise (MiniUCF/HMDB51 benchmark).
    sampling "fps": frames `1 / fps` seconds apart around the middle of the video, closer together when the video is
    too short (Kinetics-400). sampling "uniform": the centres of `frames` equal segments of the video (SSv2).
    Spatially every frame is resized to `resize` (width, height) and, if `crop` is set, centre-cropped to a
    `crop` x `crop` square.
    """

    frames: int
    sampling: str
    stride: int
    fps: float
    train_start: str
    resize: tuple[int, int]
    crop: int | None

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "ClipSpec":
        """From the validated `dataset.clip` section (the schema holds its defaults)."""
        return cls(**{**params, "resize": tuple(params["resize"])})

    @property
    def height(self) -> int:
        return self.crop or self.resize[1]

    @property
    def width(self) -> int:
        return self.crop or self.resize[0]


def frame_number(path: Path) -> tuple[int, str]:
    """Sort key of a frame file: the last number in its name (frame000010.jpg -> 10), then the name."""
    numbers = re.findall(r"\d+", path.stem)
    return (int(numbers[-1]) if numbers else -1, path.name)


def list_frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder in time order (numeric, not lexical)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=frame_number)


def _clip_seed(clip_id: str) -> int:
    # A stable per-clip seed (Python's hash() changes between processes).
    import zlib

    return zlib.crc32(clip_id.encode())


def sample_indices(num_frames: int, spec: ClipSpec, split: str, clip_id: str, video_fps: float | None = None
                   ) -> np.ndarray:
    """Indices of the frames that make the clip, in time order; raises ClipReadError for a too-short video."""
    if num_frames < spec.frames:
        raise ClipReadError(f"too short: {num_frames} frames, a clip needs {spec.frames}")
    if spec.sampling == "uniform":
        return np.floor((np.arange(spec.frames) + 0.5) * num_frames / spec.frames).astype(np.int64)
    if spec.sampling == "stride":
        step = spec.stride
    elif spec.sampling == "fps":
        step = max(1, round((video_fps or 25.0) / spec.fps))
    else:
        raise ClipReadError(f"unknown sampling {spec.sampling!r}; expected one of {SAMPLINGS}")
    if (spec.frames - 1) * step + 1 > num_frames:
        step = max(1, num_frames // spec.frames)  # denser sampling for short videos
    span = (spec.frames - 1) * step + 1
    slack = num_frames - span
    if spec.sampling == "stride" and split == "train" and spec.train_start == "random" and slack > 0:
        start = int(np.random.default_rng(_clip_seed(clip_id)).integers(0, slack + 1))
    else:
        start = slack // 2
    return start + step * np.arange(spec.frames, dtype=np.int64)


def _centre_crop(frame: np.ndarray, size: int | None) -> np.ndarray:
    if size is None:
        return frame
    height, width = frame.shape[:2]
    if size > height or size > width:
        raise ClipReadError(f"crop {size} is larger than the resized frame {width}x{height}")
    top, left = (height - size) // 2, (width - size) // 2
    return frame[top : top + size, left : left + size]


def count_video_frames(path: Path) -> tuple[int, int, float | None]:
    """Frames of the first video stream counted from its packets (no decoding), the count its container's header
    lists (0 when it lists none; more than the packets for a cut file), and the frame rate."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ClipReadError("unreadable: no video stream")
        stream = container.streams.video[0]
        count = sum(1 for packet in container.demux(stream) if packet.size > 0)
        rate = float(stream.average_rate) if stream.average_rate else None
        return count, int(stream.frames or 0), rate


def _decode_selected(path: Path, wanted: np.ndarray, spec: ClipSpec) -> tuple[list[np.ndarray], int]:
    """Decode once, converting only the wanted frames; returns them and how many frames were decoded."""
    import av

    wanted_set, frames, decoded = set(int(i) for i in wanted), {}, 0
    last_wanted = int(wanted.max())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            decoded = index + 1
            if index in wanted_set:
                rgb = frame.to_ndarray(width=spec.resize[0], height=spec.resize[1], format="rgb24")
                frames[index] = _centre_crop(rgb, spec.crop)
            if index >= last_wanted:
                break
    return [frames[int(i)] for i in wanted if int(i) in frames], decoded


def read_video_clip(path: Path, spec: ClipSpec, split: str, clip_id: str) -> np.ndarray:
    """One clip (T, C, H, W) uint8 from a video file."""
    import av

    try:
        num_frames, listed, rate = count_video_frames(path)
        if listed > num_frames and num_frames < spec.frames:
            raise ClipReadError(f"truncated: the container lists {listed} frames, {num_frames} are present; a clip "
                                f"needs {spec.frames}")
        wanted = sample_indices(num_frames, spec, split, clip_id, rate)
        frames, decoded = _decode_selected(path, wanted, spec)
    except av.error.FFmpegError as error:
        raise ClipReadError(f"unreadable: {type(error).__name__}: {error}") from None
    if len(frames) < spec.frames:
        raise ClipReadError(f"truncated: decoding stopped after {decoded} of the {num_frames} frames its "
                            f"container lists")
    return np.stack(frames).transpose(0, 3, 1, 2)


def read_frame_folder_clip(folder: Path, spec: ClipSpec, split: str, clip_id: str, folder_fps: float = 25.0
                           ) -> np.ndarray:
    """One clip (T, C, H, W) uint8 from a folder of numbered frame images (only the wanted ones are read)."""
    from PIL import Image, UnidentifiedImageError

    files = list_frame_files(folder)
    wanted = sample_indices(len(files), spec, split, clip_id, folder_fps)
    frames = []
    for index in wanted:
        try:
            with Image.open(files[index]) as image:
                resized = image.convert("RGB").resize(spec.resize, Image.Resampling.BILINEAR)
        except (OSError, UnidentifiedImageError) as error:
            raise ClipReadError(f"unreadable frame {files[index].name}: {error}") from None
        frames.append(_centre_crop(np.asarray(resized), spec.crop))
    return np.stack(frames).transpose(0, 3, 1, 2)


def read_clip(source: Path, spec: ClipSpec, split: str, clip_id: str) -> np.ndarray:
    """A clip from a video file or a frame folder; every failure is a ClipReadError with the reason."""
    if source.is_dir():
        return read_frame_folder_clip(source, spec, split, clip_id)
    if not source.exists():
        raise ClipReadError("missing: no video file or frame folder at this path")
    if source.stat().st_size == 0:
        raise ClipReadError("unreadable: empty file")
    return read_video_clip(source, spec, split, clip_id)


__all__ = ["ClipReadError", "ClipSpec", "VIDEO_SUFFIXES", "FRAME_SUFFIXES", "SAMPLINGS", "frame_number",
           "list_frame_files", "sample_indices", "count_video_frames", "read_video_clip", "read_frame_folder_clip",
           "read_clip"]
