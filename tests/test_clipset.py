"""The one prepared-clip format: round trip, clear errors, and the train/validation carve."""

import json

import numpy as np
import pandas as pd
import pytest

from tsgf.clipset import MANIFEST_COLUMNS, clips_sha256, load_clipset, train_and_holdout, write_clipset
from tsgf.errors import ClipSetError


def write_small(path, per_class=10):
    labels = np.repeat([0, 1], per_class)
    clips = np.random.default_rng(0).integers(0, 255, (len(labels), 3, 3, 8, 8), dtype=np.uint8)
    manifest = pd.DataFrame({"index": np.arange(len(labels)), "clip_id": [f"c{i}" for i in range(len(labels))],
                             "label": labels, "class_name": np.where(labels == 0, "a", "b"),
                             "split": ["train"] * 16 + ["test"] * 4 if per_class == 10 else "train",
                             "source": "test", "status": "ok", "reason": ""})
    write_clipset(path, clips, manifest, ["a", "b"], [0.5] * 3, [0.25] * 3, {"made_by": "test"})
    return clips, manifest


def test_round_trip_is_memory_mapped_and_hashed(tmp_path):
    clips, _ = write_small(tmp_path)
    loaded = load_clipset(tmp_path)
    assert isinstance(loaded.clips, np.memmap)
    assert np.array_equal(loaded.clips, clips) and loaded.meta["sha256"] == clips_sha256(clips)
    assert loaded.classes == ["a", "b"] and loaded.clip_shape == (3, 3, 8, 8)
    assert list(loaded.indices("test")) == [16, 17, 18, 19]


def test_failed_clips_are_listed_but_not_loaded(tmp_path):
    write_small(tmp_path)
    manifest = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    manifest.loc[len(manifest)] = [-1, "broken.avi", 0, "a", "train", "raw/broken.avi", "failed", "truncated"]
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    loaded = load_clipset(tmp_path)
    assert "broken.avi" not in set(loaded.manifest["clip_id"]) and len(loaded.manifest) == 20


def test_a_missing_file_is_named(tmp_path):
    write_small(tmp_path)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(ClipSetError, match=r"meta\.json is missing"):
        load_clipset(tmp_path)


def test_a_shape_mismatch_is_named(tmp_path):
    write_small(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["clip_shape"] = [4, 3, 8, 8]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ClipSetError, match="clips of shape"):
        load_clipset(tmp_path)


def test_validation_is_carved_from_train_per_class_and_never_touches_test(tmp_path):
    write_small(tmp_path)
    data = load_clipset(tmp_path)
    train, val = train_and_holdout(data, "val", 0.25)
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(data.indices("train"))
    assert not set(val) & set(data.indices("test"))
    assert sorted(np.bincount(data.labels(val))) == [2, 2]  # 25% of 8 train clips per class
    again, _ = train_and_holdout(data, "val", 0.25)
    assert np.array_equal(train, again)
    assert MANIFEST_COLUMNS[0] == "index"
