"""Stages of workflow/rules/report.smk: evaluation results -> one tidy CSV per ablation -> tables and figures."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from tsgf.errors import TSGFError
from tsgf.stages.common import json_arg

log = logging.getLogger("tsgf")


def aggregate_runs(args: argparse.Namespace) -> None:
    """Collect one ablation's evaluation results, each tagged with its variant and teacher, into one CSV."""
    variants = json_arg(args.variants)
    given = {str(path) for path in args.results}
    missing = sorted({path for v in variants for path, _ in v["results"]} - given)
    if missing:
        raise TSGFError(f"--variants name cell files that were not given: {', '.join(missing)}")
    cells = {path: {row["seed"]: row for row in json.loads(Path(path).read_text())["students"]} for path in given}
    rows = []
    for variant in variants:
        teacher = json.loads(Path(variant["teacher_metrics"]).read_text())
        for path, seed in variant["results"]:
            if seed not in cells[path]:
                raise TSGFError(f"{path} holds no student of seed {seed} (it has seeds "
                                f"{', '.join(map(str, sorted(cells[path])))})")
            row = dict(cells[path][seed])
            row.pop("params", None)
            row.update(ablation=args.ablation, variant=variant["label"], variant_is_default=variant["default"],
                       overrides=json.dumps(variant["overrides"]), teacher_accuracy=teacher["accuracy"],
                       teacher_pair_accuracy=teacher.get("pair_accuracy"),
                       teacher_seconds=teacher["train_seconds"],
                       per_class_accuracy=json.dumps(row["per_class_accuracy"]))
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    log.info("aggregated %d runs of %s into %s", len(rows), args.ablation, args.out)


def make_tables(args: argparse.Namespace) -> None:
    """Every table (main, ablations, motion, cost) as CSV, Markdown and LaTeX."""
    from tsgf.tables import write_all_tables

    strength = pd.read_csv(args.motion_strength) if args.motion_strength else None
    order_blind = json.loads(args.order_blind.read_text()) if args.order_blind else None
    for path in write_all_tables(args.runs, args.out_dir, json_arg(args.ablations), strength, order_blind=order_blind):
        log.info("wrote %s", path)


def make_figures(args: argparse.Namespace) -> None:
    """Every figure, and each training set as an animated GIF (clips/METHOD.gif)."""
    from tsgf import figures
    from tsgf.clip_export import export_set_gif
    from tsgf.clipset import load_clipset
    from tsgf.saliency import SaliencyConfig
    from tsgf.tables import load_runs, set_label

    runs = load_runs(args.runs)
    main = runs[runs["ablation"] == "main"]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = {method: Path(path) for method, path in (item.split("=", 1) for item in args.sets)}
    labelled = {set_label(method): path for method, path in sets.items()}
    saliency = SaliencyConfig.from_dict(json_arg(args.saliency))
    written = [figures.plot_accuracy_vs_ipc(main, out / "accuracy_vs_ipc.png"),
               figures.plot_cost(main, out / "cost.png"),
               figures.plot_distilled_clips(labelled, out / "distilled_clips.png", saliency),
               figures.plot_clip_motion(labelled, out / "motion_flow.png"),
               figures.plot_motion_classes(main, out / "motion_classes.png")]
    if scaling := json_arg(args.scaling):
        points = [{**point, **{key: json.loads((Path(point["set"]) / "meta.json").read_text()).get(key)
                               for key in ("wall_seconds", "own_peak_mb", "peak_gpu_mb")}} for point in scaling]
        table = figures.cost_scaling_table(pd.DataFrame(points))
        table.to_csv(out / "cost_scaling.csv", index=False)  # the figure's numbers, for quoting
        written += [figures.plot_cost_scaling(table, out / "cost_scaling.png"), out / "cost_scaling.csv"]
    for name, spec in json_arg(args.ablations).items():
        written.append(figures.plot_ablation(runs[runs["ablation"] == name], spec, out / f"ablation_{name}.png"))
    written += [export_set_gif(load_clipset(path), out / "clips" / f"{method}.gif") for method, path in sets.items()]
    for path in written:
        log.info("wrote %s", path)


__all__ = ["aggregate_runs", "make_tables", "make_figures"]
