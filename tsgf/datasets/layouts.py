"""The raw layouts users have, read into one index: which clips exist, their class and split, and where their
pixels are (a video file or a frame folder).

Layouts (dataset.layout), each read from its official split files under `dataset.root`:
  ucf101       UCF-101/<Class>/v_<Class>_gXX_cYY.avi + ucfTrainTestlist/{classInd,trainlistNN,testlistNN}.txt
  hmdb51       hmdb51/<class>/<name>.avi + testTrainMulti_7030_splits/<class>_test_splitN.txt (1 train, 2 test,
               0 unused)
  kinetics400  train.csv / validate.csv (label, youtube_id, time_start, time_end, ...) + videos named
               <youtube_id>_<start:06d>_<end:06d>.<ext> anywhere below the root (flat or in class folders)
  ssv2         labels.json, train.json, validation.json (in the root or root/labels) + <id>.webm
  folder       <class>/<video or frame folder>, with a split file or a per-class test fraction
Any clip may be a frame folder (numbered images) instead of a video: a folder named like the video without its
extension. Clips the split files list but the disk lacks are kept in the index, so preparation reports them.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsgf.datasets.video import FRAME_SUFFIXES, VIDEO_SUFFIXES
from tsgf.errors import TSGFError

# MiniUCF (the video distillation benchmark's): a fixed 50-class subset of UCF101; label = position in this sorted list.
MINIUCF_CLASSES = (
    "ApplyEyeMakeup", "BalanceBeam", "BandMarching", "BaseballPitch", "Basketball", "BasketballDunk", "Biking",
    "Billiards", "BlowingCandles", "Bowling", "BreastStroke", "CleanAndJerk", "CliffDiving", "CricketShot", "Diving",
    "FloorGymnastics", "FrisbeeCatch", "GolfSwing", "HammerThrow", "HighJump", "HorseRace", "HorseRiding",
    "HulaHoop", "IceDancing", "JumpingJack", "Knitting", "MilitaryParade", "Mixing", "ParallelBars", "PlayingPiano",
    "PlayingViolin", "PoleVault", "PommelHorse", "Punch", "Rafting", "Rowing", "SkateBoarding", "Skiing", "Skijet",
    "SkyDiving", "SoccerPenalty", "StillRings", "SumoWrestling", "Surfing", "Swing", "TennisSwing",
    "TrampolineJumping", "UnevenBars", "VolleyballSpiking", "WritingOnBoard",
)
LAYOUTS = ("motion", "ucf101", "hmdb51", "kinetics400", "ssv2", "folder")
EXPECTED_LAYOUT = {
    "ucf101": "UCF-101/<Class>/<video>.avi (or the class folders directly in the root) and "
              "ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt",
    "hmdb51": "hmdb51/<class>/<video>.avi (or the class folders directly in the root) and "
              "testTrainMulti_7030_splits/<class>_test_split1.txt",
    "kinetics400": "train.csv and validate.csv (columns label, youtube_id, time_start, time_end) and the videos "
                   "<youtube_id>_<start:06d>_<end:06d>.mp4 anywhere below the root",
    "ssv2": "labels.json, train.json and validation.json (in the root or root/labels) and the videos <id>.webm",
    "folder": "<class>/<video or frame folder>, one folder per class",
}
CLASS_COUNTS = {"hmdb51": 51, "kinetics400": 400, "ssv2": 174}


class DatasetLayoutError(TSGFError):
    """The dataset root is missing or does not look like the layout the config names."""


@dataclass(frozen=True)
class VideoRecord:
    clip_id: str  # stable and unique within the dataset, e.g. "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"
    source: Path  # video file or frame folder; may not exist (preparation reports it as missing)
    label: int
    class_name: str
    split: str  # "train" or "test"


@dataclass
class DatasetIndex:
    classes: list[str]
    records: list[VideoRecord]

    def counts(self) -> dict[str, int]:
        return {split: sum(r.split == split for r in self.records) for split in ("train", "test")}


def _layout_error(layout: str, root: Path, problem: str) -> DatasetLayoutError:
    return DatasetLayoutError(f"dataset.root {root}: {problem}. Layout '{layout}' expects {EXPECTED_LAYOUT[layout]}; "
                              f"point dataset.root at that folder")


def _check_root(layout: str, root: Path) -> None:
    if not root.is_dir():
        raise _layout_error(layout, root, "does not exist or is not a folder")


def _first_dir(root: Path, *names: str) -> Path:
    """root/<name> for the first name that exists, else the root itself."""
    return next((root / name for name in names if (root / name).is_dir()), root)


def _first_file(layout: str, root: Path, candidates: list[Path]) -> Path:
    for path in candidates:
        if path.is_file():
            return path
    raise _layout_error(layout, root, f"{candidates[0].relative_to(root)} is missing")


def resolve_media(path: Path) -> Path:
    """The video or frame folder for a listed clip: the path itself, the same name with another video extension,
    or a frame folder named like it without the extension. Returns `path` when none exists (a missing clip)."""
    if path.is_file():
        return path
    stem = path.with_suffix("") if path.suffix.lower() in VIDEO_SUFFIXES else path
    for suffix in VIDEO_SUFFIXES:
        if stem.with_suffix(suffix).is_file():
            return stem.with_suffix(suffix)
    if stem.is_dir():
        return stem
    return path


def _is_media(path: Path) -> bool:
    if path.is_dir():
        return any(p.suffix.lower() in FRAME_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in VIDEO_SUFFIXES


def _select_classes(all_classes: list[str], classes: str | list[str], layout: str) -> list[str]:
    if classes == "all":
        return all_classes
    wanted = list(MINIUCF_CLASSES) if classes == "miniucf" else list(classes)
    by_lower = {name.lower(): name for name in all_classes}
    unknown = [name for name in wanted if name.lower() not in by_lower]
    if unknown:
        raise DatasetLayoutError(f"dataset.classes names {len(unknown)} classes that the {layout} split files do "
                                 f"not list ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}); they "
                                 f"list {len(all_classes)} ({', '.join(all_classes[:5])}, ...)")
    return sorted(by_lower[name.lower()] for name in wanted)


def index_ucf101(root: Path, split: int = 1, classes: str | list[str] = "all") -> DatasetIndex:
    """UCF101 official split `split`; `classes` "miniucf" restricts to the 50 MiniUCF classes (labels re-indexed)."""
    _check_root("ucf101", root)
    class_file = _first_file("ucf101", root, [root / "ucfTrainTestlist" / "classInd.txt", root / "classInd.txt"])
    lists = class_file.parent
    all_classes = [line.split()[1] for line in class_file.read_text().splitlines() if line.strip()]
    selected = _select_classes(all_classes, classes, "ucf101")
    label_of = {name.lower(): label for label, name in enumerate(selected)}
    videos = _first_dir(root, "UCF-101", "UCF101")
    records = []
    for split_name, list_name in (("train", f"trainlist{split:02d}.txt"), ("test", f"testlist{split:02d}.txt")):
        list_file = _first_file("ucf101", root, [lists / list_name])
        for line in list_file.read_text().splitlines():
            if not line.strip():
                continue
            relative = line.split()[0].replace("\\", "/")
            class_dir = relative.split("/")[0]
            if class_dir.lower() not in label_of:  # official lists differ in case (HandStandPushups)
                continue
            label = label_of[class_dir.lower()]
            # the folder is named as in classInd (the lists spell a few classes differently)
            source = resolve_media(videos / selected[label] / relative.split("/", 1)[-1])
            records.append(VideoRecord(relative.rsplit(".", 1)[0], source, label, selected[label], split_name))
    return DatasetIndex(selected, records)


def index_hmdb51(root: Path, split: int = 1, train_set: str = "all_non_test") -> DatasetIndex:
    """HMDB51 official split `split`: test = id 2; train = id 1 ("official", 70/30) or ids 0 and 1
    ("all_non_test", the benchmark's train set)."""
    _check_root("hmdb51", root)
    lists = _first_dir(root, "testTrainMulti_7030_splits")
    suffix = f"_test_split{split}.txt"
    split_files = sorted(p for p in lists.glob(f"*{suffix}"))
    if not split_files:
        raise _layout_error("hmdb51", root, f"no *{suffix} files in {lists}")
    classes = sorted(p.name[: -len(suffix)] for p in split_files)
    train_ids = {"1"} if train_set == "official" else {"0", "1"}
    videos = _first_dir(root, "hmdb51")
    records = []
    for label, name in enumerate(classes):
        for line in (lists / f"{name}{suffix}").read_text().splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            video, split_id = parts[0], parts[1]
            split_name = "test" if split_id == "2" else "train" if split_id in train_ids else None
            if split_name:
                records.append(VideoRecord(f"{name}/{video.rsplit('.', 1)[0]}",
                                           resolve_media(videos / name / video), label, name, split_name))
    return DatasetIndex(classes, records)


def _media_by_stem(root: Path) -> dict[str, Path]:
    """Every video file and frame folder below `root`, by name without extension (one walk, for 240k clips)."""
    found: dict[str, Path] = {}
    for directory, subdirs, files in os.walk(root):
        base = Path(directory)
        for name in files:
            if name.lower().endswith(VIDEO_SUFFIXES):
                found.setdefault(name.rsplit(".", 1)[0], base / name)
        for name in subdirs:
            found.setdefault(name, base / name)  # a frame folder; real class folders never match a clip name
    return found


def index_kinetics400(root: Path) -> DatasetIndex:
    """Kinetics-400: the official train CSV, and the validation CSV as the test split."""
    _check_root("kinetics400", root)
    train_csv = _first_file("kinetics400", root, [root / "train.csv", root / "annotations" / "train.csv"])
    val_csv = _first_file("kinetics400", root, [root / "validate.csv", root / "val.csv",
                                                root / "annotations" / "validate.csv"])
    rows = {}
    for split_name, path in (("train", train_csv), ("test", val_csv)):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"label", "youtube_id", "time_start", "time_end"} - set(reader.fieldnames or [])
            if missing:
                raise _layout_error("kinetics400", root, f"{path.name} lacks the columns {sorted(missing)}")
            rows[split_name] = list(reader)
    classes = sorted({row["label"].strip() for row in rows["train"]})
    label_of = {name: label for label, name in enumerate(classes)}
    media = _media_by_stem(root)
    records = []
    for split_name, split_rows in rows.items():
        for row in split_rows:
            name = row["label"].strip()
            if name not in label_of:
                raise _layout_error("kinetics400", root, f"class {name!r} of {split_name} clip "
                                    f"{row['youtube_id']} is not in train.csv")
            stem = f"{row['youtube_id']}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
            records.append(VideoRecord(stem, media.get(stem, root / f"{stem}.mp4"), label_of[name], name,
                                       split_name))
    return DatasetIndex(classes, records)


def index_ssv2(root: Path) -> DatasetIndex:
    """Something-Something V2: labels.json gives the class index of each template; validation is the test split."""
    _check_root("ssv2", root)
    label_dir = _first_dir(root, "labels")
    labels_file = _first_file("ssv2", root, [label_dir / "labels.json", root / "labels.json"])
    label_of = {name: int(index) for name, index in json.loads(labels_file.read_text()).items()}
    classes = [name for name, _ in sorted(label_of.items(), key=lambda item: item[1])]
    videos = _first_dir(root, "20bn-something-something-v2", "videos")
    records = []
    for split_name, file_name in (("train", "train.json"), ("test", "validation.json")):
        split_file = _first_file("ssv2", root, [label_dir / file_name, root / file_name])
        for entry in json.loads(split_file.read_text()):
            name = entry["template"].replace("[", "").replace("]", "")
            if name not in label_of:
                raise _layout_error("ssv2", root, f"{split_file.name}: template {entry['template']!r} of video "
                                    f"{entry['id']} is not in {labels_file.name}")
            records.append(VideoRecord(str(entry["id"]), resolve_media(videos / f"{entry['id']}.webm"),
                                       label_of[name], name, split_name))
    return DatasetIndex(classes, records)


def folder_classes(root: Path) -> list[str]:
    _check_root("folder", root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise _layout_error("folder", root, f"holds {len(classes)} class folder(s), at least 2 are needed")
    return classes


def index_folder(root: Path, split_file: str | None = None, test_fraction: float = 0.2, seed: int = 0
                 ) -> DatasetIndex:
    """root/<class>/<clip>. Splits from `split_file` (lines "<class>/<clip> train|test", relative to the root) or,
    without one, a seeded per-class random `test_fraction`."""
    classes = folder_classes(root)
    label_of = {name: label for label, name in enumerate(classes)}
    records = []
    if split_file:
        path = root / split_file
        if not path.is_file():
            raise _layout_error("folder", root, f"dataset.folder.split_file {split_file} does not exist")
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("train", "test") or parts[0].split("/")[0] not in label_of:
                raise DatasetLayoutError(f"{path}, line {number}: expected '<class>/<clip> train|test' with a class "
                                         f"folder of {root}, got {line!r}")
            name = parts[0].split("/")[0]
            records.append(VideoRecord(parts[0].rsplit(".", 1)[0] if Path(parts[0]).suffix else parts[0],
                                       resolve_media(root / parts[0]), label_of[name], name, parts[1]))
        return DatasetIndex(classes, records)
    rng = np.random.default_rng(seed)
    for name in classes:
        clips = sorted((p for p in (root / name).iterdir() if _is_media(p)), key=lambda p: p.name)
        n_test = int(round(test_fraction * len(clips)))
        test = set(rng.permutation(len(clips))[:n_test].tolist())
        for number, clip in enumerate(clips):
            clip_id = f"{name}/{clip.name.rsplit('.', 1)[0] if clip.is_file() else clip.name}"
            records.append(VideoRecord(clip_id, clip, label_of[name], name, "test" if number in test else "train"))
    return DatasetIndex(classes, records)


def build_index(params: dict[str, Any]) -> DatasetIndex:
    """The index of a real dataset from its (validated) `dataset` config section."""
    layout, root = params["layout"], Path(params["root"]).expanduser()
    if layout == "ucf101":
        index = index_ucf101(root, params["split"], params["classes"])
    elif layout == "hmdb51":
        index = index_hmdb51(root, params["split"], params["hmdb51_train"])
    elif layout == "kinetics400":
        index = index_kinetics400(root)
    elif layout == "ssv2":
        index = index_ssv2(root)
    elif layout == "folder":
        folder = params["folder"]
        index = index_folder(root, folder["split_file"], folder["test_fraction"], folder["seed"])
    else:
        raise DatasetLayoutError(f"dataset.layout {layout!r} has no reader; expected one of {LAYOUTS[1:]}")
    if layout in ("hmdb51", "kinetics400", "ssv2") and params["classes"] != "all":
        wanted = _select_classes(index.classes, params["classes"], layout)
        index = _restrict(index, wanted)
    if not index.records:
        raise _layout_error(layout, root, "its split files list no clips")
    return index


def _restrict(index: DatasetIndex, classes: list[str]) -> DatasetIndex:
    label_of = {name: label for label, name in enumerate(classes)}
    return DatasetIndex(classes, [VideoRecord(r.clip_id, r.source, label_of[r.class_name], r.class_name, r.split)
                                  for r in index.records if r.class_name in label_of])


def expected_num_classes(params: dict[str, Any]) -> int:
    """How many classes a dataset config yields, known before preparation (the workflow plans shards with it)."""
    layout, classes = params["layout"], params["classes"]
    if layout == "motion":
        return len(params["motion"]["classes"])
    if isinstance(classes, list):
        return len(classes)
    if classes == "miniucf":
        return len(MINIUCF_CLASSES)
    if layout == "ucf101":
        return 101
    if layout == "folder":
        return len(folder_classes(Path(params["root"]).expanduser()))
    return CLASS_COUNTS[layout]


__all__ = ["MINIUCF_CLASSES", "LAYOUTS", "EXPECTED_LAYOUT", "DatasetLayoutError", "VideoRecord", "DatasetIndex",
           "resolve_media", "index_ucf101", "index_hmdb51", "index_kinetics400", "index_ssv2", "index_folder",
           "folder_classes", "build_index", "expected_num_classes"]
