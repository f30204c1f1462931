"""Tiny raw datasets in each real layout, built inside the tests: short videos encoded with PyAV whose frame t is a
flat grey of level `level(t)` (so time order can be read back from the pixels), official split files, one corrupt
file, one too-short video and one frame folder whose names do not sort lexically."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np

CODECS = {".avi": "mpeg4", ".mp4": "libx264", ".webm": "libvpx"}
FRAMES = 20  # every fixture video, except the too-short one
SHORT_FRAMES = 3


def level(t: int) -> int:
    """Grey level of frame t: far enough apart to survive lossy coding; increasing up to t = 19."""
    return 16 + (11 * t) % 220


def write_video(path: Path, frames: int = FRAMES, size: tuple[int, int] = (64, 48), fps: int = 25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(CODECS[path.suffix], rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for t in range(frames):
            image = np.full((size[1], size[0], 3), level(t), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(folder: Path, frames: int = 12, size: tuple[int, int] = (64, 48)) -> Path:
    """frame1.png ... frame12.png: lexically frame10 sorts before frame2."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        Image.fromarray(np.full((size[1], size[0], 3), level(t), dtype=np.uint8)).save(folder / f"frame{t + 1}.png")
    return folder


def write_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 8)
    return path


UCF_CLASSES = ["ApplyEyeMakeup", "Basketball", "Biking", "YoYo"]  # YoYo is not a MiniUCF class


def make_ucf101(root: Path) -> dict[str, object]:
    """UCF101 layout, 4 classes, split 1: 2 train + 1 test clip per class. Bad entries: one corrupt train video
    (Basketball), one too short (Biking), one listed but missing (ApplyEyeMakeup test); one train clip is a frame
    folder (Biking g02)."""
    videos, lists = root / "UCF-101", root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(UCF_CLASSES)))
    train, test = [], []
    for label, name in enumerate(UCF_CLASSES):
        for group, split in ((1, train), (2, train), (8, test)):
            relative = f"{name}/v_{name}_g{group:02d}_c01.avi"
            split.append(f"{relative} {label + 1}" if split is train else relative)
            path = videos / relative
            if name == "Basketball" and group == 1:
                write_corrupt(path)
            elif name == "Biking" and group == 1:
                write_video(path, frames=SHORT_FRAMES)
            elif name == "Biking" and group == 2:
                write_frame_folder(path.with_suffix(""))
            elif not (name == "ApplyEyeMakeup" and group == 8):
                write_video(path)
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")  # the official lists use CRLF
    return {"failed": {"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01": "missing",
                       "Basketball/v_Basketball_g01_c01": "unreadable",
                       "Biking/v_Biking_g01_c01": "too short"}}


HMDB_CLASSES = ["brush_hair", "cartwheel", "pullup"]


def make_hmdb51(root: Path) -> None:
    """HMDB51 layout, 3 classes: per class one train (1), one test (2) and one unused (0) video."""
    lists = root / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True)
    for name in HMDB_CLASSES:
        lines = []
        for number, split_id in enumerate((1, 2, 0)):
            video = f"{name}_clip_{number}.avi"
            write_video(root / "hmdb51" / name / video)
            lines.append(f"{video} {split_id} ")  # the official files end each line with a space
        (lists / f"{name}_test_split1.txt").write_text("\n".join(lines) + "\n")


K400_CLASSES = ["abseiling", "air drumming", "zumba"]


def make_kinetics400(root: Path) -> None:
    """Kinetics-400 layout, 3 classes: 2 train + 1 validate clip each in class folders, one train clip missing."""
    root.mkdir(parents=True, exist_ok=True)
    for split_name, count, csv_name in (("train", 2, "train.csv"), ("val", 1, "validate.csv")):
        with (root / csv_name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
            for c, name in enumerate(K400_CLASSES):
                for number in range(count):
                    youtube_id = f"yt{split_name}{c}{number}xxxx"
                    start = 10 * number
                    writer.writerow([name, youtube_id, start, start + 10, split_name, 0])
                    if (c, number, split_name) != (2, 1, "train"):
                        write_video(root / split_name / name / f"{youtube_id}_{start:06d}_{start + 10:06d}.mp4")


SSV2_TEMPLATES = ["Pushing something from left to right", "Pushing something from right to left",
                  "Turning something upside down"]


def make_ssv2(root: Path) -> None:
    """SSv2 layout, 3 classes: labels.json, train.json (2 per class), validation.json (1 per class), .webm videos."""
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "labels.json").write_text(json.dumps({t: str(i) for i, t in enumerate(SSV2_TEMPLATES)}))
    next_id = 1000
    for file_name, count in (("train.json", 2), ("validation.json", 1)):
        entries = []
        for template in SSV2_TEMPLATES:
            for _ in range(count):
                bracketed = template.replace("something", "[something]")
                entries.append({"id": str(next_id), "label": template.lower(), "template": bracketed,
                                "placeholders": ["a cup"]})
                write_video(root / "20bn-something-something-v2" / f"{next_id}.webm")
                next_id += 1
        (root / "labels" / file_name).write_text(json.dumps(entries))


FOLDER_CLASSES = ["jump", "run", "wave"]


def make_folder(root: Path, per_class: int = 5) -> None:
    """Own-videos layout: root/<class>/<video>.mp4, `per_class` per class, no split file."""
    for name in FOLDER_CLASSES:
        for number in range(per_class):
            write_video(root / name / f"{name}{number}.mp4")
