"""`python -m tsgf <stage> ...`: one command per workflow stage; each Snakemake rule calls one of them.

Stages, in data-flow order: prepare (and motion-strength) -> train-teacher -> teacher-features -> training sets
(random-real, select-coreset, distribution-matching, distill shards -> merge-distilled) -> evaluate -> aggregate ->
tables / figures. Parameters arrive as one JSON object (`--params`, text or @file), already validated by the
workflow; each stage writes what it used into its outputs. The stages that need torch live in tsgf/torch_stages.py
and are imported only when one of them runs: a light stage (selection, merging, tables) starts in under a second
instead of four, which adds up over the hundreds of jobs of a run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsgf.baselines import select_random_real
from tsgf.clipset import ClipSet, load_clipset, train_and_holdout, update_meta, write_clipset
from tsgf.config import AUGMENTATIONS, CORESET_METHODS, DISTILLED_METHODS
from tsgf.errors import TSGFError
from tsgf.measure import PRECISIONS, Stopwatch, peak_rss_mb
from tsgf.sharding import DistillResult, Shard, merge_shards, shard_plan

log = logging.getLogger("tsgf")


# ------------------------------------------------------------- shared by the stages here and in tsgf/torch_stages.py


def json_arg(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    return json.loads(text)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def selected_real(data: ClipSet, params: dict[str, Any], ipc: int, seed: int) -> np.ndarray:
    """The random real rows of (ipc, seed): the random-real set, and what DM, SRe2L and TSGF start from."""
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    return select_random_real(train_rows, data.labels(train_rows), data.num_classes, ipc, seed)


def write_training_set(out: Path, data: ClipSet, clips: np.ndarray, rows: np.ndarray, source: str,
                       recipe: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write a training set (selected rows or synthesised clips at the class-major positions of `rows`) in the
    clip-set format, each clip traced to the real clip it came from or started from."""
    labels = data.labels(rows)
    ipc = len(rows) // data.num_classes
    real_ids = data.manifest.set_index("index").loc[rows, "clip_id"]
    manifest = pd.DataFrame({
        "index": np.arange(len(rows)), "label": labels,
        "class_name": [data.classes[label] for label in labels],
        "clip_id": [f"{source}/{data.classes[label]}/{i % ipc}" for i, label in enumerate(labels)],
        "split": "train", "source": [f"{source}:{clip_id}" for clip_id in real_ids],
        "status": "ok", "reason": ""})
    write_clipset(out, clips, manifest, data.classes, data.meta["mean"], data.meta["std"], recipe,
                  data.meta["motion_only_classes"], extra_meta={"dataset": data.meta["dataset"], **extra})


def shard_of(params: dict[str, Any], num_classes: int, ipc: int, number: int) -> Shard:
    plan = shard_plan(num_classes, ipc, params["classes_per_batch"], params["ipc_per_job"])
    if not 0 <= number < len(plan):
        raise TSGFError(f"shard {number} does not exist: this set has {len(plan)} shards (0..{len(plan) - 1})")
    return plan[number]


# ---------------------------------------------------------------------------------------------------- stages


def cmd_prepare(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
    if params["layout"] == "motion":
        from tsgf.datasets.motion import generate_motion_dataset

        meta = generate_motion_dataset(params["motion"], args.out)
    else:
        from tsgf.datasets.layouts import build_index, expected_num_classes
        from tsgf.datasets.prepare import prepare_video_dataset
        from tsgf.datasets.video import ClipSpec

        index = build_index(params)
        if len(index.classes) != expected_num_classes(params):
            raise TSGFError(f"dataset.root {params['root']}: found {len(index.classes)} classes, but layout "
                            f"'{params['layout']}' with dataset.classes {params['classes']!r} should give "
                            f"{expected_num_classes(params)}; list the classes you have in dataset.classes")
        counts = index.counts()
        log.info("%s: %d classes, %d train and %d test clips listed", params["root"], len(index.classes),
                 counts["train"], counts["test"])
        recipe = {"reader": "tsgf.datasets", "version": 1, "params": params}
        meta = prepare_video_dataset(index, ClipSpec.from_dict(params["clip"]), args.out, recipe, args.threads,
                                     params["normalisation"])
    meta = update_meta(args.out, dataset=params["name"])
    log.info("prepared %d clips of shape %s in %s (sha256 %s)", meta["num_clips"], meta["clip_shape"], args.out,
             meta["sha256"][:12])


def cmd_random_real(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
    data = load_clipset(args.data)
    with Stopwatch() as watch:
        rows = selected_real(data, params, args.ipc, args.seed)
    recipe = {"method": "random_real", "ipc": args.ipc, "seed": args.seed, "source": str(args.data), **params}
    write_training_set(Path(args.out), data, np.asarray(data.clips[rows]), rows, "random_real", recipe,
                        {"wall_seconds": watch.seconds, "peak_rss_mb": peak_rss_mb()})


def cmd_select_coreset(args: argparse.Namespace) -> None:
    from tsgf.coresets import select_coreset

    params = json_arg(args.params)
    data = load_clipset(args.data)
    saved = np.load(args.features)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    if not np.array_equal(saved["rows"], train_rows):
        raise TSGFError(f"{args.features} holds features of other training rows than {args.data} with holdout "
                        f"{params['holdout']!r}: delete it so the workflow recomputes it")
    with Stopwatch() as watch:
        rows = select_coreset(args.method, saved["features"], saved["rows"], saved["labels"], data.num_classes,
                              args.ipc, args.seed)
    recipe = {"method": args.method, "ipc": args.ipc, "seed": args.seed, "features": str(args.features), **params}
    # the method's cost includes computing the features it picks on
    cost = {"wall_seconds": float(saved["seconds"]) + watch.seconds,
            "peak_rss_mb": max(float(saved["peak_rss_mb"]), peak_rss_mb())}
    write_training_set(Path(args.out), data, np.asarray(data.clips[rows]), rows, args.method, recipe, cost)


def cmd_merge_distilled(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
    data = load_clipset(args.data)
    loaded = [np.load(path) for path in args.shards]
    results = [DistillResult(f["positions"], f["clips"], json.loads(str(f["curve"])), f["saliency"],
                             float(f["seconds"])) for f in loaded]
    merged = merge_shards(results, data.num_classes * args.ipc)
    rows = selected_real(data, params, args.ipc, args.seed)
    method = next(m for m, enabled in DISTILLED_METHODS.items() if enabled == params["tsgf_o"]["enabled"])
    recipe = {"method": method, "ipc": args.ipc, "seed": args.seed, "teacher": str(args.teacher), **params}
    peak_gpu = [float(f["peak_gpu_mb"]) for f in loaded if not np.isnan(f["peak_gpu_mb"])]
    extra = {"wall_seconds": merged.seconds, "shards": len(loaded),
             "peak_rss_mb": max(float(f["peak_rss_mb"]) for f in loaded),
             "peak_gpu_mb": max(peak_gpu) if peak_gpu else None, "device": str(loaded[0]["device"])}
    out = Path(args.out)
    write_training_set(out, data, merged.clips, rows, method, recipe, extra)
    pd.DataFrame(merged.curve).to_csv(out / "loss.csv", index=False)
    np.save(out / "saliency.npy", merged.saliency)
    log.info("merged %d shards into %d %s clips (%.0f s of distillation)", len(loaded), len(rows), method,
             merged.seconds)


def cmd_aggregate(args: argparse.Namespace) -> None:
    variants = json_arg(args.variants)
    if sum(v["count"] for v in variants) != len(args.results):
        raise TSGFError(f"--variants count {sum(v['count'] for v in variants)} results, but {len(args.results)} "
                        f"were given")
    rows, results = [], iter(args.results)
    for variant in variants:
        teacher = json.loads(Path(variant["teacher_metrics"]).read_text())
        for path in itertools.islice(results, variant["count"]):
            row = json.loads(Path(path).read_text())
            row.pop("params", None)
            row.update(ablation=args.ablation, variant=variant["label"], variant_is_default=variant["default"],
                       overrides=json.dumps(variant["overrides"]), teacher_accuracy=teacher["accuracy"],
                       teacher_seconds=teacher["train_seconds"],
                       per_class_accuracy=json.dumps(row["per_class_accuracy"]))
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    log.info("aggregated %d runs of %s into %s", len(rows), args.ablation, args.out)


def cmd_tables(args: argparse.Namespace) -> None:
    from tsgf.tables import write_all_tables

    strength = pd.read_csv(args.motion_strength) if args.motion_strength else None
    for path in write_all_tables(args.runs, args.out_dir, json_arg(args.ablations), strength):
        log.info("wrote %s", path)


def _torch(name: str):
    """The handler of a stage in tsgf/torch_stages.py, imported when that stage runs."""

    def handler(args: argparse.Namespace) -> None:
        from tsgf import torch_stages

        getattr(torch_stages, f"cmd_{name}")(args)

    return handler


# ---------------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tsgf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO")
    stages = parser.add_subparsers(dest="stage", required=True)

    def stage(name: str, handler, help_text: str, compute: bool = False) -> argparse.ArgumentParser:
        sub = stages.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if compute:
            sub.add_argument("--threads", type=int, default=1, help="torch CPU threads")
            sub.add_argument("--device", default="auto", help="auto (GPU if visible, else CPU), cpu or cuda[:N]")
            sub.add_argument("--precision", default="fp32", choices=PRECISIONS,
                             help="bf16: autocast network forward passes on CUDA (no effect on CPU)")
            sub.add_argument("--checkpoint", type=Path,
                             help="snapshot file: resume from it if it exists, delete it when done (default: off)")
            sub.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                             help="least time between snapshots; 0: after every epoch or iteration")
        return sub

    sub = stage("prepare", cmd_prepare, "generate or convert a dataset into a prepared clip set")
    sub.add_argument("--params", required=True, help="the `dataset` config section as JSON (or @file)")
    sub.add_argument("--out", required=True, type=Path)
    sub.add_argument("--threads", type=int, default=1, help="videos decoded in parallel")

    sub = stage("train-teacher", _torch("train_teacher"), "train the BatchNorm teacher on the full train split", True)
    sub.add_argument("--data", required=True, type=Path)
    sub.add_argument("--params", required=True)
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("teacher-features", _torch("teacher_features"), "the teacher's penultimate features of every training "
                "clip (.npz), for the coresets", True)
    sub.add_argument("--data", required=True, type=Path)
    sub.add_argument("--teacher", required=True, type=Path, help="the teacher's directory")
    sub.add_argument("--params", required=True, help="the teacher's params (its split and batch size)")
    sub.add_argument("--out", required=True, type=Path)

    for name, handler, text in (
            ("random-real", cmd_random_real, "select random real clips per class"),
            ("select-coreset", cmd_select_coreset, "pick a herding or k-center coreset on the teacher's features"),
            ("distribution-matching", _torch("distribution_matching"), "synthesise a DM set with random networks"),
            ("distill", _torch("distill"), "synthesise one shard of a distilled set against the teacher (.npz)"),
            ("merge-distilled", cmd_merge_distilled, "merge a distilled set's shards into a clip set")):
        sub = stage(name, handler, text, compute=name in ("distill", "distribution-matching"))
        sub.add_argument("--data", required=True, type=Path)
        if name in ("distill", "merge-distilled"):
            sub.add_argument("--teacher", required=True, type=Path)
        sub.add_argument("--ipc", required=True, type=int)
        sub.add_argument("--seed", required=True, type=int)
        sub.add_argument("--params", required=True)
        sub.add_argument("--out", required=True, type=Path)
        if name == "select-coreset":
            sub.add_argument("--method", required=True, choices=CORESET_METHODS)
            sub.add_argument("--features", required=True, type=Path, help="the teacher-features output (.npz)")
        if name == "distill":
            sub.add_argument("--shard", type=int, default=0, help="which shard of the set's plan (tsgf/sharding.py)")
        if name == "merge-distilled":
            sub.add_argument("shards", nargs="+", type=Path, help="every shard's .npz, in any order")

    sub = stage("evaluate", _torch("evaluate"), "train a fresh student on a training set, test it on real clips", True)
    sub.add_argument("--data", required=True, type=Path, help="the real prepared clip set (its test split)")
    source = sub.add_mutually_exclusive_group(required=True)
    source.add_argument("--train-set", type=Path, help="a clip set to train on (distilled or random real)")
    source.add_argument("--full-data", action="store_true", help="train on the full real train split")
    sub.add_argument("--method", default="full", help="the training set's method name, for the results row")
    sub.add_argument("--augmentation", choices=AUGMENTATIONS, default="none")
    sub.add_argument("--teacher", type=Path, help="the teacher's directory, for evaluation.labels.kind 'soft'")
    sub.add_argument("--seed", required=True, type=int)
    sub.add_argument("--params", required=True)
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("motion-strength", _torch("motion_strength"),
                "mean inter-frame difference of each class's training clips")
    sub.add_argument("--data", required=True, type=Path)
    sub.add_argument("--params", required=True, help="the split: holdout and val_fraction")
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("aggregate", cmd_aggregate, "collect one ablation's evaluation results into one tidy CSV")
    sub.add_argument("results", nargs="+", type=Path, help="evaluation JSON files, grouped by variant in order")
    sub.add_argument("--ablation", required=True, help="'main' or the ablation's name")
    sub.add_argument("--variants", required=True, help="JSON list: per variant its label, overrides, default, "
                     "teacher_metrics and count (how many of the results, in order, are its own)")
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("tables", cmd_tables, "every table (main, ablations, motion, cost) as CSV, Markdown and LaTeX")
    sub.add_argument("--runs", nargs="+", required=True, type=Path, help="the aggregate CSV of each ablation")
    sub.add_argument("--ablations", default="{}", help="JSON: ablation name -> {title, keys}")
    sub.add_argument("--motion-strength", type=Path, help="the motion-strength CSV of the main dataset")
    sub.add_argument("--out-dir", required=True, type=Path)

    sub = stage("figures", _torch("figures"), "accuracy vs IPC and vs cost, distilled clip strips, their optical flow, "
                "motion-class accuracy, one figure per ablation; each set as an animated GIF (clips/METHOD.gif)")
    sub.add_argument("--runs", nargs="+", required=True, type=Path, help="the aggregate CSV of each ablation")
    sub.add_argument("--sets", nargs="+", required=True, help="METHOD=DIR clip sets to draw and export")
    sub.add_argument("--saliency", required=True, help="the saliency config section as JSON")
    sub.add_argument("--ablations", default="{}", help="JSON: ablation name -> {title, keys}")
    sub.add_argument("--out-dir", required=True, type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        args.handler(args)
    except TSGFError as error:
        print(f"tsgf {args.stage}: error: {error}", file=sys.stderr)
        return 2
    return 0


__all__ = ["main", "build_parser"]
