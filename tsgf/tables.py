"""Result tables from the tidy `runs.csv` (one row per evaluation run), written as CSV, Markdown and LaTeX.

Every table reports one dataset on one holdout split; `write_all_tables` does the splitting. Accuracies are
shown in percent as "mean ± std" over seeds (std with ddof=1, 0 for a single seed). A run that trains on the
full data has no IPC: its numbers are repeated in every IPC column, as the reference each column is read
against, and every caption that shows it says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

MISSING = "–"  # a cell of the grid that was not run
_BASE_LABELS = {"random_real": "Random real", "herding": "Herding", "kcenter": "K-Center", "dm": "DM", "mtt": "MTT",
                "vdsd": "VDSD", "sre2l": "SRe2L", "tsgf": "TSGF", "full": "Full data"}
_AUGMENTATIONS = ("none", "tsgf_a")
_SET_METHODS = [m for m in _BASE_LABELS if m != "full"]
SOFT_LABELS = ", soft labels"  # what a cell's name adds when its students learnt from the teacher's labels
# Row order of every table and legend: each training set as the paper reports it (TSGF with TSGF_A, the others
# without), then the remaining grid cells, full data; then the same sets under soft labels.
_HARD_ORDER = ([_BASE_LABELS[m] for m in _SET_METHODS]
               + [f"{_BASE_LABELS[m]} + TSGF_A" for m in _SET_METHODS if m != "tsgf"] + ["TSGF_O only"])
LABEL_ORDER = (_HARD_ORDER + ["Full data", "Full data + TSGF_A"] + [label + SOFT_LABELS for label in _HARD_ORDER])
CELL_KEYS = ["ablation", "variant", "dataset", "holdout", "method", "augmentation", "labels", "ipc"]
METRICS = ["accuracy", "pair_accuracy", "motion_only_accuracy", "other_accuracy"]
# what making a training set cost, per run: its own jobs' wall time and peaks (whole process; above its first step;
# torch's on a GPU), and the same for what it needed beforehand (teacher or expert buffer)
_COST_COLUMNS = ["distill_seconds", "distill_peak_rss_mb", "distill_own_peak_mb", "distill_peak_gpu_mb",
                 "prerequisite_seconds", "prerequisite_own_peak_mb"]
# what pair accuracy is, said once for every caption that shows it
PAIR_SENTENCE = (" Pair: on test clips of a time-reversed pair of classes, how often the student scores the true "
                 "class above its reversed partner (50% = no temporal information).")


# A cell that differs from random real (same evaluation, IPC and labels) at this level carries SIGNIFICANT
SIGNIFICANCE_LEVEL = 0.05
SIGNIFICANT = " *"
SIGNIFICANCE_SENTENCE = (f"{SIGNIFICANT.strip()}: differs from random real under the same labels, augmentation and "
                         f"IPC (Welch's t-test over seeds, two-sided p < {SIGNIFICANCE_LEVEL}).")


class Table(NamedTuple):
    """A table ready to write: the frame (first column holds the row labels) and its caption."""

    frame: pd.DataFrame
    caption: str


def method_label(method: str, augmentation: str, labels: str = "hard") -> str:
    """The name a (method, augmentation, labels) cell carries in tables and legends; `labels` as runs.csv has it
    ("hard", or "soft (T = ...)")."""
    if method not in _BASE_LABELS or augmentation not in _AUGMENTATIONS:
        raise ValueError(f"unknown cell method={method!r}, augmentation={augmentation!r}: methods are "
                         f"{sorted(_BASE_LABELS)}, augmentations {list(_AUGMENTATIONS)}")
    if method == "tsgf":  # the full method is TSGF_O and TSGF_A together
        name = "TSGF" if augmentation == "tsgf_a" else "TSGF_O only"
    else:
        name = _BASE_LABELS[method] + (" + TSGF_A" if augmentation == "tsgf_a" else "")
    return name + (SOFT_LABELS if labels.startswith("soft") else "")


def set_label(method: str) -> str:
    """The name of a training-set method on its own (figures of clip sets)."""
    return _BASE_LABELS.get(method, method)


def format_mean_std(mean: float, std: float, decimals: int = 1) -> str:
    """The one "mean ± std" formatter every table uses; a cell without a value shows MISSING."""
    if mean is None or pd.isna(mean):
        return MISSING
    return f"{mean:.{decimals}f} ± {0.0 if pd.isna(std) else std:.{decimals}f}"


def human_bytes(num_bytes: float) -> str:
    """Storage in decimal units (1 KB = 1000 B), e.g. 61400 -> "61.4 KB"."""
    if num_bytes is None or pd.isna(num_bytes):
        return MISSING
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def load_runs(runs_csv: str | Path | list[str | Path]) -> pd.DataFrame:
    """Read one or more runs CSVs (the aggregate of each ablation) with the dtypes the tables rely on: IPC as a
    nullable integer (empty for full data); runs without ablation tags belong to the main experiment."""
    paths = [runs_csv] if isinstance(runs_csv, (str, Path)) else list(runs_csv)
    # variant labels stay text as written ("0.10" must not become 0.1, nor "none" a missing value)
    frames = [pd.read_csv(path, converters={"variant": str}) for path in paths]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "ablation" not in runs:
        runs["ablation"] = "main"
    runs["variant"] = runs["variant"].fillna("") if "variant" in runs else ""
    runs["ipc"] = pd.to_numeric(runs["ipc"], errors="coerce").astype("Int64")
    return runs


def summarise(runs: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per (ablation, variant, dataset, holdout, method, augmentation, labels, ipc): each metric in percent
    (mean, std, n over seeds), mean storage_bytes, num_train_clips and the set's cost (the means of _COST_COLUMNS,
    and what it needed beforehand, `prerequisite`); rows in LABEL_ORDER, then by IPC."""
    metrics = metrics or METRICS
    runs = runs.assign(ablation=runs["ablation"] if "ablation" in runs else "main",
                       variant=runs["variant"].fillna("") if "variant" in runs else "",
                       labels=runs["labels"].fillna("hard") if "labels" in runs else "hard",
                       ipc=pd.to_numeric(runs["ipc"], errors="coerce").astype("Int64"),
                       **{column: pd.to_numeric(runs[column] if column in runs else float("nan"), errors="coerce")
                          for column in _COST_COLUMNS},
                       prerequisite=runs["prerequisite"] if "prerequisite" in runs else None,
                       # runs made before a metric existed lack its column: their cells show it as missing
                       **{m: 100.0 * pd.to_numeric(runs[m] if m in runs else float("nan"), errors="coerce")
                          for m in metrics})
    aggregations = {f"{m}_{stat}": (m, stat) for m in metrics for stat in ("mean", "std", "count")}
    cells = (runs.groupby(CELL_KEYS, dropna=False, sort=False)
             .agg(n_seeds=("seed", "nunique"), **aggregations,
                  storage_bytes=("storage_bytes", "mean"), num_train_clips=("num_train_clips", "mean"),
                  **{column: (column, "mean") for column in _COST_COLUMNS},
                  prerequisite=("prerequisite", "first"))
             .reset_index())
    for m in metrics:  # ddof=1 is undefined for one seed: report no spread rather than NaN
        cells[f"{m}_std"] = cells[f"{m}_std"].mask(cells[f"{m}_count"] == 1, 0.0)
    cells = cells.drop(columns=[f"{m}_count" for m in metrics])
    for m in metrics:
        cells[f"{m}_p"] = _p_versus_random_real(runs, cells, m)
    labels = [method_label(m, a, kind) for m, a, kind in zip(cells["method"], cells["augmentation"], cells["labels"])]
    cells.insert(CELL_KEYS.index("labels") + 1, "label", labels)
    order = cells["label"].map(LABEL_ORDER.index)
    return (cells.assign(_order=order).sort_values(["dataset", "holdout", "_order", "ipc"], na_position="last",
                                                   kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def _p_versus_random_real(runs: pd.DataFrame, cells: pd.DataFrame, metric: str) -> list[float]:
    """Per cell, Welch's two-sided p of its seeds' `metric` against random real's in the cell that differs only
    in the method (NaN for random real itself, for full data, or with fewer than two seeds on either side)."""
    groups = {key: frame[metric].dropna().to_numpy() for key, frame in runs.groupby(CELL_KEYS, dropna=False)}
    method = CELL_KEYS.index("method")
    p_values = []
    for cell in cells[CELL_KEYS].itertuples(index=False):
        cell = tuple(cell)
        baseline = groups.get(cell[:method] + ("random_real",) + cell[method + 1:], np.array([]))
        mine = groups.get(cell, np.array([]))
        if cell[method] == "random_real" or min(len(mine), len(baseline)) < 2 or np.array_equal(mine, baseline):
            p_values.append(float("nan"))
            continue
        with np.errstate(all="ignore"):  # two constant samples: no spread, so no test (NaN)
            p_values.append(float(stats.ttest_ind(mine, baseline, equal_var=False).pvalue))
    return p_values


def has_pairs(cells: pd.DataFrame) -> bool:
    """Whether any cell measured pair accuracy (the dataset has time-reversed pairs, and the runs are recent)."""
    return bool(cells["pair_accuracy_mean"].notna().any()) if "pair_accuracy_mean" in cells else False


def chance_level(runs: pd.DataFrame) -> float | None:
    """100 / number of classes, the classes read from per_class_accuracy; None when no run lists them."""
    classes: set[str] = set()
    for text in runs["per_class_accuracy"].dropna():
        classes.update(json.loads(text))
    return 100.0 / len(classes) if classes else None


def scope_of(runs: pd.DataFrame) -> tuple[str, str]:
    """The one (dataset, holdout) the runs cover: mixing splits or datasets in one table would be meaningless."""
    scopes = runs[["dataset", "holdout"]].drop_duplicates()
    if len(scopes) > 1:
        raise ValueError(f"runs cover {len(scopes)} (dataset, holdout) pairs "
                         f"{[tuple(s) for s in scopes.itertuples(index=False)]}: select one first")
    return tuple(scopes.iloc[0]) if len(scopes) else ("(no dataset)", "(no holdout)")  # type: ignore[return-value]


def _ipcs(cells: pd.DataFrame) -> list[int]:
    return sorted(int(k) for k in cells["ipc"].dropna().unique())


def _ipc_name(k: int | None) -> str:
    """Column name of an IPC; None stands for the one column a table of only full-data runs has."""
    return "Full data" if k is None else f"IPC {k}"


def _switch(augmentation: str) -> str:
    return "on" if augmentation == "tsgf_a" else "off"


def _cell_text(cell: pd.Series | None, metric: str) -> str:
    if cell is None:
        return MISSING
    significant = cell.get(f"{metric}_p", float("nan")) < SIGNIFICANCE_LEVEL
    return format_mean_std(cell[f"{metric}_mean"], cell[f"{metric}_std"]) + (SIGNIFICANT if significant else "")


def _significance_note(frame: pd.DataFrame) -> str:
    """The caption sentence for SIGNIFICANT, where any cell of the table carries it."""
    marked = frame.astype(str).apply(lambda column: column.str.endswith(SIGNIFICANT)).to_numpy().any()
    return " " + SIGNIFICANCE_SENTENCE if marked else ""


def _scope_sentence(runs: pd.DataFrame, cells: pd.DataFrame, what: str) -> str:
    dataset, holdout = scope_of(runs)
    counts = sorted(cells["n_seeds"].unique()) if len(cells) else [0]
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    sentence = f"{what} (%) on the {holdout} split of {dataset}, mean ± std over {seeds} seeds."
    return sentence + _labels_sentence(runs)


def _labels_sentence(runs: pd.DataFrame) -> str:
    """Which labels the students learnt from: hard labels and teacher soft labels change results a lot."""
    if "labels" not in runs:
        return ""
    kinds = sorted(runs.loc[runs["method"] != "full", "labels"].dropna().unique())
    if not kinds:
        return ""
    sentence = f" Students on training sets learn from {' / '.join(kinds)} labels (full data: hard labels)."
    if any(kind.startswith("soft") for kind in kinds):
        sentence += " Soft labels come from the teacher during training, so their storage includes its weights."
    return sentence


def _full_data_note(cells: pd.DataFrame) -> str:
    if not cells["ipc"].isna().any():
        return ""
    clips = cells.loc[cells["ipc"].isna(), "num_train_clips"].max()
    return (f" Full data trains on the whole training set ({clips:.0f} clips) and has no IPC: its value is "
            f"repeated in every IPC column as the upper reference.")


def _per_label_ipc(cells: pd.DataFrame, labels: list[str],
                   render: Callable[[pd.Series | None, int | None], dict[str, str]]) -> pd.DataFrame:
    """Rows `labels`, and per IPC the columns `render` makes; full-data rows (no IPC) fill every IPC."""
    ipcs: list[int | None] = list(_ipcs(cells)) or [None]
    rows = []
    for label in labels:
        mine = cells[cells["label"] == label]
        row = {"Method": label}
        for k in ipcs:
            match = mine if mine["ipc"].isna().all() else mine[(mine["ipc"] == k).fillna(False)]
            row.update(render(match.iloc[0] if len(match) else None, k))
        rows.append(row)
    columns = ["Method"] + [c for k in ipcs for c in render(None, k)]
    return pd.DataFrame(rows, columns=columns)


def _present_labels(cells: pd.DataFrame) -> list[str]:
    return [label for label in LABEL_ORDER if (cells["label"] == label).any()]


CITED_RESULTS = Path(__file__).parent / "data" / "cited_results.csv"
SOURCE_MEASURED = "measured"


def cited_results(dataset: str) -> pd.DataFrame:
    """Published numbers for `dataset` (tsgf/data/cited_results.csv): method, ipc (empty for full data), the
    accuracy exactly as published (text: a value, a mean ± std, a range or a claimed gain) and its source."""
    cited = pd.read_csv(CITED_RESULTS, keep_default_na=False, dtype=str)
    return cited[cited["dataset"] == dataset].reset_index(drop=True)


def _cited_frame(dataset: str, columns: list[str]) -> pd.DataFrame:
    """Cited rows in the main table's columns: the value under its IPC (every IPC for full data), marked cited."""
    rows = []
    for entry in cited_results(dataset).itertuples(index=False):
        row = {column: MISSING for column in columns}
        row["Method"], row["Source"] = f"{entry.method} (cited)", f"cited: {entry.source}"
        for column in columns:
            if column.startswith("IPC ") and (not entry.ipc or column == f"IPC {entry.ipc}"):
                row[column] = entry.accuracy
            if column == "Full data" and not entry.ipc:
                row[column] = entry.accuracy
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


ORDER_BLIND_ROW = "Order-blind probe (teacher's network, frames shuffled)"


def _with_reference_row(frame: pd.DataFrame, name: str, accuracy: str, pair: str) -> pd.DataFrame:
    """`frame` plus a measured reference network's row (no IPC, no storage): `accuracy` in every accuracy column,
    `pair` in every pair column."""
    row = {"Method": name, "Source": SOURCE_MEASURED}
    for column in (c for c in frame.columns if c not in row):
        row[column] = MISSING if column.startswith("Storage") else pair if column.startswith("Pair") else accuracy
    return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)


def main_table(runs: pd.DataFrame, order_blind: dict[str, Any] | None = None) -> Table:
    """Accuracy and storage per IPC: rows Random real, SRe2L, TSGF, the other evaluated cells, Full data, the
    teacher and the order-blind probe (`order_blind`, its result JSON) as measured, then the published numbers
    for this dataset, each marked cited with its source."""
    cells = summarise(runs)
    pairs = has_pairs(cells)

    def render(cell: pd.Series | None, k: int | None) -> dict[str, str]:
        storage = MISSING if cell is None else human_bytes(cell["storage_bytes"])
        pair = {f"Pair {_ipc_name(k)}": _cell_text(cell, "pair_accuracy")} if pairs else {}
        return {_ipc_name(k): _cell_text(cell, "accuracy"), **pair, f"Storage {_ipc_name(k)}": storage}

    frame = _per_label_ipc(cells, _present_labels(cells), render)
    frame.insert(1, "Source", SOURCE_MEASURED)
    caption = _scope_sentence(runs, cells, "Top-1 accuracy")
    caption += PAIR_SENTENCE if pairs else ""
    caption += " Storage is the size of the training clips (1 KB = 1000 B)." + _full_data_note(cells)
    chance = chance_level(runs)
    if chance is not None:
        caption += f" Chance level: {chance:.1f}%."
    teacher = runs.dropna(subset=["teacher_accuracy"]).groupby("seed")["teacher_accuracy"].mean() * 100
    if len(teacher):
        pair_text = MISSING
        if pairs and "teacher_pair_accuracy" in runs:
            pair = pd.to_numeric(runs["teacher_pair_accuracy"], errors="coerce")
            pair = (pair.groupby(runs["seed"]).mean() * 100).dropna()
            if len(pair):
                pair_text = format_mean_std(pair.mean(), pair.std(ddof=1) if len(pair) > 1 else 0.0)
        std = teacher.std(ddof=1) if len(teacher) > 1 else 0.0
        frame = _with_reference_row(frame, "Teacher (full data, BatchNorm)", format_mean_std(teacher.mean(), std),
                                    pair_text)
        caption += " The teacher (the network distillation matches) is trained on the full training set."
    if order_blind is not None:
        pair = order_blind.get("pair_accuracy")
        frame = _with_reference_row(frame, ORDER_BLIND_ROW, f"{order_blind['accuracy'] * 100:.1f}",
                                    MISSING if pair is None else f"{pair * 100:.1f}")
        caption += (" The order-blind probe is the teacher's network and recipe trained and tested on clips whose "
                    "frames are shuffled (one seed): what needs no temporal order; its pair accuracy is the floor "
                    "of the temporal score.")
    dataset = scope_of(runs)[0]
    cited = _cited_frame(dataset, list(frame.columns))
    if len(cited):
        frame = pd.concat([frame, cited], ignore_index=True)
        caption += (" Rows marked (cited) are published numbers of other work, copied with their source, not "
                    "measured here; their protocols may differ from this run's.")
    return Table(frame, caption + _significance_note(frame))


def ablation_table(runs: pd.DataFrame) -> Table:
    """The 2x2 grid TSGF_O x TSGF_A per IPC: rows TSGF_O off (SRe2L distillation) / on, columns TSGF_A off / on;
    on hard labels where the runs have them (the paper's protocol), else on the one soft-label kind."""
    if "labels" in runs and runs["labels"].nunique() > 1:
        kinds = runs["labels"].dropna().unique()
        runs = runs[runs["labels"] == ("hard" if "hard" in kinds else sorted(kinds)[0])]
    cells = summarise(runs)
    cells = cells[cells["method"].isin(["sre2l", "tsgf"]) & cells["ipc"].notna()]
    augmentations = [a for a in _AUGMENTATIONS if (cells["augmentation"] == a).any()]
    metrics = {"accuracy": "", **({"pair_accuracy": ", pair"} if has_pairs(cells) else {})}
    columns = {(k, a, m): f"IPC {k}, TSGF_A {_switch(a)}{suffix}" for k in _ipcs(cells) for a in augmentations
               for m, suffix in metrics.items()}
    settings = (("sre2l", "TSGF_O off"), ("tsgf", "TSGF_O on"))
    rows = []
    for method, name in settings:
        mine = cells[cells["method"] == method]
        if len(mine) == 0:
            continue
        row = {"TSGF_O": name}
        for (k, a, metric), column in columns.items():
            match = mine[(mine["ipc"] == k) & (mine["augmentation"] == a)]
            row[column] = _cell_text(match.iloc[0], metric) if len(match) else MISSING
        rows.append(row)
    caption = _scope_sentence(runs, cells, "Ablation of TSGF_O (saliency filter in distillation) and TSGF_A "
                                            "(saliency-guided augmentation in evaluation): top-1 accuracy")
    caption += " TSGF_O off is SRe2L; both on is the full TSGF." + (PAIR_SENTENCE if len(metrics) > 1 else "")
    absent = [f"TSGF_A {_switch(a)}" for a in _AUGMENTATIONS if a not in augmentations]
    absent += [name for method, name in settings if not (cells["method"] == method).any()]
    if absent:
        caption += f" Not run, so left out: {', '.join(absent)}."
    if MISSING in {v for row in rows for v in row.values()}:
        caption += f" {MISSING}: cell not run."
    frame = pd.DataFrame(rows, columns=["TSGF_O", *columns.values()])
    return Table(frame, caption + _significance_note(frame))


def motion_class_table(runs: pd.DataFrame) -> Table:
    """Per method and IPC: accuracy on the classes only motion separates vs on the other classes."""
    cells = summarise(runs)

    def render(cell: pd.Series | None, k: int | None) -> dict[str, str]:
        return {f"{_ipc_name(k)} motion-only": _cell_text(cell, "motion_only_accuracy"),
                f"{_ipc_name(k)} other": _cell_text(cell, "other_accuracy")}

    frame = _per_label_ipc(cells, _present_labels(cells), render)
    caption = _scope_sentence(runs, cells, "Top-1 accuracy on the motion-only classes (those only motion "
                                           "separates) and on the other classes") + _full_data_note(cells)
    if cells["motion_only_accuracy_mean"].isna().all():
        caption += f" This dataset has no motion-only classes ({MISSING})."
    return Table(frame, caption)


def motion_strength_table(runs: pd.DataFrame, strength: pd.DataFrame | None) -> Table:
    """Failure analysis by motion strength (the paper's Table 7): the classes split at the median of their mean
    inter-frame difference (training clips), and per method and IPC the accuracy on each half."""
    if strength is None or runs.empty:
        return Table(pd.DataFrame(columns=["Method"]), "No motion-strength data for these runs.")
    ordered = strength.sort_values("mean_frame_difference")
    half = len(ordered) // 2
    groups = {"low-motion": list(ordered["class_name"][:half]), "high-motion": list(ordered["class_name"][half:])}
    per_class = runs["per_class_accuracy"].map(json.loads)
    runs = runs.assign(**{f"{name}_accuracy": per_class.map(lambda acc, members=members: float(pd.Series(
        [acc[c] for c in members if c in acc]).mean())) for name, members in groups.items()})
    metrics = [f"{name}_accuracy" for name in groups]
    cells = summarise(runs, metrics)

    def render(cell: pd.Series | None, k: int | None) -> dict[str, str]:
        return {f"{_ipc_name(k)} {name}": _cell_text(cell, f"{name}_accuracy") for name in groups}

    frame = _per_label_ipc(cells, _present_labels(cells), render)
    listing = "; ".join(f"{name}: " + ", ".join(f"{c} ({v:.3f})" for c, v in zip(
        ordered["class_name"], ordered["mean_frame_difference"]) if c in members)
        for name, members in groups.items())
    caption = _scope_sentence(runs, cells, "Top-1 accuracy on the classes that move least and most")
    caption += (f" Classes are split at the median of their mean absolute inter-frame difference over the real "
                f"training clips (pixels in [0, 1]): {listing}." + _full_data_note(cells))
    return Table(frame, caption)


def cost_table(runs: pd.DataFrame) -> Table:
    """What making each training set cost, a row per method and IPC, on this run's hardware: its own wall time and
    peak memory, what it needed beforehand (the teacher, the expert buffer) and both together."""
    cells = summarise(runs)
    cells = cells[cells["ipc"].notna()].drop_duplicates(["method", "ipc"])
    gpu = cells["distill_peak_gpu_mb"].notna().any()

    def number(value: Any, digits: int) -> str:
        return MISSING if value is None or pd.isna(value) else f"{value:.{digits}f}"

    rows = []
    for method in [m for m in _SET_METHODS if (cells["method"] == m).any()]:
        for cell in cells[cells["method"] == method].sort_values("ipc").itertuples():
            needed = cell.prerequisite if isinstance(cell.prerequisite, str) else None
            before = 0.0 if needed is None else cell.prerequisite_seconds
            before_peak = 0.0 if needed is None else cell.prerequisite_own_peak_mb
            row = {"Method": _BASE_LABELS[method], "IPC": int(cell.ipc),
                   "Time (s)": number(cell.distill_seconds, 1),
                   "Own peak memory (MB)": number(cell.distill_own_peak_mb, 0),
                   "Needs first": needed or "nothing",
                   "Its time (s)": number(before if needed else None, 1),
                   "Its own peak (MB)": number(before_peak if needed else None, 0),
                   "Time with it (s)": number(cell.distill_seconds + before, 1),
                   "Peak with it (MB)": number(np.nanmax([cell.distill_own_peak_mb, before_peak])
                                               if pd.notna(cell.distill_own_peak_mb) else None, 0),
                   "Job peak RSS (MB)": number(cell.distill_peak_rss_mb, 0)}
            if gpu:
                row["Peak GPU (MB)"] = number(cell.distill_peak_gpu_mb, 0)
            rows.append(row)
    caption = ("Cost of making each training set, on the hardware of this run (mean over seeds): its own jobs' wall "
               "time (summed over shards) and own peak memory (resident memory above what the job held at its first "
               "step, so the torch import every job pays is not counted), then what it needs beforehand, trained once "
               "and shared by every IPC and seed (SRe2L, TSGF and the coresets: the teacher; MTT and VDSD: the expert "
               "buffer), and the two together (times summed, peaks the larger: they run one after the other). Job "
               "peak RSS is the whole process's. Random real is a row selection; herding and k-center include "
               "computing the teacher's features.")
    if gpu:
        caption += " Peak GPU is torch's peak allocation."
    return Table(pd.DataFrame(rows), caption)


def default_variants(runs: pd.DataFrame) -> set[str]:
    """The variants of a sweep that keep the main experiment's value of every swept key (read back from CSV, the
    flag may be text)."""
    if "variant_is_default" not in runs:
        return set()
    return set(runs.loc[runs["variant_is_default"].astype(str) == "True", "variant"])


def ablation_sweep_table(runs: pd.DataFrame, name: str, spec: dict[str, Any]) -> Table:
    """One ablation: a row per variant (in config order; the base config's value marked "default"), columns per
    evaluated cell and IPC, plus the teacher where the variants change it and full data where it was run."""
    title = spec.get("title") or name
    if runs.empty:
        return Table(pd.DataFrame(columns=["Variant"]), f"{title}: no runs.")
    keys = ", ".join(spec.get("keys", []))
    cells = summarise(runs)
    pairs = has_pairs(cells)
    variants = list(dict.fromkeys(runs["variant"]))
    defaults = default_variants(runs)
    # columns by training set, then augmentation and IPC: a sweep compares sets under the same evaluation
    labelled = cells[cells["ipc"].notna()].drop_duplicates(["label", "ipc"])
    labelled = labelled.assign(_set=labelled["method"].map(_SET_METHODS.index))
    columns = [(row.label, int(row.ipc))
               for row in labelled.sort_values(["_set", "labels", "augmentation", "ipc"]).itertuples()]
    teachers = runs.groupby("variant", sort=False)["teacher_accuracy"].first() * 100
    show_teacher = teachers.nunique() > 1
    # storage where the variants change it (clip size, or the teacher that soft labels need)
    smallest = cells.loc[cells["ipc"].notna(), "ipc"].min()
    storage = cells[cells["ipc"] == smallest].groupby("variant", sort=False)["storage_bytes"].max()
    show_storage = storage.nunique() > 1
    rows = []
    for variant in variants:
        mine = cells[cells["variant"] == variant]
        row = {keys or "Variant": variant + (" (default)" if variant in defaults else "")}
        for label, k in columns:
            match = mine[(mine["label"] == label) & (mine["ipc"] == k)]
            row[f"{label}, IPC {k}"] = _cell_text(match.iloc[0] if len(match) else None, "accuracy")
            if pairs:
                row[f"{label}, IPC {k}, pair"] = _cell_text(match.iloc[0] if len(match) else None, "pair_accuracy")
        full = mine[mine["ipc"].isna()]
        if (cells["ipc"].isna()).any():
            row["Full data"] = _cell_text(full.iloc[0] if len(full) else None, "accuracy")
        if show_teacher:
            row["Teacher"] = f"{teachers[variant]:.1f}"
        if show_storage:
            row[f"Storage IPC {smallest}"] = human_bytes(storage.get(variant))
        rows.append(row)
    caption = _scope_sentence(runs, cells, f"{title}: top-1 accuracy")
    caption += PAIR_SENTENCE if pairs else ""
    caption += f" Swept: {keys}; every other key as in the main experiment"
    fixed = json.loads(runs["overrides"].iloc[0]) if "overrides" in runs else {}
    fixed = {k: v for k, v in fixed.items() if k not in spec.get("keys", [])}
    caption += (f", except {', '.join(f'{k} = {v}' for k, v in fixed.items())}." if fixed else ".")
    if show_teacher:
        caption += " The variants change the data, so each has its own teacher (Teacher: its test accuracy)."
    chance = chance_level(runs)
    if chance is not None:
        caption += f" Chance level: {chance:.1f}%."
    frame = pd.DataFrame(rows)
    return Table(frame, caption + _significance_note(frame))


def _latex_escape(text: str) -> str:
    out = text.replace("\\", r"\textbackslash{}")
    for char in "%_&#$":
        out = out.replace(char, "\\" + char)
    return out.replace("±", r"$\pm$").replace("–", "--")


def write_table(df: pd.DataFrame, stem: Path, caption: str) -> list[Path]:
    """Write stem.csv, stem.md (caption line, then a GitHub table) and stem.tex (booktabs table with caption)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    cells = df.astype(str)
    csv_path, md_path, tex_path = (stem.with_name(stem.name + ext) for ext in (".csv", ".md", ".tex"))
    df.to_csv(csv_path, index=False)

    def md_row(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", r"\|") for v in values) + " |"

    md = [caption, "", md_row(list(cells.columns)), "|" + "|".join(["---"] * len(cells.columns)) + "|"]
    md += [md_row(list(row)) for row in cells.itertuples(index=False)]
    md_path.write_text("\n".join(md) + "\n")

    def tex_row(values: list[str]) -> str:
        return " & ".join(_latex_escape(v) for v in values) + r" \\"

    tex = [r"\begin{table}[ht]", r"\centering", rf"\caption{{{_latex_escape(caption)}}}",
           rf"\label{{tab:{stem.name.replace('_', '-')}}}",
           rf"\begin{{tabular}}{{l{'c' * (len(cells.columns) - 1)}}}", r"\toprule",
           tex_row(list(cells.columns)), r"\midrule"]
    tex += [tex_row(list(row)) for row in cells.itertuples(index=False)]
    tex += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    tex_path.write_text("\n".join(tex) + "\n")
    return [csv_path, md_path, tex_path]


def write_all_tables(runs_csv: Path | list[Path], out_dir: Path, ablations: dict[str, dict[str, Any]] | None = None,
                     motion_strength: pd.DataFrame | None = None, holdout: str | None = None,
                     order_blind: dict[str, Any] | None = None) -> list[Path]:
    """Write every table into out_dir: from the main experiment's runs main, ablation (the 2x2 grid),
    motion_classes, motion_strength and cost; one ablation_<name> per entry of `ablations` (name -> title and
    swept keys); and all_cells.csv (every cell of every ablation and split).

    Tables report `holdout`: by default "test" where any test runs exist, else whatever split was run."""
    runs = load_runs(runs_csv)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_cells = out_dir / "all_cells.csv"
    summarise(runs).to_csv(all_cells, index=False)
    written = [all_cells]
    if holdout is None:
        holdout = "test" if (runs["holdout"] == "test").any() or runs.empty else str(runs["holdout"].iloc[0])
    reported = runs[runs["holdout"] == holdout]
    main = reported[reported["ablation"] == "main"]
    if order_blind is not None and order_blind["holdout"] != holdout:
        order_blind = None  # a probe of another split does not belong in this table
    tables = {"main": main_table(main, order_blind), "ablation": ablation_table(main),
              "motion_classes": motion_class_table(main),
              "motion_strength": motion_strength_table(main, motion_strength), "cost": cost_table(main)}
    for name, spec in (ablations or {}).items():
        tables[f"ablation_{name}"] = ablation_sweep_table(reported[reported["ablation"] == name], name, spec)
    for name, table in tables.items():
        caption = table.caption if len(reported) else f"No runs on the {holdout} split."
        written += write_table(table.frame, out_dir / name, caption)
    return written


__all__ = ["MISSING", "SOFT_LABELS", "LABEL_ORDER", "ORDER_BLIND_ROW", "CITED_RESULTS", "cited_results", "Table",
           "method_label", "set_label", "format_mean_std", "human_bytes", "load_runs", "summarise", "chance_level",
           "scope_of", "main_table", "ablation_table", "motion_class_table", "motion_strength_table", "cost_table",
           "default_variants", "ablation_sweep_table", "write_table", "write_all_tables"]
