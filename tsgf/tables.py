"""Result tables from the tidy `runs.csv` (one row per evaluation run), written as CSV, Markdown and LaTeX.

Every table reports one dataset on one holdout split; `write_all_tables` does the splitting. Accuracies are
shown in percent as "mean ± std" over seeds (std with ddof=1, 0 for a single seed). A run that trains on the
full data has no IPC: its numbers are repeated in every IPC column, as the reference each column is read
against, and every caption that shows it says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, NamedTuple

import pandas as pd

MISSING = "–"  # a cell of the grid that was not run
_BASE_LABELS = {"random_real": "Random real", "sre2l": "SRe2L", "tsgf": "TSGF", "full": "Full data"}
_AUGMENTATIONS = ("none", "tsgf_a")
# Row order of every table and legend: the three headline methods, the remaining grid cells, full data last.
LABEL_ORDER = ["Random real", "SRe2L", "TSGF", "Random real + TSGF_A", "SRe2L + TSGF_A", "TSGF_O only",
               "Full data", "Full data + TSGF_A"]
CELL_KEYS = ["dataset", "holdout", "method", "augmentation", "ipc"]
METRICS = ["accuracy", "motion_only_accuracy", "other_accuracy"]


class Table(NamedTuple):
    """A table ready to write: the frame (first column holds the row labels) and its caption."""

    frame: pd.DataFrame
    caption: str


def method_label(method: str, augmentation: str) -> str:
    """The name a (method, augmentation) cell carries in tables and legends."""
    if method not in _BASE_LABELS or augmentation not in _AUGMENTATIONS:
        raise ValueError(f"unknown cell method={method!r}, augmentation={augmentation!r}: methods are "
                         f"{sorted(_BASE_LABELS)}, augmentations {list(_AUGMENTATIONS)}")
    if method == "tsgf":  # the full method is TSGF_O and TSGF_A together
        return "TSGF" if augmentation == "tsgf_a" else "TSGF_O only"
    return _BASE_LABELS[method] + (" + TSGF_A" if augmentation == "tsgf_a" else "")


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


def load_runs(runs_csv: str | Path) -> pd.DataFrame:
    """Read runs.csv with the dtypes the tables rely on (IPC as a nullable integer: empty for full data)."""
    runs = pd.read_csv(runs_csv)
    runs["ipc"] = pd.to_numeric(runs["ipc"], errors="coerce").astype("Int64")
    return runs


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, holdout, method, augmentation, ipc): accuracies in percent (mean, std, n over
    seeds), mean storage_bytes, num_train_clips and distill_seconds; rows in LABEL_ORDER, then by IPC."""
    runs = runs.assign(ipc=pd.to_numeric(runs["ipc"], errors="coerce").astype("Int64"),
                       **{m: 100.0 * pd.to_numeric(runs[m], errors="coerce") for m in METRICS})
    aggregations = {f"{m}_{stat}": (m, stat) for m in METRICS for stat in ("mean", "std", "count")}
    cells = (runs.groupby(CELL_KEYS, dropna=False, sort=False)
             .agg(n_seeds=("seed", "nunique"), **aggregations,
                  storage_bytes=("storage_bytes", "mean"), num_train_clips=("num_train_clips", "mean"),
                  distill_seconds=("distill_seconds", "mean"))
             .reset_index())
    for m in METRICS:  # ddof=1 is undefined for one seed: report no spread rather than NaN
        cells[f"{m}_std"] = cells[f"{m}_std"].mask(cells[f"{m}_count"] == 1, 0.0)
    cells = cells.drop(columns=[f"{m}_count" for m in METRICS])
    labels = [method_label(m, a) for m, a in zip(cells["method"], cells["augmentation"])]
    cells.insert(CELL_KEYS.index("augmentation") + 1, "label", labels)
    order = cells["label"].map(LABEL_ORDER.index)
    return (cells.assign(_order=order).sort_values(["dataset", "holdout", "_order", "ipc"], na_position="last")
            .drop(columns="_order").reset_index(drop=True))


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
    return MISSING if cell is None else format_mean_std(cell[f"{metric}_mean"], cell[f"{metric}_std"])


def _scope_sentence(runs: pd.DataFrame, cells: pd.DataFrame, what: str) -> str:
    dataset, holdout = scope_of(runs)
    counts = sorted(cells["n_seeds"].unique()) if len(cells) else [0]
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{what} (%) on the {holdout} split of {dataset}, mean ± std over {seeds} seeds."


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


def main_table(runs: pd.DataFrame) -> Table:
    """Accuracy and storage per IPC: rows Random real, SRe2L, TSGF, the other evaluated cells, Full data and the
    teacher (measured), then the published numbers for this dataset, each marked cited with its source."""
    cells = summarise(runs)

    def render(cell: pd.Series | None, k: int | None) -> dict[str, str]:
        storage = MISSING if cell is None else human_bytes(cell["storage_bytes"])
        return {_ipc_name(k): _cell_text(cell, "accuracy"), f"Storage {_ipc_name(k)}": storage}

    frame = _per_label_ipc(cells, _present_labels(cells), render)
    frame.insert(1, "Source", SOURCE_MEASURED)
    caption = _scope_sentence(runs, cells, "Top-1 accuracy")
    caption += " Storage is the size of the training clips (1 KB = 1000 B)." + _full_data_note(cells)
    chance = chance_level(runs)
    if chance is not None:
        caption += f" Chance level: {chance:.1f}%."
    teacher = runs.dropna(subset=["teacher_accuracy"]).groupby("seed")["teacher_accuracy"].mean() * 100
    if len(teacher):
        std = teacher.std(ddof=1) if len(teacher) > 1 else 0.0
        row = {column: MISSING for column in frame.columns}
        row.update({"Method": "Teacher (full data, BatchNorm)", "Source": SOURCE_MEASURED})
        row.update({c: format_mean_std(teacher.mean(), std) for c in frame.columns if not c.startswith(("Storage",
                                                                                                     "Method",
                                                                                                     "Source"))})
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
        caption += " The teacher (the network distillation matches) is trained on the full training set."
    dataset = scope_of(runs)[0]
    cited = _cited_frame(dataset, list(frame.columns))
    if len(cited):
        frame = pd.concat([frame, cited], ignore_index=True)
        caption += (" Rows marked (cited) are published numbers of other work, copied with their source, not "
                    "measured here; their protocols may differ from this run's.")
    return Table(frame, caption)


def ablation_table(runs: pd.DataFrame) -> Table:
    """The 2x2 grid TSGF_O x TSGF_A per IPC: rows TSGF_O off (SRe2L distillation) / on, columns TSGF_A off / on."""
    cells = summarise(runs)
    cells = cells[cells["method"].isin(["sre2l", "tsgf"]) & cells["ipc"].notna()]
    augmentations = [a for a in _AUGMENTATIONS if (cells["augmentation"] == a).any()]
    columns = {(k, a): f"IPC {k}, TSGF_A {_switch(a)}" for k in _ipcs(cells) for a in augmentations}
    settings = (("sre2l", "TSGF_O off"), ("tsgf", "TSGF_O on"))
    rows = []
    for method, name in settings:
        mine = cells[cells["method"] == method]
        if len(mine) == 0:
            continue
        row = {"TSGF_O": name}
        for (k, a), column in columns.items():
            match = mine[(mine["ipc"] == k) & (mine["augmentation"] == a)]
            row[column] = _cell_text(match.iloc[0], "accuracy") if len(match) else MISSING
        rows.append(row)
    caption = _scope_sentence(runs, cells, "Ablation of TSGF_O (saliency filter in distillation) and TSGF_A "
                                            "(saliency-guided augmentation in evaluation): top-1 accuracy")
    caption += " TSGF_O off is SRe2L; both on is the full TSGF."
    absent = [f"TSGF_A {_switch(a)}" for a in _AUGMENTATIONS if a not in augmentations]
    absent += [name for method, name in settings if not (cells["method"] == method).any()]
    if absent:
        caption += f" Not run, so left out: {', '.join(absent)}."
    if MISSING in {v for row in rows for v in row.values()}:
        caption += f" {MISSING}: cell not run."
    return Table(pd.DataFrame(rows, columns=["TSGF_O", *columns.values()]), caption)


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


def write_all_tables(runs_csv: Path, out_dir: Path, holdout: str | None = None) -> list[Path]:
    """Write main, ablation and motion_classes tables and all_cells.csv (every cell, every split) into out_dir.

    Tables report `holdout`; by default "test" where any test runs exist, else whatever split was run. With
    several datasets each table's name gets the dataset as prefix (e.g. ucf_main.csv).
    """
    runs = load_runs(runs_csv)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_cells = out_dir / "all_cells.csv"
    summarise(runs).to_csv(all_cells, index=False)
    written = [all_cells]
    if holdout is None:
        holdout = "test" if (runs["holdout"] == "test").any() or runs.empty else str(runs["holdout"].iloc[0])
    reported = runs[runs["holdout"] == holdout]
    datasets = list(reported["dataset"].unique()) or ["(no dataset)"]
    for dataset in datasets:
        prefix = f"{dataset}_" if len(datasets) > 1 else ""
        mine = reported[reported["dataset"] == dataset]
        for name, build in (("main", main_table), ("ablation", ablation_table), ("motion_classes", motion_class_table)):
            table = build(mine)
            caption = table.caption if len(mine) else f"No runs on the {holdout} split."
            written += write_table(table.frame, out_dir / f"{prefix}{name}", caption)
    return written


__all__ = ["MISSING", "LABEL_ORDER", "CITED_RESULTS", "cited_results", "Table", "method_label", "format_mean_std", "human_bytes", "load_runs",
           "summarise", "chance_level", "scope_of", "main_table", "ablation_table", "motion_class_table", "write_table",
           "write_all_tables"]
