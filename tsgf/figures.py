"""Figures from the runs tables and from clip sets: accuracy vs IPC, accuracy vs the cost of making each set (the
TSGF paper's Fig. 1), distilled clips with their saliency, their optical flow and frame differences (Fig. 5),
motion classes, and one figure per ablation (the frames figure and the sensitivity plots among them).

Figures are built on matplotlib.figure.Figure directly, which renders through Agg without touching pyplot's
global state or the configured backend, so this is safe in headless workflow jobs and in tests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from tsgf.clipset import ClipSet, load_clipset
from tsgf.optical_flow import colour_wheel, flow_to_rgb, optical_flow
from tsgf.saliency import SaliencyConfig, describe, frame_differences, temporal_saliency
from tsgf.tables import chance_level, default_variants, has_pairs, scope_of, set_label, summarise

DPI = 150
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
         "xtick.labelsize": 10, "ytick.labelsize": 10}
MOTION_COLOURS = {"Motion-only classes": "#d95f02", "Other classes": "#7570b3"}
# A method keeps its colour with and without TSGF_A; each set as the paper reports it is solid, other cells dotted.
METHOD_COLOURS = {"random_real": "#1f77b4", "herding": "#8c564b", "kcenter": "#e377c2", "dm": "#9467bd",
                  "mtt": "#d62728", "vdsd": "#bcbd22", "sre2l": "#ff7f0e", "tsgf": "#2ca02c", "full": "#000000"}
HEADLINE = {set_label(m) for m in METHOD_COLOURS}


def _save(fig: Figure, out_png: str | Path) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, bbox_inches="tight")
    return out


def _metric_vs_ipc(ax: Any, cells: pd.DataFrame, metric: str, reference: tuple[str, float] | None) -> list[Any]:
    """One panel: a line per method (mean ± std over seeds) against IPC on a log2 axis, full data and the
    reference level dashed; returns the legend handles, methods first."""
    per_ipc = cells[cells["ipc"].notna()]
    labels = list(dict.fromkeys(per_ipc["label"]))
    # Nudge each method sideways (in log2 units) so error bars at the same IPC do not hide each other.
    offsets = np.linspace(-0.06, 0.06, len(labels)) if len(labels) > 1 else [0.0]
    handles = []  # methods first, then the reference lines, whatever order matplotlib collects them in
    for label, offset in zip(labels, offsets):
        mine = per_ipc[per_ipc["label"] == label]
        x = mine["ipc"].to_numpy(dtype=float) * 2.0**offset
        handles += [ax.errorbar(x, mine[f"{metric}_mean"], yerr=mine[f"{metric}_std"], capsize=3, linewidth=1.8,
                                label=label, color=METHOD_COLOURS[mine["method"].iloc[0]],
                                linestyle="-" if label in HEADLINE else ":",
                                marker="s" if mine["augmentation"].iloc[0] == "tsgf_a" else "o")]
    for label, row in cells[cells["ipc"].isna()].set_index("label").iterrows():
        handles.append(ax.axhline(row[f"{metric}_mean"], color="black", linestyle="--", linewidth=1.2,
                                  label=f"{label}{'' if metric == 'accuracy' else ', pair'} "
                                        f"({row[f'{metric}_mean']:.1f}%)"))
    if reference is not None:
        name, level = reference
        handles.append(ax.axhline(level, color="grey", linestyle=(0, (2, 2)), linewidth=1.2,
                                  label=f"{name} ({level:.1f}%)"))
    ipcs = sorted(int(k) for k in per_ipc["ipc"].unique())
    if ipcs:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ipcs, [str(k) for k in ipcs])
        ax.minorticks_off()
        ax.set_xlim(ipcs[0] / 1.4, ipcs[-1] * 1.4)
    ax.set_xlabel("Clips per class (IPC, log scale)")
    ax.grid(alpha=0.3)
    return handles


def plot_accuracy_vs_ipc(runs: pd.DataFrame, out_png: str | Path) -> Path:
    """Accuracy against IPC, and beside it pair accuracy (the temporal score) where the runs measured it; one row
    of panels per label protocol (hard labels, teacher relabelling), so each row compares sets under the same
    labels and stays readable. Full data, a reference in every row, is trained on hard labels."""
    dataset, holdout = scope_of(runs)
    cells = summarise(runs)
    chance = chance_level(runs)
    # (metric, name, a line under the axis label, reference level)
    panels = [("accuracy", "Top-1 accuracy", "", None if chance is None else ("Chance", chance))]
    if has_pairs(cells):
        panels.append(("pair_accuracy", "Pair accuracy", "(true class above its reversed partner)",
                       ("Order-blind", 50.0)))
    per_ipc = cells["ipc"].notna()
    protocols = list(dict.fromkeys(cells.loc[per_ipc, "labels"])) or [None]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.4 * len(panels) - 0.8 * (len(panels) - 1), 4.4 * len(protocols)))
        grid = fig.subplots(len(protocols), len(panels), squeeze=False, gridspec_kw={"hspace": 0.35})
        for axes, protocol in zip(grid, protocols):
            mine = cells[~per_ipc | (cells["labels"] == protocol)]
            handles: dict[str, Any] = {}  # one legend per row: each set once, then every reference line
            # "hard" -> "hard labels", "soft (T = 4)" -> "soft labels (T = 4)"
            kind, _, detail = (protocol or "").partition(" ")
            under = f", {kind} labels" + (f" {detail}" if detail else "") if protocol else ""
            for ax, (metric, name, note, reference) in zip(axes, panels):
                for handle in _metric_vs_ipc(ax, mine, metric, reference):
                    handles.setdefault(handle.get_label(), handle)
                ax.set_ylabel(f"{name} on {holdout} (%)" + (f"\n{note}" if note else ""))
                ax.set_title(f"{dataset}{under}: {name.lower()} vs IPC")
            axes[-1].legend(handles=list(handles.values()), loc="center left", bbox_to_anchor=(1.02, 0.5),
                            frameon=False)
        return _save(fig, out_png)


def _first_clip_of(clipset: ClipSet, class_name: str) -> np.ndarray | None:
    rows = clipset.manifest.loc[clipset.manifest["class_name"] == class_name, "index"]
    return None if rows.empty else np.asarray(clipset.clips[int(rows.iloc[0])])


def plot_distilled_clips(clipsets: dict[str, Path], out_png: str | Path, saliency_config: SaliencyConfig,
                         clips_per_set: int = 2, class_names: list[str] | None = None) -> Path:
    """One compact grid: a row per named clip set and class holding one clip's frames (columns), with the clip's
    per-frame temporal saliency drawn as a thin curve right under the strip, one point under each frame.

    The classes are `class_names` if given, else the first `clips_per_set` classes of the first set, so every
    set shows the same classes; the clip is the first of that class in the set's manifest.
    """
    opened = {name: load_clipset(path) for name, path in clipsets.items()}
    if class_names is None:
        class_names = next(iter(opened.values())).classes[:clips_per_set] if opened else []
    frame_config = dataclasses.replace(saliency_config, granularity="frame")
    panels = [(name, cs, c) for name, cs in opened.items() for c in class_names]
    _, _, height, width = next(iter(opened.values())).clip_shape if opened else (1, 3, 1, 1)
    num_frames = max((cs.clip_shape[0] for cs in opened.values()), default=1)  # a shorter clip leaves columns empty
    # Sizes in inches (DPI 150): square-ish tiles, 8 frames make a strip ~1,250 px wide and a row ~230 px tall.
    tile = min(1.0, 8.0 / num_frames)
    strip, curve, gap, top = tile * height / width, 0.35, 0.2, 0.7  # top: the title and the frame indices
    wspace = 0.04  # between frames, as a fraction of a frame's width
    rows = max(1, len(panels))
    fig_height = top + rows * (strip + curve) + (rows - 1) * gap
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(tile * (num_frames + (num_frames - 1) * wspace), fig_height))
        fig.suptitle(f"One clip per set and class: frames, and below them the per-frame temporal saliency "
                     f"(0–1; dashed: floor {frame_config.floor:g})\n{describe(frame_config)}", fontsize=10, y=1.0,
                     va="top")
        # Outer rows are (strip, curve) pairs separated by `gap`; hspace is relative to the mean row height.
        outer = fig.add_gridspec(rows, 1, left=0.0, right=1.0, bottom=0.0, top=1.0 - top / fig_height,
                                 hspace=gap / (strip + curve))
        if not panels:
            fig.text(0.5, 0.3, "no clip sets to draw", ha="center", va="center")
        indexed = False  # the frame indices go on top of the first strip drawn
        for row, (name, clipset, class_name) in enumerate(panels):
            grid = outer[row].subgridspec(2, num_frames, height_ratios=[strip, curve], hspace=0.06, wspace=wspace)
            label = f"{name}\n{class_name}"
            clip = _first_clip_of(clipset, class_name)
            if clip is None:
                ax = fig.add_subplot(grid[:, :])
                ax.text(0.5, 0.5, "no clip of this class in this set", ha="center", va="center")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
                continue
            frames = clip.shape[0]
            for t in range(frames):
                ax = fig.add_subplot(grid[0, t])
                image = clip[t].transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255,
                          aspect="auto")
                ax.set_xticks([])
                ax.set_yticks([])
                if t == 0:
                    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
                if not indexed:
                    ax.set_title(f"t={t}", fontsize=9, pad=3)
            indexed = True
            weights = temporal_saliency(torch.from_numpy(clip[None].astype(np.float32) / 255.0), frame_config)[0]
            ax = fig.add_subplot(grid[1, :frames])
            ax.plot(np.arange(frames), weights.numpy(), color="#1b9e77", linewidth=1.5, marker="o", markersize=3)
            ax.axhline(frame_config.floor, color="grey", linestyle="--", linewidth=0.8)
            # Frame t's centre sits t frame-plus-gap widths from the first one, so these limits put each point
            # under its frame.
            edge = 0.5 / (1.0 + wspace)
            ax.set_xlim(-edge, frames - 1 + edge)
            ax.set_ylim(-0.05, 1.1)
            ax.set_xticks(np.arange(frames))
            ax.set_yticks([0, 1])
            ax.tick_params(labelbottom=False, length=2, labelsize=7, pad=1)
            ax.grid(axis="x", color="0.85", linewidth=0.6)
        return _save(fig, out_png)


def plot_clip_motion(clipsets: dict[str, Path], out_png: str | Path, class_name: str | None = None) -> Path:
    """Per named clip set, the first clip of one class as three rows: its frames, the Farnebäck optical flow
    between consecutive frames on the HSV colour wheel (legend at the right), and the absolute frame differences.

    The class is `class_name` if given, else the first class of the first set. Flow and differences share one
    scale across all sets (the largest flow magnitude, the largest difference), so the sets compare directly.
    """
    opened = {name: load_clipset(path) for name, path in clipsets.items()}
    if not opened:
        raise ValueError(f"no clip sets to draw in {out_png}")
    if class_name is None:
        class_name = next(iter(opened.values())).classes[0]
    clips = {name: _first_clip_of(clipset, class_name) for name, clipset in opened.items()}
    shown = {name: clip for name, clip in clips.items() if clip is not None}
    if not shown:
        raise ValueError(f"no set among {sorted(clipsets)} has a clip of class {class_name!r}")
    flows = {name: optical_flow(clip) for name, clip in shown.items()}
    differences = {name: frame_differences(torch.from_numpy(clip[None].astype(np.float32) / 255.0))[0].numpy()
                   for name, clip in shown.items()}
    max_flow = max(float(np.linalg.norm(flow, axis=-1).max()) for flow in flows.values()) or 1.0
    max_difference = max(float(d.max()) for d in differences.values()) or 1.0
    num_frames, _, height, width = next(iter(shown.values())).shape
    frame_inches = min(1.2, 12.0 / num_frames)
    row_labels = ("frames", "optical flow", "|frame difference|")
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(frame_inches * (num_frames + 1.5) + 1.0,
                              len(shown) * (3 * frame_inches * height / width + 0.5)), layout="constrained")
        fig.suptitle(f"Motion of one clip of class {class_name}: Farnebäck optical flow (hue = direction, "
                     f"brightness = speed, full at {max_flow:.1f} px/frame) and |x(t+1) − x(t)| "
                     f"(white = {max_difference:.2f})", fontsize=10)
        grid = fig.add_gridspec(3 * len(shown), num_frames + 1, width_ratios=[1.0] * num_frames + [1.5])
        for m, (name, clip) in enumerate(shown.items()):
            images = ([clip[t].transpose(1, 2, 0) for t in range(num_frames)], flow_to_rgb(flows[name], max_flow),
                      differences[name])
            for r, (row_images, row_label) in enumerate(zip(images, row_labels)):
                for t, image in enumerate(row_images):
                    ax = fig.add_subplot(grid[3 * m + r, t])
                    grey = image.ndim == 2 or image.shape[-1] == 1
                    ax.imshow(image[..., 0] if image.ndim == 3 and grey else image, cmap="gray", vmin=0,
                              vmax=max_difference if r == 2 else 255)
                    ax.set_xticks([])
                    ax.set_yticks([])
                    if t == 0:
                        ax.set_ylabel(f"{name}\n{row_label}" if r == 0 else row_label, fontsize=9)
                    if m == 0 and r == 0:
                        ax.set_title(f"t={t}", fontsize=9)
                    elif m == 0 and r == 1:
                        ax.set_title(f"{t}→{t + 1}", fontsize=9)
        legend = fig.add_subplot(grid[0:3, num_frames])
        legend.imshow(colour_wheel(), extent=(-max_flow, max_flow, max_flow, -max_flow))
        legend.set_title("flow (dx, dy)", fontsize=9)
        legend.set_xlabel("px/frame, y down", fontsize=8)
        legend.tick_params(labelsize=7)
        return _save(fig, out_png)


def plot_motion_classes(runs: pd.DataFrame, out_png: str | Path) -> Path:
    """Grouped bars per method at the largest IPC (and full data): motion-only vs other classes, ± std."""
    dataset, holdout = scope_of(runs)
    cells = summarise(runs)
    largest = cells["ipc"].max()
    shown = cells[(cells["ipc"] == largest).fillna(False) | cells["ipc"].isna()]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(max(5.0, 1.2 * len(shown) + 1.5), 4.4))
        ax = fig.add_subplot()
        x = np.arange(len(shown))
        for i, (name, metric) in enumerate(zip(MOTION_COLOURS, ("motion_only_accuracy", "other_accuracy"))):
            ax.bar(x + (i - 0.5) * 0.38, shown[f"{metric}_mean"], width=0.38, yerr=shown[f"{metric}_std"],
                   capsize=3, label=name, color=MOTION_COLOURS[name])
        ax.set_xticks(x, [label.replace(" + ", "\n+ ") for label in shown["label"]])
        ax.set_ylabel(f"Top-1 accuracy on {holdout} (%)")
        ipc_text = "" if pd.isna(largest) else f" at IPC {int(largest)}"
        ax.set_title(f"{dataset}: motion-only vs other classes{ipc_text}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(frameon=False)
        return _save(fig, out_png)


__all__ = ["plot_accuracy_vs_ipc", "plot_distilled_clips", "plot_clip_motion", "plot_motion_classes"]


def plot_cost(runs: pd.DataFrame, out_png: str | Path) -> Path:
    """Accuracy against the cost of making the training set, wall time (log scale) and peak memory, one marker
    per method and IPC (mean over seeds, error bars: std of the accuracy), as the TSGF paper's Fig. 1."""
    dataset, holdout = scope_of(runs)
    cells = summarise(runs)
    cells = cells[cells["ipc"].notna()]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(11, 4.4), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, column, name in ((axes[0], "distill_seconds", "Wall time to make the set (s, log scale)"),
                                 (axes[1], "distill_own_peak_mb", "Own peak memory of the set's job (MB)")):
            for label in dict.fromkeys(cells["label"]):
                mine = cells[cells["label"] == label]
                x = pd.to_numeric(mine[column], errors="coerce").to_numpy(dtype=float)
                if column == "distill_seconds":
                    x = np.maximum(x, 1e-2)  # a row selection takes milliseconds: show it at the axis floor
                ax.errorbar(x, mine["accuracy_mean"], yerr=mine["accuracy_std"], capsize=3, linestyle="none",
                            marker="s" if mine["augmentation"].iloc[0] == "tsgf_a" else "o", markersize=7,
                            color=METHOD_COLOURS[mine["method"].iloc[0]], label=label,
                            alpha=1.0 if label in HEADLINE else 0.45)
                for xi, yi, k in zip(x, mine["accuracy_mean"], mine["ipc"]):
                    if np.isfinite(xi):
                        ax.annotate(f"{k}", (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
            if column == "distill_seconds":
                ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.grid(alpha=0.3)
        chance = chance_level(runs)
        for ax in axes:
            if chance is not None:
                ax.axhline(chance, color="grey", linestyle=(0, (2, 2)), linewidth=1.2)
        axes[0].set_ylabel(f"Top-1 accuracy on {holdout} (%)")
        fig.suptitle(f"{dataset}: accuracy vs cost of the training set (numbers: IPC; dotted: chance)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right center", frameon=False)
        return _save(fig, out_png)


def cost_scaling_table(points: pd.DataFrame) -> pd.DataFrame:
    """What the cost-scaling figure plots, a row per method and IPC in plan order: `seconds`, the set's wall time
    scaled to its configured optimisation steps (`time_factor`: configured / run steps), and its own peak memory
    (and peak GPU memory where a GPU was used). `points`: method, ipc, wall_seconds, own_peak_mb, peak_gpu_mb and
    time_factor of each short run (`experiment.scaling`)."""
    table = points.assign(seconds=pd.to_numeric(points["wall_seconds"]) * points["time_factor"].astype(float))
    return table[["method", "ipc", "seconds", "own_peak_mb", "peak_gpu_mb"]].reset_index(drop=True)


def plot_cost_scaling(table: pd.DataFrame, out_png: str | Path) -> Path:
    """Time and own peak memory of making a set against IPC (`cost_scaling_table`), a line per method (log-log, so a
    slope is the exponent)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(11, 4.4), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True)
        for method in dict.fromkeys(table["method"]):
            mine = table[table["method"] == method].sort_values("ipc")
            seconds = mine["seconds"].to_numpy(float)
            memory = pd.to_numeric(mine["own_peak_mb"], errors="coerce").to_numpy(float)
            for ax, values in ((axes[0], np.maximum(seconds, 1e-3)), (axes[1], np.maximum(memory, 1.0))):
                ax.plot(mine["ipc"], values, marker="o", color=METHOD_COLOURS[method], label=set_label(method))
        ipcs = sorted(table["ipc"].unique())
        for ax, name in ((axes[0], "Time to make the set (s; configured steps)"),
                         (axes[1], "Own peak memory (MB above the job's first step)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ipcs, [str(k) for k in ipcs])
            ax.set_xlabel("IPC")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3, which="both")
        fig.suptitle("Cost of making a training set against IPC (time measured on a few steps and scaled; selections "
                     "as run; memory floored at 1 MB)", fontsize=10)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right center", frameon=False)
        return _save(fig, out_png)


def plot_ablation(runs: pd.DataFrame, spec: dict, out_png: str | Path) -> Path:
    """One ablation: accuracy (mean ± std over seeds) per variant, one line per evaluated cell and IPC, with the
    full-data students and chance as references. Variants stay in config order, evenly spaced."""
    title = spec.get("title") or "Ablation"
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.2, 4.4), layout="constrained")
        ax = fig.add_subplot()
        if runs.empty:
            ax.text(0.5, 0.5, "no runs", ha="center", va="center")
            return _save(fig, out_png)
        dataset, holdout = scope_of(runs)
        variants = list(dict.fromkeys(runs["variant"]))
        defaults = default_variants(runs)
        cells = summarise(runs)
        position = {v: i for i, v in enumerate(variants)}
        lines = cells[cells["ipc"].notna()][["label", "method", "augmentation", "ipc"]].drop_duplicates()
        offsets = np.linspace(-0.08, 0.08, len(lines)) if len(lines) > 1 else [0.0]
        for (_, line), offset in zip(lines.iterrows(), offsets):
            mine = cells[(cells["label"] == line["label"]) & (cells["ipc"] == line["ipc"])]
            x = mine["variant"].map(position).to_numpy(dtype=float) + offset
            ax.errorbar(x, mine["accuracy_mean"], yerr=mine["accuracy_std"], capsize=3, linewidth=1.6,
                        color=METHOD_COLOURS[line["method"]], label=f"{line['label']}, IPC {line['ipc']}",
                        marker="s" if line["augmentation"] == "tsgf_a" else "o",
                        linestyle="-" if line["ipc"] == lines["ipc"].min() else "--")
        full = cells[cells["ipc"].isna()]
        if len(full):
            ax.plot(full["variant"].map(position), full["accuracy_mean"], color="black", linestyle=":", marker="^",
                    label="Full data")
        chance = chance_level(runs)
        if chance is not None:
            ax.axhline(chance, color="grey", linestyle=(0, (2, 2)), linewidth=1.2, label=f"Chance ({chance:.1f}%)")
        ax.set_xticks(range(len(variants)), [v + (" *" if v in defaults else "") for v in variants],
                      rotation=20 if max(map(len, variants)) > 8 else 0)
        ax.set_xlabel(", ".join(spec.get("keys", [])) + "   (* default)")
        ax.set_ylabel(f"Top-1 accuracy on {holdout} (%)")
        ax.set_title(f"{dataset}: {title}")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside right center", frameon=False)
        return _save(fig, out_png)
