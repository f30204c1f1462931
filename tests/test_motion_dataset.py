"""The procedural motion dataset: layout, determinism, exact time reversal, and that each class moves as named."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tsgf.clipset import MANIFEST_COLUMNS, load_clipset
from tsgf.datasets.motion import (
    MOTION_CLASSES,
    TIME_REVERSED_PAIRS,
    generate_motion_dataset,
    partner_labels,
    render_clip,
)
from tsgf.errors import ConfigError
from schema_configs import DEFAULTS

SMALL = {**DEFAULTS["dataset"]["motion"], "frames": 6, "size": 24, "train_per_class": 3, "test_per_class": 2}
MOVING = [name for name in MOTION_CLASSES if name != "static"]


def small(**overrides) -> dict:
    return {**SMALL, **overrides}


def frame_change(class_name: str, params: dict, clips: int = 16) -> np.ndarray:
    """Mean |x_{t+1} - x_t| (pixels in [0, 1]) of each of `clips` clips."""
    return np.array([np.abs(np.diff(render_clip(class_name, params, np.random.default_rng(s)) / 255.0, axis=0)).mean()
                     for s in range(clips)])


def moving_transitions(clip: np.ndarray) -> np.ndarray:
    """Indices t of the transitions x_t -> x_{t+1} that change any pixel."""
    return np.flatnonzero(np.diff(clip.astype(int), axis=0).any(axis=(1, 2, 3)))


def affine_flow(clip: np.ndarray) -> np.ndarray:
    """Least-squares affine motion (vx, vy, dvx/dx, dvx/dy, dvy/dx, dvy/dy) of the changing pixels (y points down)."""
    x = clip / 255.0
    dt, mid = x[1:] - x[:-1], (x[1:] + x[:-1]) / 2
    gy, gx = np.gradient(mid, axis=(2, 3))
    moving = np.abs(dt).sum(axis=(0, 1)) > 0
    yy, xx = np.mgrid[0 : x.shape[2], 0 : x.shape[3]].astype(float)
    xx, yy = xx - xx[moving].mean(), yy - yy[moving].mean()
    design = np.stack([c[..., moving].ravel() for c in (gx, gy, gx * xx, gx * yy, gy * xx, gy * yy)], axis=1)
    return np.linalg.lstsq(design, -dt[..., moving].ravel(), rcond=None)[0]


def test_layout_counts_and_meta(tmp_path):
    meta = generate_motion_dataset(SMALL, tmp_path)
    clipset = load_clipset(tmp_path)
    n_classes = len(MOTION_CLASSES)
    assert list(MOTION_CLASSES) == SMALL["classes"] and clipset.classes == SMALL["classes"]
    assert clipset.clips.shape == (n_classes * 5, 6, 3, 24, 24) and clipset.clips.dtype == np.uint8
    manifest = clipset.manifest
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert manifest["index"].tolist() == list(range(n_classes * 5))
    assert manifest["split"].tolist() == ["train"] * n_classes * 3 + ["test"] * n_classes * 2  # train first
    counts = manifest.groupby(["split", "class_name"]).size()
    assert all(counts["train"] == 3) and all(counts["test"] == 2) and len(counts) == 2 * n_classes
    assert (manifest["label"] == manifest["class_name"].map(SMALL["classes"].index)).all()
    assert manifest.loc[7, "clip_id"] == "train/move_up/0001"
    assert set(manifest["source"]) == {"generated"} and set(manifest["status"]) == {"ok"}
    assert meta["motion_only_classes"] == SMALL["classes"][:8]
    assert meta["recipe"] == {"generator": "tsgf.datasets.motion", "version": 1, "params": SMALL}
    train = clipset.clips[clipset.indices("train")] / 255.0
    np.testing.assert_allclose(meta["mean"], train.mean(axis=(0, 1, 3, 4)), atol=1e-9)
    np.testing.assert_allclose(meta["std"], train.std(axis=(0, 1, 3, 4)), atol=1e-9)


def test_subset_labels_and_motion_only_classes(tmp_path):
    classes = ["shrink", "static", "move_right", "grow"]
    meta = generate_motion_dataset(small(classes=classes), tmp_path)
    manifest = load_clipset(tmp_path).manifest
    assert meta["classes"] == classes
    assert meta["motion_only_classes"] == ["shrink", "grow"]  # move_right's partner is absent
    assert manifest.groupby("class_name")["label"].agg(set).to_dict() == {c: {i} for i, c in enumerate(classes)}


def test_determinism_and_class_order_independence(tmp_path):
    first = generate_motion_dataset(small(), tmp_path / "a")
    again = generate_motion_dataset(small(), tmp_path / "b")
    other = generate_motion_dataset(small(seed=1), tmp_path / "c")
    assert first["sha256"] == again["sha256"] != other["sha256"]
    assert (tmp_path / "a" / "clips.npy").read_bytes() == (tmp_path / "b" / "clips.npy").read_bytes()
    generate_motion_dataset(small(classes=["static", "grow"]), tmp_path / "d")
    generate_motion_dataset(small(classes=["grow", "oscillate", "move_left"]), tmp_path / "e")
    d, e = load_clipset(tmp_path / "d"), load_clipset(tmp_path / "e")
    for clip_id in ("train/grow/0002", "test/grow/0001"):
        row_d = d.manifest.set_index("clip_id").loc[clip_id, "index"]
        row_e = e.manifest.set_index("clip_id").loc[clip_id, "index"]
        np.testing.assert_array_equal(d.clips[row_d], e.clips[row_e])


@pytest.mark.parametrize("forward, reverse", TIME_REVERSED_PAIRS)
@pytest.mark.parametrize("camera_motion", [0.0, 0.05])
@pytest.mark.parametrize("active_fraction", [[0.5, 1.0], [0.4, 0.4], [1.0, 1.0]])
def test_reverse_class_is_the_time_reversed_forward_clip(forward, reverse, camera_motion, active_fraction):
    params = small(camera_motion=camera_motion, active_fraction=active_fraction)
    for seed in range(3):
        ahead = render_clip(forward, params, np.random.default_rng(seed))
        back = render_clip(reverse, params, np.random.default_rng(seed))
        np.testing.assert_array_equal(back, ahead[::-1])
        assert not np.array_equal(back, ahead)  # the clip really changes over time


def test_static_changes_only_by_noise_and_moving_classes_change_more():
    assert frame_change("static", small(noise_std=0.0)).max() == 0.0
    static = frame_change("static", small())
    # Two frames' i.i.d. N(0, s) noise differ by mean |N(0, s*sqrt 2)| = 2 s / sqrt(pi); clipping at 0 and 1
    # and rounding to 8 bits move that by a few percent.
    assert static.mean() == pytest.approx(2 * SMALL["noise_std"] / np.sqrt(np.pi), rel=0.08)
    for name in MOVING:
        assert frame_change(name, small()).mean() > 1.15 * static.mean(), name
    clean = {name: frame_change(name, small(noise_std=0.0)) for name in MOVING}
    assert min(change.min() for change in clean.values()) > 0.003  # every clip of every moving class moves
    means = [change.mean() for change in clean.values()]
    assert max(means) < 2.5 * min(means)  # comparable per-frame change across the moving classes


def test_motion_fills_one_random_contiguous_segment():
    params = small(frames=9, noise_std=0.0, active_fraction=[0.5, 0.5])
    for name in MOVING:
        starts = set()
        for seed in range(12):
            moving = moving_transitions(render_clip(name, params, np.random.default_rng(seed)))
            assert len(moving) == 4 and moving[-1] - moving[0] == 3, (name, seed, moving)  # round(0.5 * 8), contiguous
            starts.add(moving[0])
        assert len(starts) > 2, name  # the segment starts anywhere
    # [1, 1] moves throughout; the camera pans throughout whatever the object does.
    everywhere = list(range(8))
    for name in MOVING:
        clip = render_clip(name, small(frames=9, noise_std=0.0, active_fraction=[1.0, 1.0]), np.random.default_rng(0))
        assert moving_transitions(clip).tolist() == everywhere, name
    clip = render_clip("move_right", small(frames=9, noise_std=0.0, camera_motion=0.05, active_fraction=[0.2, 0.2]),
                       np.random.default_rng(0))
    assert moving_transitions(clip).tolist() == everywhere


def test_camera_motion_moves_the_static_class():
    assert frame_change("static", small(noise_std=0.0, camera_motion=0.05)).min() > 0.01
    assert frame_change("static", small(camera_motion=0.05)).mean() > 1.5 * frame_change("static", small()).mean()
    # The pan direction is uniformly random (else reversal would leak through it): the scene drifts every way.
    params = small(size=32, noise_std=0.0, camera_motion=0.01)
    drift = np.array([affine_flow(render_clip("static", params, np.random.default_rng(s)))[:2] for s in range(16)])
    assert (drift > 0.05).any(axis=0).all() and (drift < -0.05).any(axis=0).all()


def test_each_class_moves_the_way_its_name_says():
    # Slow, noise-free and distractor-free, so brightness constancy linearises well around the object.
    params = small(size=32, noise_std=0.0, distractors=0, speed=[0.01, 0.01])
    flows = {name: np.array([affine_flow(render_clip(name, params, np.random.default_rng(s))) for s in range(8)])
             for name in MOVING}
    vx, vy = {n: f[:, 0] for n, f in flows.items()}, {n: f[:, 1] for n, f in flows.items()}
    curl = {n: f[:, 4] - f[:, 3] for n, f in flows.items()}  # > 0: clockwise on screen (y points down)
    div = {n: f[:, 2] + f[:, 5] for n, f in flows.items()}
    assert (vx["move_right"] > 0.2).all() and (vx["move_left"] < -0.2).all()
    assert (vy["move_down"] > 0.2).all() and (vy["move_up"] < -0.2).all()
    assert (curl["rotate_cw"] > 0.05).all() and (curl["rotate_ccw"] < -0.05).all()
    assert (div["grow"] > 0.02).all() and (div["shrink"] < -0.02).all()


@pytest.mark.parametrize("key, value", [
    ("classes", ["move_right", "spin"]),
    ("classes", []),
    ("frames", 1),
    ("size", 8),
    ("train_per_class", 0),
    ("test_per_class", 0),
    ("object_scale", [0.3, 0.2]),
    ("speed", [0.06, 0.03]),
    ("active_fraction", [0.0, 0.5]),
    ("active_fraction", [0.5, 1.5]),
    ("active_fraction", [0.5]),
    ("noise_std", -0.1),
    ("seed", -1),
])
def test_bad_params_name_the_key(tmp_path, key, value):
    with pytest.raises(ConfigError, match=key) as error:
        generate_motion_dataset(small(**{key: value}), tmp_path)
    assert repr(value) in str(error.value)
    if value == ["move_right", "spin"]:
        assert "rotate_ccw" in str(error.value)  # the known classes are listed


def test_partner_labels_pair_only_the_motion_only_classes_present():
    classes = ["move_left", "static", "move_right", "grow"]
    assert partner_labels(classes, ["move_left", "move_right"]).tolist() == [2, -1, 0, -1]
    assert partner_labels(classes, []).tolist() == [-1, -1, -1, -1]  # a real dataset's meta lists none


def _order_blind_scores(strength: float, per_class: int = 40) -> tuple[float, float]:
    """(family accuracy, pair accuracy) of a nearest-centroid classifier on each clip's colour mean and spread,
    features that ignore frame order, trained and tested on fresh clips of every class."""
    params = {**SMALL, "appearance": {"strength": strength, "variation": 0.05}}

    def features(split: int) -> tuple[np.ndarray, np.ndarray]:
        rows, labels = [], []
        for label, name in enumerate(MOTION_CLASSES):
            for number in range(per_class):
                clip = render_clip(name, params, np.random.default_rng([split, label, number])) / 255.0
                rows.append(np.concatenate([clip.mean(axis=(0, 2, 3)), clip.std(axis=(0, 2, 3))]))
                labels.append(label)
        return np.array(rows), np.array(labels)

    (train, train_labels), (test, test_labels) = features(0), features(1)
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in range(len(MOTION_CLASSES))])
    distance = np.linalg.norm(test[:, None] - centroids[None], axis=-1)
    partners = partner_labels(list(MOTION_CLASSES), [name for pair in TIME_REVERSED_PAIRS for name in pair])
    family = {c: min(c, partner) if partner >= 0 else c for c, partner in enumerate(partners)}
    predicted = distance.argmin(axis=1)
    family_accuracy = np.mean([family[p] == family[t] for p, t in zip(predicted, test_labels)])
    paired = partners[test_labels] >= 0
    rows = np.flatnonzero(paired)
    pair_accuracy = np.mean(distance[rows, test_labels[rows]] < distance[rows, partners[test_labels[rows]]])
    return float(family_accuracy), float(pair_accuracy)


def test_appearance_names_the_family_and_leaves_the_pair_to_temporal_order():
    family, pair = _order_blind_scores(strength=1.0)
    assert family > 0.8  # six families (four pairs, two single classes): chance is about 1/6
    assert abs(pair - 0.5) < 0.12  # 160 paired test clips: a pair's members look alike, only their order differs
    blind_family, _ = _order_blind_scores(strength=0.0)
    assert blind_family < 0.45  # motion-only: colours say little about the class


def test_appearance_off_leaves_the_motion_only_clips_bit_identical():
    # the checksum of these clips from the generator before the appearance knob existed
    params = {**DEFAULTS["dataset"]["motion"], "train_per_class": 2, "test_per_class": 1}
    without = {key: value for key, value in params.items() if key != "appearance"}
    digest = hashlib.sha1()
    for name in MOTION_CLASSES:
        for number in range(3):
            clip = render_clip(name, params, np.random.default_rng([0, number, len(name)]))
            assert np.array_equal(clip, render_clip(name, without, np.random.default_rng([0, number, len(name)])))
            digest.update(clip.tobytes())
    assert digest.hexdigest() == "643e22a40d0b114e7570ecf685de67707a977cf3"
