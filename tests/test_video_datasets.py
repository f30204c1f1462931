"""Real-dataset reading: frame sampling, time order, each official layout and split, bad files and bad roots,
and the streaming, resumable preparation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import video_fixtures as fx
from tsgf.clipset import load_clipset
from tsgf.datasets.layouts import (MINIUCF_CLASSES, DatasetLayoutError, build_index, expected_num_classes,
                                   index_ucf101)
from tsgf.datasets.prepare import prepare_video_dataset
from tsgf.datasets.video import ClipReadError, list_frame_files, read_clip, sample_indices
from schema_configs import clip_spec

SMALL = clip_spec(frames=4, stride=3, resize=(40, 30), crop=24)


def params(layout: str, root: Path, **overrides) -> dict:
    return {"layout": layout, "root": str(root), "split": 1, "classes": "all", "hmdb51_train": "all_non_test",
            "folder": {"split_file": None, "test_fraction": 0.2, "seed": 0}, **overrides}


# ------------------------------------------------------------------------------------------------ frame sampling


def test_stride_sampling_is_centred_at_test_and_denser_for_short_videos():
    spec = clip_spec(frames=16, stride=4)
    assert sample_indices(100, spec, "test", "a").tolist() == list(range(19, 80, 4))  # span 61, slack 39
    assert sample_indices(40, spec, "test", "a").tolist() == list(range(4, 35, 2))  # stride 40 // 16 = 2
    assert sample_indices(16, spec, "test", "a").tolist() == list(range(16))


def test_stride_sampling_starts_at_random_in_train_fixed_per_clip():
    spec = clip_spec(frames=16, stride=4)
    starts = {int(sample_indices(100, spec, "train", f"clip{i}")[0]) for i in range(50)}
    assert len(starts) > 10 and min(starts) >= 0 and max(starts) <= 39
    assert (sample_indices(100, spec, "train", "x") == sample_indices(100, spec, "train", "x")).all()
    assert (sample_indices(100, clip_spec(train_start="center"), "train", "x")[0]) == 19


def test_uniform_sampling_takes_segment_centres_and_fps_sampling_the_middle():
    assert sample_indices(80, clip_spec(frames=8, sampling="uniform"), "train", "a").tolist() == list(range(5, 80, 10))
    fps = clip_spec(frames=8, sampling="fps", fps=2.0)
    assert sample_indices(300, fps, "test", "a", video_fps=25.0).tolist() == list(range(107, 192, 12))
    assert sample_indices(50, fps, "test", "a", video_fps=25.0).tolist() == list(range(3, 46, 6))  # step 50 // 8 = 6


def test_too_short_video_is_an_error_with_the_reason():
    with pytest.raises(ClipReadError, match="too short: 10 frames, a clip needs 16"):
        sample_indices(10, clip_spec(), "test", "a")


# ------------------------------------------------------------------------------------------------ reading clips


def test_frame_folder_is_read_in_numeric_order(tmp_path):
    folder = fx.write_frame_folder(tmp_path / "clip", frames=12)
    names = [p.name for p in list_frame_files(folder)]
    assert names[8:11] == ["frame9.png", "frame10.png", "frame11.png"]  # lexically frame10 < frame2
    clip = read_clip(folder, SMALL, "test", "clip")  # 12 frames, stride 3: frames 1, 4, 7, 10 (0-based)
    assert clip.shape == (4, 3, 24, 24)
    assert clip[:, 0, 12, 12].tolist() == [fx.level(t) for t in (1, 4, 7, 10)]
    assert (clip == clip[:, :, :1, :1]).all()  # one spatial transform, flat frames stay flat


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".webm"])
def test_videos_decode_to_frames_in_time_order(tmp_path, suffix):
    path = fx.write_video(tmp_path / f"clip{suffix}")
    clip = read_clip(path, clip_spec(frames=4, stride=3, resize=(40, 30), crop=24), "test", "clip")
    assert clip.shape == (4, 3, 24, 24) and clip.dtype == np.uint8
    expected = [fx.level(t) for t in (5, 8, 11, 14)]  # 20 frames: span 10, slack 10, centred start 5
    assert np.abs(clip[:, :, 12, 12].mean(axis=1) - expected).max() < 8  # lossy codecs


def test_benchmark_clip_shape_from_a_4_3_video(tmp_path):
    path = fx.write_video(tmp_path / "clip.avi", frames=70, size=(320, 240))
    assert read_clip(path, clip_spec(), "train", "clip").shape == (16, 3, 112, 112)
    squashed = clip_spec(frames=8, sampling="uniform", resize=(64, 64), crop=None)
    assert read_clip(path, squashed, "test", "clip").shape == (8, 3, 64, 64)


def test_bad_files_raise_the_manifest_reason(tmp_path):
    cases = {fx.write_corrupt(tmp_path / "corrupt.avi"): "unreadable",
             fx.write_video(tmp_path / "short.mp4", frames=2): "too short",
             tmp_path / "absent.avi": "missing"}
    (tmp_path / "empty.avi").write_bytes(b"")
    cases[tmp_path / "empty.avi"] = "unreadable: empty file"
    for path, reason in cases.items():
        with pytest.raises(ClipReadError, match=f"^{reason}"):
            read_clip(path, SMALL, "test", path.stem)


@pytest.mark.parametrize("suffix, reason", [
    (".avi", "truncated: the container lists 40 frames, 2 are present; a clip needs 16"),
    (".mp4", "unreadable: InvalidDataError"),  # the index (moov) is written last: a cut mp4 cannot be opened
])
def test_cut_video_is_reported_as_truncated_or_unreadable(tmp_path, suffix, reason):
    path = fx.write_video(tmp_path / f"cut{suffix}", frames=40, size=(160, 120))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ClipReadError, match=f"^{reason}"):
        read_clip(path, clip_spec(frames=16, stride=2, resize=(40, 30), crop=24), "test", "cut")


# ------------------------------------------------------------------------------------------------ layouts


def test_ucf101_layout_reads_split_1_and_restricts_classes(tmp_path):
    fx.make_ucf101(tmp_path)
    everything = build_index(params("ucf101", tmp_path))
    assert everything.classes == fx.UCF_CLASSES and everything.counts() == {"train": 8, "test": 4}
    subset = build_index(params("ucf101", tmp_path, classes=["Biking", "ApplyEyeMakeup", "Basketball"]))
    assert subset.classes == ["ApplyEyeMakeup", "Basketball", "Biking"]  # label = position in the sorted list
    assert {(r.class_name, r.label) for r in subset.records} == {("ApplyEyeMakeup", 0), ("Basketball", 1),
                                                                ("Biking", 2)}
    folder = next(r for r in subset.records if r.clip_id == "Biking/v_Biking_g02_c01")
    assert folder.source.is_dir()  # a pre-extracted frame folder stands in for the video


def test_hmdb51_presets_all_non_test_and_official_70_30(tmp_path):
    fx.make_hmdb51(tmp_path)
    assert build_index(params("hmdb51", tmp_path)).counts() == {"train": 6, "test": 3}
    official = build_index(params("hmdb51", tmp_path, hmdb51_train="official"))
    assert official.counts() == {"train": 3, "test": 3} and official.classes == fx.HMDB_CLASSES


def test_kinetics400_layout_finds_clips_in_class_folders_and_keeps_missing_ones(tmp_path):
    fx.make_kinetics400(tmp_path)
    index = build_index(params("kinetics400", tmp_path))
    assert index.classes == fx.K400_CLASSES and index.counts() == {"train": 6, "test": 3}
    missing = [r for r in index.records if not r.source.exists()]
    assert [r.clip_id for r in missing] == ["yttrain21xxxx_000010_000020"]


def test_ssv2_layout_maps_templates_to_label_ids(tmp_path):
    fx.make_ssv2(tmp_path)
    index = build_index(params("ssv2", tmp_path))
    assert index.classes == fx.SSV2_TEMPLATES and index.counts() == {"train": 6, "test": 3}
    assert all(r.source.suffix == ".webm" and r.source.is_file() for r in index.records)
    assert [r.label for r in index.records if r.split == "test"] == [0, 1, 2]


def test_folder_layout_splits_by_ratio_or_by_split_file(tmp_path):
    fx.make_folder(tmp_path, per_class=5)
    by_ratio = build_index(params("folder", tmp_path))
    assert by_ratio.counts() == {"train": 12, "test": 3}
    assert build_index(params("folder", tmp_path)).records == by_ratio.records  # seeded
    (tmp_path / "split.txt").write_text("jump/jump0.mp4 test\nrun/run1.mp4 train\nwave/wave2.mp4 train\n")
    by_file = build_index(params("folder", tmp_path, folder={"split_file": "split.txt", "test_fraction": 0.2,
                                                             "seed": 0}))
    assert [(r.clip_id, r.split) for r in by_file.records] == [("jump/jump0", "test"), ("run/run1", "train"),
                                                               ("wave/wave2", "train")]
    assert expected_num_classes(params("folder", tmp_path)) == 3


def test_miniucf_split_1_gives_4662_train_and_1861_test_clips(tmp_path):
    """Official-format lists generated from the benchmark's published per-class counts, plus classes outside
    MiniUCF (which must be left out); no video needs to exist to count the split."""
    counts = json.loads((Path(__file__).parent / "data" / "miniucf_split1_counts.json").read_text())
    others = {"YoYo": (100, 30), "Archery": (100, 40)}
    classes = sorted({**counts, **others}, key=str.lower)
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {name}\n" for i, name in enumerate(classes)))
    train, test = [], []
    for label, name in enumerate(classes):
        n_train, n_test = counts.get(name) or others[name]
        train += [f"{name}/v_{name}_g{8 + i // 7:02d}_c{i % 7 + 1:02d}.avi {label + 1}" for i in range(n_train)]
        test += [f"{name}/v_{name}_g{1 + i // 7:02d}_c{i % 7 + 1:02d}.avi" for i in range(n_test)]
    (lists / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    index = index_ucf101(tmp_path, split=1, classes="miniucf")
    assert index.counts() == {"train": 4662, "test": 1861}
    assert index.classes == list(MINIUCF_CLASSES) == sorted(MINIUCF_CLASSES) and len(index.classes) == 50
    assert {r.class_name for r in index.records} == set(MINIUCF_CLASSES)
    assert all(index.classes[r.label] == r.class_name for r in index.records)


@pytest.mark.parametrize("layout", ["ucf101", "hmdb51", "kinetics400", "ssv2", "folder"])
def test_missing_root_names_the_path_and_the_expected_layout(tmp_path, layout):
    with pytest.raises(DatasetLayoutError, match=f"dataset.root {tmp_path / 'nowhere'}: does not exist.*expects"):
        build_index(params(layout, tmp_path / "nowhere"))


def test_root_of_another_layout_says_what_is_missing(tmp_path):
    fx.make_hmdb51(tmp_path)
    with pytest.raises(DatasetLayoutError, match=r"ucfTrainTestlist/classInd.txt is missing\. Layout 'ucf101' "
                                                 r"expects UCF-101/"):
        build_index(params("ucf101", tmp_path))
    with pytest.raises(DatasetLayoutError, match="train.csv is missing"):
        build_index(params("kinetics400", tmp_path))


# ------------------------------------------------------------------------------------------------ preparation


def test_preparation_keeps_every_clip_and_reports_bad_ones(tmp_path):
    expected = fx.make_ucf101(tmp_path / "raw")
    index = build_index(params("ucf101", tmp_path / "raw"))
    meta = prepare_video_dataset(index, SMALL, tmp_path / "prepared", {"test": 1}, threads=2)
    manifest = pd.read_csv(tmp_path / "prepared" / "manifest.csv", keep_default_na=False)
    assert len(manifest) == len(index.records) == 12  # nothing dropped
    failed = manifest[manifest["status"] == "failed"].set_index("clip_id")["reason"]
    assert {clip: reason.split(":")[0] for clip, reason in failed.items()} == expected["failed"]
    assert (manifest.loc[manifest["status"] == "failed", "index"] == -1).all()
    assert meta["failed"] == {"total": 3, "missing": 1, "unreadable": 1, "too short": 1}
    assert meta["counts"] == {"train": 6, "test": 3}
    data = load_clipset(tmp_path / "prepared")
    assert data.clip_shape == (4, 3, 24, 24) and data.classes == fx.UCF_CLASSES
    grey = data.clips[data.indices("train")][:, :, :, 12, 12].mean(axis=2).astype(float)
    assert (np.diff(grey, axis=1) > 20).all()  # every prepared clip runs forward in time
    assert not (tmp_path / "prepared.partial").exists()


def test_a_killed_preparation_resumes_and_gives_the_same_clips(tmp_path):
    """SIGKILL the real CLI once its journal holds some clips; the re-run continues and ends bit-identical."""
    video = fx.write_video(tmp_path / "one.avi", frames=48, size=(320, 240))
    for name in fx.FOLDER_CLASSES:
        (tmp_path / "raw" / name).mkdir(parents=True)
        for number in range(120):
            os.symlink(video, tmp_path / "raw" / name / f"{name}{number:03d}.avi")
    spec = {**params("folder", tmp_path / "raw"), "name": "resume", "normalisation": "dataset",
            "clip": {"frames": 8, "sampling": "stride", "stride": 4, "fps": 2.0, "train_start": "random",
                     "resize": [160, 120], "crop": 112}}
    command = [sys.executable, "-m", "tsgf", "prepare_dataset", "--params", json.dumps(spec), "--threads", "1", "--out"]
    journal = tmp_path / "killed.partial" / "journal.csv"
    process = subprocess.Popen(command + [str(tmp_path / "killed")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (journal.exists() and journal.read_text().count("\n") >= 64) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "preparation ended before it could be killed"
    done_before = journal.read_text().count("\n")
    resumed = subprocess.run(command + [str(tmp_path / "killed")], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming: {done_before} of 360 clips" in resumed.stderr
    uninterrupted = subprocess.run(command + [str(tmp_path / "whole")], capture_output=True, text=True)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    killed, whole = (json.loads((tmp_path / d / "meta.json").read_text()) for d in ("killed", "whole"))
    assert killed["sha256"] == whole["sha256"] and killed["mean"] == whole["mean"]
    assert killed["preparation"]["clips_decoded"] == 360 - done_before
    assert (tmp_path / "killed" / "manifest.csv").read_text() == (tmp_path / "whole" / "manifest.csv").read_text()
