"""Tables and figures from a synthetic runs grid with known accuracies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from PIL import Image, ImageSequence

from tsgf.clip_export import export_set_gif, set_mosaic, write_gif
from tsgf.clipset import load_clipset, write_clipset
from tsgf.figures import (plot_ablation, plot_accuracy_vs_ipc, plot_clip_motion, plot_cost, plot_distilled_clips,
                          plot_motion_classes)
from tsgf.tables import (MISSING, ORDER_BLIND_ROW, SOFT_LABELS, ablation_sweep_table, ablation_table, cited_results,
                         cost_table, format_mean_std, human_bytes, load_runs, main_table, method_label,
                         motion_class_table, motion_strength_table, summarise, write_all_tables, write_table)
from schema_configs import saliency_config

CLASSES = [f"class_{i}" for i in range(4)]  # chance = 25 %
GRID = [("random_real", "none"), ("random_real", "tsgf_a"), ("sre2l", "none"), ("sre2l", "tsgf_a"),
        ("tsgf", "none"), ("tsgf", "tsgf_a")]
BASE = {"random_real": 0.2, "sre2l": 0.3, "tsgf": 0.4}
SEED_OFFSETS = (-0.1, 0.0, 0.1)  # mean = base, std (ddof=1) = 10 points


def _run(method: str, augmentation: str, ipc: float, seed: int, accuracy: float) -> dict:
    size = 2000 if pd.isna(ipc) else ipc  # full data: as if IPC 2000
    return {"dataset": "toy", "method": method, "augmentation": augmentation, "tsgf_o": method == "tsgf",
            "tsgf_a": augmentation == "tsgf_a", "ipc": ipc, "seed": seed, "holdout": "test", "accuracy": accuracy,
            "per_class_accuracy": json.dumps({c: accuracy for c in CLASSES}),
            "motion_only_accuracy": accuracy - 0.1, "other_accuracy": accuracy + 0.05,
            "num_train_clips": 4 * size, "storage_bytes": 61_400 * size,
            "distill_seconds": 0.0 if method in ("random_real", "full") else 10.0, "distill_peak_rss_mb": np.nan,
            "eval_seconds": 1.0, "teacher_accuracy": 0.8 if method in ("sre2l", "tsgf") else np.nan}


@pytest.fixture
def runs() -> pd.DataFrame:
    rows = []
    for method, augmentation in GRID:
        for ipc in (1, 10):
            for seed, offset in enumerate(SEED_OFFSETS):
                accuracy = BASE[method] + (0.05 if augmentation == "tsgf_a" else 0.0) + (0.2 if ipc == 10 else 0.0)
                rows.append(_run(method, augmentation, ipc, seed, accuracy + offset))
    rows += [_run("full", "none", np.nan, seed, 0.9 + 0.01 * seed) for seed in range(3)]
    return pd.DataFrame(rows)


@pytest.fixture
def runs_csv(runs: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)  # through CSV, as the workflow does: IPC is empty for full data
    return path


def test_labels_and_formatters() -> None:
    assert method_label("tsgf", "tsgf_a") == "TSGF"
    assert method_label("tsgf", "none") == "TSGF_O only"
    assert method_label("sre2l", "tsgf_a") == "SRe2L + TSGF_A"
    assert method_label("full", "none") == "Full data"
    with pytest.raises(ValueError):
        method_label("dc", "none")
    assert format_mean_std(60.0, 10.0) == "60.0 ± 10.0"
    assert format_mean_std(np.nan, np.nan) == "–"
    assert human_bytes(61_400) == "61.4 KB"
    assert human_bytes(512) == "512 B"
    assert human_bytes(123_456_789) == "123.5 MB"


def test_summarise_mean_std_and_single_seed(runs: pd.DataFrame) -> None:
    cells = summarise(runs)
    tsgf10 = cells[(cells["label"] == "TSGF") & (cells["ipc"] == 10)].iloc[0]
    assert tsgf10["accuracy_mean"] == pytest.approx(65.0)
    assert tsgf10["accuracy_std"] == pytest.approx(10.0)
    assert tsgf10["n_seeds"] == 3
    assert tsgf10["motion_only_accuracy_mean"] == pytest.approx(55.0)
    single = summarise(runs[runs["seed"] == 0])
    assert (single["accuracy_std"] == 0.0).all()  # one seed: no spread, not NaN
    assert list(cells["label"].iloc[:2]) == ["Random real", "Random real"]
    assert cells["label"].iloc[-1] == "Full data"


def test_main_table_values_order_storage(runs: pd.DataFrame) -> None:
    table = main_table(runs)
    frame = table.frame.set_index("Method")
    assert list(frame.index) == ["Random real", "SRe2L", "TSGF", "Random real + TSGF_A", "SRe2L + TSGF_A",
                                 "TSGF_O only", "Full data", "Teacher (full data, BatchNorm)"]
    assert list(frame.columns) == ["Source", "IPC 1", "Storage IPC 1", "IPC 10", "Storage IPC 10"]
    assert (frame["Source"] == "measured").all()  # no published numbers for this dataset
    assert frame.loc["Random real", "IPC 1"] == "20.0 ± 10.0"
    assert frame.loc["TSGF", "IPC 10"] == "65.0 ± 10.0"
    assert frame.loc["SRe2L + TSGF_A", "IPC 1"] == "35.0 ± 10.0"
    assert frame.loc["SRe2L", "Storage IPC 1"] == "61.4 KB"
    assert frame.loc["SRe2L", "Storage IPC 10"] == "614.0 KB"
    assert frame.loc["Full data", "IPC 1"] == frame.loc["Full data", "IPC 10"] == "91.0 ± 1.0"
    assert frame.loc["Full data", "Storage IPC 1"] == "122.8 MB"
    assert "Chance level: 25.0%" in table.caption
    assert frame.loc["Teacher (full data, BatchNorm)", "IPC 10"] == "80.0 ± 0.0"
    assert "repeated in every IPC column" in table.caption


def test_main_table_lists_cited_numbers_apart_from_measured_ones(runs: pd.DataFrame) -> None:
    table = main_table(runs.assign(dataset="miniucf"))
    frame = table.frame
    cited = frame[frame["Source"].str.startswith("cited: ")]
    measured = frame[frame["Source"] == "measured"]
    assert len(cited) == len(cited_results("miniucf")) > 0 and len(measured) == 8
    assert cited.index.min() > measured.index.max()  # never interleaved
    assert all(name.endswith(" (cited)") for name in cited["Method"])
    mtt = cited.set_index("Method").loc["MTT (cited)"]
    assert list(mtt["IPC 1"]) == ["14.4", MISSING] and list(mtt["IPC 10"]) == [MISSING, MISSING]
    full = cited.set_index("Method").loc["Full data (ConvNet3D) (cited)"]
    assert full["IPC 1"] == full["IPC 10"] == "56.2 ± 1.2" and full["Storage IPC 1"] == MISSING
    assert "(cited) are published numbers" in table.caption


def test_ablation_table_is_the_2x2_grid(runs: pd.DataFrame) -> None:
    frame = ablation_table(runs).frame.set_index("TSGF_O")
    assert list(frame.index) == ["TSGF_O off", "TSGF_O on"]
    assert frame.loc["TSGF_O off", "IPC 1, TSGF_A off"] == "30.0 ± 10.0"  # SRe2L
    assert frame.loc["TSGF_O off", "IPC 1, TSGF_A on"] == "35.0 ± 10.0"  # SRe2L + TSGF_A
    assert frame.loc["TSGF_O on", "IPC 10, TSGF_A off"] == "60.0 ± 10.0"  # TSGF_O only
    assert frame.loc["TSGF_O on", "IPC 10, TSGF_A on"] == "65.0 ± 10.0"  # TSGF
    assert frame.shape == (2, 4)


def test_motion_class_table(runs: pd.DataFrame) -> None:
    frame = motion_class_table(runs).frame.set_index("Method")
    assert frame.loc["TSGF", "IPC 1 motion-only"] == "35.0 ± 10.0"
    assert frame.loc["TSGF", "IPC 1 other"] == "50.0 ± 10.0"
    assert frame.loc["Full data", "IPC 10 motion-only"] == "81.0 ± 1.0"


def test_write_table_formats(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Method": ["TSGF_O only"], "IPC 1": ["60.0 ± 10.0"]})
    paths = write_table(frame, tmp_path / "sub" / "demo", "Accuracy (%) & 100% of TSGF_A")
    assert [p.name for p in paths] == ["demo.csv", "demo.md", "demo.tex"]
    md = paths[1].read_text().splitlines()
    assert md[0] == "Accuracy (%) & 100% of TSGF_A"
    assert md[2:] == ["| Method | IPC 1 |", "|---|---|", "| TSGF_O only | 60.0 ± 10.0 |"]
    tex = paths[2].read_text()
    assert r"TSGF\_O only & 60.0 $\pm$ 10.0 \\" in tex
    assert r"\caption{Accuracy (\%) \& 100\% of TSGF\_A}" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex and "±" not in tex
    assert pd.read_csv(paths[0]).iloc[0]["IPC 1"] == "60.0 ± 10.0"


def test_write_all_tables(runs_csv: Path, tmp_path: Path) -> None:
    paths = write_all_tables(runs_csv, tmp_path / "tables")
    names = {p.name for p in paths}
    assert names == {"all_cells.csv"} | {f"{s}.{e}" for s in ("main", "ablation", "motion_classes",
                                                              "motion_strength", "cost") for e in ("csv", "md", "tex")}
    assert all(p.stat().st_size > 0 for p in paths)
    main = pd.read_csv(tmp_path / "tables" / "main.csv")
    assert main.iloc[-2]["Method"] == "Full data"
    assert "TSGF\\_A" in (tmp_path / "tables" / "main.tex").read_text()
    assert len(pd.read_csv(tmp_path / "tables" / "all_cells.csv")) == 13


@pytest.mark.parametrize("keep", [
    lambda r: r["augmentation"] == "none",  # no TSGF_A at all
    lambda r: r["method"] != "full",  # no full-data run
    lambda r: (r["method"] != "tsgf") & ~((r["method"] == "sre2l") & (r["ipc"] == 10)),  # holes in the grid
    lambda r: r["method"] == "full",  # only the full-data run
    lambda r: r["method"] == "nothing",  # no runs at all
])
def test_partial_grids_do_not_crash(runs: pd.DataFrame, tmp_path: Path, keep) -> None:
    partial = runs[keep(runs)]
    partial.to_csv(tmp_path / "runs.csv", index=False)
    paths = write_all_tables(tmp_path / "runs.csv", tmp_path / "tables")
    assert all(p.stat().st_size > 0 for p in paths)
    loaded = load_runs(tmp_path / "runs.csv")
    if len(loaded):
        plot_accuracy_vs_ipc(loaded, tmp_path / "ipc.png")
        plot_motion_classes(loaded, tmp_path / "motion.png")


def test_partial_grid_contents(runs: pd.DataFrame) -> None:
    no_aug = ablation_table(runs[runs["augmentation"] == "none"])
    assert list(no_aug.frame.columns) == ["TSGF_O", "IPC 1, TSGF_A off", "IPC 10, TSGF_A off"]
    assert "TSGF_A on" in no_aug.caption
    holes = runs[~((runs["method"] == "sre2l") & (runs["ipc"] == 10)) & (runs["method"] != "full")]
    frame = main_table(holes).frame.set_index("Method")
    assert frame.loc["SRe2L", "IPC 10"] == "–"
    assert frame.loc["SRe2L", "IPC 1"] == "30.0 ± 10.0"
    assert "Full data" not in frame.index
    with pytest.raises(ValueError, match="dataset, holdout"):
        main_table(pd.concat([runs, runs.assign(holdout="val")]))


def test_run_figures(runs_csv: Path, tmp_path: Path) -> None:
    runs = load_runs(runs_csv)
    for plot, name in ((plot_accuracy_vs_ipc, "ipc.png"), (plot_motion_classes, "motion.png"), (plot_cost, "cost.png")):
        out = plot(runs, tmp_path / "figs" / name)
        assert out == tmp_path / "figs" / name
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _moving_square_set(out: Path, seed: int) -> Path:
    """Two classes of 6-frame clips: a square moving right (class_0) or standing still (class_1)."""
    rng = np.random.default_rng(seed)
    clips = np.full((4, 6, 3, 16, 16), 40, dtype=np.uint8)
    for n in range(4):
        for t in range(6):
            x = 2 + 2 * t if n % 2 == 0 else 6
            clips[n, t, :, 5:10, x:x + 5] = rng.integers(150, 255, size=3, dtype=np.uint8)[:, None, None]
    manifest = pd.DataFrame({"index": range(4), "clip_id": [f"c{n}" for n in range(4)], "label": [0, 1, 0, 1],
                             "class_name": ["class_0", "class_1"] * 2, "split": "train", "source": "synthetic",
                             "status": "ok", "reason": ""})
    write_clipset(out, clips, manifest, ["class_0", "class_1"], [0.5] * 3, [0.25] * 3, {"kind": "test"})
    return out


def test_plot_distilled_clips(tmp_path: Path) -> None:
    sets = {name: _moving_square_set(tmp_path / name, seed) for seed, name in enumerate(["Random real", "TSGF"])}
    assert load_clipset(sets["TSGF"]).num_classes == 2
    out = plot_distilled_clips(sets, tmp_path / "clips.png", saliency_config(granularity="pixel"), clips_per_set=2)
    assert out == tmp_path / "clips.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # One compact grid: 2 sets x 2 classes = 4 rows of a 6-frame strip and its saliency curve, no blank panels
    # (the old layout of one subfigure per clip drew this 1,247 x 1,817 px).
    width, height = Image.open(out).size
    assert width <= 1600
    assert height <= 4 * 260 + 150
    # A class that a set lacks is a labelled placeholder row, not an error.
    missing_class = plot_distilled_clips(sets, tmp_path / "one.png", saliency_config(), class_names=["class_1", "nope"])
    assert missing_class.stat().st_size > 0
    assert Image.open(missing_class).size[1] <= 4 * 260 + 150


def test_plot_clip_motion(tmp_path: Path) -> None:
    sets = {name: _moving_square_set(tmp_path / name, seed) for seed, name in enumerate(["Random real", "TSGF"])}
    out = plot_clip_motion(sets, tmp_path / "motion.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_clip_motion(sets, tmp_path / "still.png", class_name="class_1").stat().st_size > 0
    with pytest.raises(ValueError, match="'nope'"):
        plot_clip_motion(sets, tmp_path / "none.png", class_name="nope")


def _decode_gif(path: Path) -> tuple[np.ndarray, list[int]]:
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    return np.stack(frames), durations


def test_gif_round_trip(tmp_path: Path) -> None:
    """Written frames come back: same count and shape, colours within GIF's 256-colour palette error."""
    y, x = np.mgrid[0:20, 0:30]
    frames = np.stack([np.stack([(8 * x + 10 * t) % 256, 8 * y, np.full_like(x, 40 * t)], axis=-1)
                       for t in range(6)]).astype(np.uint8)
    decoded, durations = _decode_gif(write_gif(frames, tmp_path / "clip.gif", fps=5))
    assert decoded.shape == frames.shape and durations == [200] * 6
    assert np.abs(decoded.astype(int) - frames).mean() < 4
    enlarged, _ = _decode_gif(write_gif(frames, tmp_path / "big.gif", scale=3))
    assert enlarged.shape == (6, 60, 90, 3)
    np.testing.assert_array_equal(enlarged[:, ::3, ::3], decoded)  # same palette: each block is one source pixel
    with pytest.raises(ValueError, match="bad.gif"):
        write_gif(frames[..., 0], tmp_path / "bad.gif")


def test_set_mosaic_and_export(tmp_path: Path) -> None:
    clipset = load_clipset(_moving_square_set(tmp_path / "set", seed=0))
    mosaic = set_mosaic(clipset)
    assert mosaic.shape == (6, 2 * 16 + 1, 2 * 16 + 1, 3)  # 2 classes x 2 clips, 1 px gaps
    np.testing.assert_array_equal(mosaic[:, 17:, 17:], clipset.clips[3].transpose(0, 2, 3, 1))  # class_1, 2nd clip
    assert (mosaic[:, 16] == 255).all() and (mosaic[:, :, 16] == 255).all()
    decoded, _ = _decode_gif(export_set_gif(clipset, tmp_path / "set.gif", min_tile_pixels=40))
    assert decoded.shape == (6, 3 * 33, 3 * 33, 3)


def test_motion_strength_table_splits_classes_at_the_median() -> None:
    # class_0 and class_1 move least; a run that gets exactly those right scores 100 / 0 on the halves
    strength = pd.DataFrame({"class_name": CLASSES, "mean_frame_difference": [0.01, 0.02, 0.30, 0.40],
                             "clips": 10})
    runs = pd.DataFrame([{**_run("tsgf", "tsgf_a", 1, seed, 0.5),
                          "per_class_accuracy": json.dumps({"class_0": 1.0, "class_1": 1.0, "class_2": 0.0,
                                                            "class_3": 0.0})} for seed in range(2)])
    table = motion_strength_table(runs, strength)
    row = table.frame.set_index("Method").loc["TSGF"]
    assert row["IPC 1 low-motion"] == "100.0 ± 0.0" and row["IPC 1 high-motion"] == "0.0 ± 0.0"
    assert "low-motion: class_0 (0.010), class_1 (0.020); high-motion: class_2 (0.300), class_3 (0.400)" \
        in table.caption
    assert "No motion-strength data" in motion_strength_table(runs, None).caption


def test_cost_table_reports_each_set_once_per_ipc_and_what_it_needs_first(runs: pd.DataFrame) -> None:
    synthesised = runs["method"].isin(["sre2l", "tsgf"])
    runs = runs.assign(distill_peak_rss_mb=512.0, distill_own_peak_mb=np.where(synthesised, 30.0, 0.0),
                       prerequisite=np.where(synthesised, "teacher", None),
                       prerequisite_seconds=np.where(synthesised, 42.0, np.nan),
                       prerequisite_own_peak_mb=np.where(synthesised, 55.0, np.nan))
    table = cost_table(runs)
    frame = table.frame.set_index(["Method", "IPC"])
    # one row per set and IPC, whatever augmentation its students had
    assert list(frame.index) == [(m, k) for m in ("Random real", "SRe2L", "TSGF") for k in (1, 10)]
    tsgf = frame.loc[("TSGF", 10)]
    assert (tsgf["Time (s)"], tsgf["Own peak memory (MB)"], tsgf["Needs first"]) == ("10.0", "30", "teacher")
    # with the teacher: times add up (42 + 10), peaks take the larger (they run one after the other)
    assert (tsgf["Its time (s)"], tsgf["Time with it (s)"], tsgf["Peak with it (MB)"]) == ("42.0", "52.0", "55")
    selection = frame.loc[("Random real", 1)]
    assert selection["Needs first"] == "nothing" and selection["Time with it (s)"] == "0.0"
    assert "Peak GPU" not in frame  # no GPU was used
    assert "resident memory above what the job held at its first step" in table.caption


def test_ablation_sweep_table_marks_the_default_and_shows_changing_teachers(tmp_path: Path) -> None:
    rows = []
    for variant, accuracy, teacher in (("4", 0.3, 0.7), ("8", 0.5, 0.9)):
        for seed in range(2):
            rows.append({**_run("tsgf", "tsgf_a", 1, seed, accuracy + 0.1 * seed), "ablation": "frames",
                         "variant": variant, "variant_is_default": variant == "8", "teacher_accuracy": teacher,
                         "overrides": json.dumps({"dataset.motion.frames": int(variant), "distill.iterations": 9})})
    spec = {"title": "Frames", "keys": ["dataset.motion.frames"]}
    table = ablation_sweep_table(pd.DataFrame(rows), "frames", spec)
    frame = table.frame.set_index("dataset.motion.frames")
    assert list(frame.index) == ["4", "8 (default)"]
    assert frame.loc["4", "TSGF, IPC 1"] == "35.0 ± 7.1" and frame.loc["8 (default)", "Teacher"] == "90.0"
    assert "except distill.iterations = 9" in table.caption and "own teacher" in table.caption
    figure = plot_ablation(load_runs_of(pd.DataFrame(rows), tmp_path), spec, tmp_path / "frames.png")
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def load_runs_of(runs: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    """Through CSV and load_runs, as the workflow does (variant labels stay text)."""
    runs.to_csv(tmp_path / "sweep.csv", index=False)
    return load_runs(tmp_path / "sweep.csv")


def test_pair_accuracy_gets_its_own_columns_once_runs_measure_it(runs: pd.DataFrame) -> None:
    measured = runs.assign(pair_accuracy=runs["accuracy"] / 2 + 0.5,
                           teacher_pair_accuracy=runs["teacher_accuracy"].where(runs["method"] == "tsgf") + 0.15)
    table = main_table(measured)
    frame = table.frame.set_index("Method")
    assert list(frame.columns) == ["Source", "IPC 1", "Pair IPC 1", "Storage IPC 1", "IPC 10", "Pair IPC 10",
                                   "Storage IPC 10"]
    assert frame.loc["Random real", "Pair IPC 1"] == "60.0 ± 5.0"  # accuracies 10, 20, 30 % -> 55, 60, 65 %
    assert frame.loc["Teacher (full data, BatchNorm)", "Pair IPC 10"] == "95.0 ± 0.0"
    assert "reversed partner (50% = no temporal information)" in table.caption
    grid = ablation_table(measured).frame.set_index("TSGF_O")
    assert grid.loc["TSGF_O on", "IPC 10, TSGF_A on, pair"] == "82.5 ± 5.0" and grid.shape == (2, 8)


def test_the_accuracy_figure_adds_a_pair_panel_when_runs_measure_pairs(runs_csv: Path, tmp_path: Path) -> None:
    from PIL import Image

    runs = load_runs(runs_csv)
    alone = plot_accuracy_vs_ipc(runs, tmp_path / "alone.png")
    paired = plot_accuracy_vs_ipc(runs.assign(pair_accuracy=0.6), tmp_path / "paired.png")
    assert Image.open(paired).size[0] > 1.4 * Image.open(alone).size[0]  # a second panel beside the first
    hard = runs.assign(labels="hard")
    soft = hard[hard["method"] != "full"].assign(labels="soft (T = 4)")
    both = plot_accuracy_vs_ipc(pd.concat([hard, soft], ignore_index=True), tmp_path / "both.png")
    assert Image.open(both).size[1] > 1.6 * Image.open(alone).size[1]  # a row of panels per label protocol


def test_cells_that_differ_from_random_real_are_marked_with_welchs_test(runs: pd.DataFrame) -> None:
    # TSGF + 50 points: t = 70 / sqrt(2 * 100 / 3) = 8.6 on about 4 degrees of freedom; SRe2L + 10: p = 0.29
    shifted = runs.assign(accuracy=runs["accuracy"] + np.where(runs["method"] == "tsgf", 0.5, 0.0))
    table = main_table(shifted)
    frame = table.frame.set_index("Method")
    assert frame.loc["TSGF", "IPC 1"] == "95.0 ± 10.0 *"  # TSGF (with TSGF_A) against random real + TSGF_A
    assert frame.loc["SRe2L", "IPC 1"] == "30.0 ± 10.0" and frame.loc["Random real", "IPC 1"] == "20.0 ± 10.0"
    assert "Welch's t-test over seeds, two-sided p < 0.05" in table.caption
    cells = summarise(shifted).set_index(["label", "ipc"])
    assert cells.loc[("SRe2L", 1), "accuracy_p"] == pytest.approx(0.288, abs=0.001)
    assert np.isnan(cells.loc[("Random real", 1), "accuracy_p"])
    assert "Welch" not in main_table(runs).caption  # nothing differs significantly, so no mark and no sentence


def test_soft_label_cells_get_their_own_rows_and_their_own_random_real_baseline(runs: pd.DataFrame) -> None:
    # the same grid again under soft labels, where random real is 50 points higher: TSGF (+50 under hard labels
    # and soft) then differs from random real under hard labels only, and the 2x2 grid keeps the hard-label cells
    shifted = runs.assign(accuracy=runs["accuracy"] + np.where(runs["method"] == "tsgf", 0.5, 0.0), labels="hard")
    soft = shifted[shifted["method"] != "full"].assign(
        labels="soft (T = 4)", accuracy=lambda r: r["accuracy"] + np.where(r["method"] == "random_real", 0.5, 0.0))
    both = pd.concat([shifted, soft], ignore_index=True)
    frame = main_table(both).frame.set_index("Method")
    assert frame.loc["TSGF", "IPC 1"] == "95.0 ± 10.0 *"
    assert frame.loc["TSGF, soft labels", "IPC 1"] == "95.0 ± 10.0"  # its baseline is soft random real, 70
    assert frame.loc["Random real, soft labels", "IPC 1"] == "70.0 ± 10.0"
    assert frame.index.is_unique and frame.index.get_loc("Random real" + SOFT_LABELS) > frame.index.get_loc("Full data")
    assert ablation_table(both).frame.equals(ablation_table(shifted).frame)


def test_the_order_blind_probe_is_a_row_of_the_main_table(runs: pd.DataFrame) -> None:
    probe = {"accuracy": 0.6, "pair_accuracy": 0.5, "holdout": "test"}
    runs = runs.assign(pair_accuracy=0.7)
    table = main_table(runs, probe)
    row = table.frame.set_index("Method").loc[ORDER_BLIND_ROW]
    assert row["IPC 1"] == "60.0" and row["Pair IPC 1"] == "50.0" and row["Storage IPC 1"] == MISSING
    assert "frames are shuffled" in table.caption
    assert ORDER_BLIND_ROW not in set(main_table(runs).frame["Method"])
