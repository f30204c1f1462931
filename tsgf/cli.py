"""`python -m tsgf <stage> ...`: one command per workflow stage; each Snakemake rule calls one of them.

Stages, in data-flow order: prepare -> train-teacher -> random-real / distill (shards) -> merge-distilled ->
evaluate -> aggregate -> tables / figures. Parameters arrive as one JSON object (`--params`, text or @file),
already validated by the workflow; each stage writes what it used into its outputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsgf import runtime
from tsgf.augment import SaliencyAugmentConfig, saliency_guided_augment
from tsgf.baselines import select_random_real
from tsgf.checkpoint import Checkpoint
from tsgf.clipset import ClipSet, load_clipset, train_and_holdout, update_meta, write_clipset
from tsgf.errors import TSGFError
from tsgf.models import NetworkConfig, build_network, count_parameters, load_network, save_network
from tsgf.saliency import SaliencyConfig, spatial_saliency_map
from tsgf.sharding import Shard, shard_plan, shard_positions
from tsgf.training import ClipSource, TrainConfig, evaluate_classifier, train_classifier

log = logging.getLogger("tsgf")
SET_LABELS = {"random_real": "Random real", "sre2l": "SRe2L", "tsgf": "TSGF"}


def _json_arg(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    return json.loads(text)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def _normalisation(data: ClipSet) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(data.meta["mean"]), torch.tensor(data.meta["std"])


def _split_source(data: ClipSet, rows: np.ndarray) -> ClipSource:
    return ClipSource(data.clips, rows, data.labels(rows), *_normalisation(data))


def _start(args: argparse.Namespace, seed: int) -> torch.device:
    """Device, threads and seeds of a compute stage."""
    device = runtime.select_device(args.device)
    runtime.configure(args.threads, seed, device)
    return device


def _checkpoint(args: argparse.Namespace, device: torch.device) -> Checkpoint:
    """The stage's snapshots (off without --checkpoint), keyed by everything that decides its bits: the command
    line minus where it writes and how often, plus the device actually used."""
    key = {name: str(value) for name, value in sorted(vars(args).items())
           if name not in ("handler", "checkpoint", "checkpoint_every", "log_level")}
    return Checkpoint(args.checkpoint, args.checkpoint_every, {**key, "resolved_device": str(device)})


# ---------------------------------------------------------------------------------------------------- stages


def cmd_prepare(args: argparse.Namespace) -> None:
    params = _json_arg(args.params)
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


def cmd_train_teacher(args: argparse.Namespace) -> None:
    params = _json_arg(args.params)
    device = _start(args, params["seed"])
    checkpoint = _checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    teacher = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape,
                            batchnorm=True)
    config = TrainConfig.from_dict(params["train"])
    curve = train_classifier(teacher, _split_source(data, train_rows), config, params["seed"], device,
                             data.clip_shape[0], desc="teacher", precision=args.precision, checkpoint=checkpoint)
    seconds = checkpoint.elapsed_seconds()
    result = evaluate_classifier(teacher, _split_source(data, holdout_rows), data.num_classes, config.test_passes,
                                 config.batch_size, params["seed"], device, data.clip_shape[0], args.precision,
                                 config.batch_zscore)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_network(out / "model.pt", teacher.cpu(), params["network"], data.num_classes, data.clip_shape, True)
    pd.DataFrame(curve).to_csv(out / "curve.csv", index=False)
    _write_json(out / "metrics.json", {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": seconds,
        "parameters": count_parameters(teacher), "final_train_accuracy": curve[-1]["train_accuracy"],
        "peak_rss_mb": runtime.peak_rss_mb(), "peak_gpu_mb": runtime.peak_gpu_mb(device),
        "classes": data.classes, "device": str(device), "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("teacher: %s accuracy %.3f (chance %.3f) after %.0f s", params["holdout"], result["accuracy"],
             1 / data.num_classes, seconds)


def _selected_real(data: ClipSet, params: dict[str, Any], ipc: int, seed: int) -> np.ndarray:
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    return select_random_real(train_rows, data.labels(train_rows), data.num_classes, ipc, seed)


def _write_training_set(out: Path, data: ClipSet, clips: np.ndarray, rows: np.ndarray, source: str,
                        recipe: dict[str, Any], extra: dict[str, Any]) -> None:
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


def cmd_random_real(args: argparse.Namespace) -> None:
    params = _json_arg(args.params)
    data = load_clipset(args.data)
    rows = _selected_real(data, params, args.ipc, args.seed)
    clips = np.asarray(data.clips[rows])
    recipe = {"method": "random_real", "ipc": args.ipc, "seed": args.seed, "source": str(args.data), **params}
    _write_training_set(Path(args.out), data, clips, rows, "random_real", recipe,
                        {"wall_seconds": 0.0, "peak_rss_mb": None})


def _shard_of(params: dict[str, Any], num_classes: int, ipc: int, number: int) -> Shard:
    plan = shard_plan(num_classes, ipc, params["classes_per_batch"], params["ipc_per_job"])
    if not 0 <= number < len(plan):
        raise TSGFError(f"shard {number} does not exist: this set has {len(plan)} shards (0..{len(plan) - 1})")
    return plan[number]


def cmd_distill(args: argparse.Namespace) -> None:
    from tsgf.distill import DistillConfig, distill

    params = _json_arg(args.params)
    device = _start(args, args.seed)
    checkpoint = _checkpoint(args, device)
    data = load_clipset(args.data)
    config = DistillConfig.from_dict(params)
    shard = _shard_of(params, data.num_classes, args.ipc, args.shard)
    positions = shard_positions(shard, data.num_classes, args.ipc, config.classes_per_batch)
    rows = _selected_real(data, params, args.ipc, args.seed)[positions]
    init = torch.from_numpy(np.asarray(data.clips[rows])).float() / 255.0
    teacher = load_network(Path(args.teacher) / "model.pt")
    result = distill(teacher, init, data.num_classes, args.ipc, config, args.seed, device, *_normalisation(data),
                     shard, args.precision, checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, positions=result.positions, clips=result.clips, saliency=result.saliency,
             curve=np.array(json.dumps(result.curve)), seconds=result.seconds, peak_rss_mb=runtime.peak_rss_mb(),
             peak_gpu_mb=np.nan if device.type != "cuda" else runtime.peak_gpu_mb(device), device=str(device))
    checkpoint.remove()
    log.info("distilled shard %d (%d clips) in %.0f s; final loss %.4f", args.shard, len(positions),
             result.seconds, result.curve[-1]["loss"])


def cmd_merge_distilled(args: argparse.Namespace) -> None:
    from tsgf.distill import DistillResult, merge_shards

    params = _json_arg(args.params)
    data = load_clipset(args.data)
    loaded = [np.load(path) for path in args.shards]
    results = [DistillResult(f["positions"], f["clips"], json.loads(str(f["curve"])), f["saliency"],
                             float(f["seconds"])) for f in loaded]
    merged = merge_shards(results, data.num_classes * args.ipc)
    rows = _selected_real(data, params, args.ipc, args.seed)
    method = "tsgf" if params["tsgf_o"]["enabled"] else "sre2l"
    recipe = {"method": method, "ipc": args.ipc, "seed": args.seed, "teacher": str(args.teacher), **params}
    peak_gpu = [float(f["peak_gpu_mb"]) for f in loaded if not np.isnan(f["peak_gpu_mb"])]
    extra = {"wall_seconds": merged.seconds, "shards": len(loaded),
             "peak_rss_mb": max(float(f["peak_rss_mb"]) for f in loaded),
             "peak_gpu_mb": max(peak_gpu) if peak_gpu else None, "device": str(loaded[0]["device"])}
    out = Path(args.out)
    _write_training_set(out, data, merged.clips, rows, method, recipe, extra)
    pd.DataFrame(merged.curve).to_csv(out / "loss.csv", index=False)
    np.save(out / "saliency.npy", merged.saliency)
    log.info("merged %d shards into %d %s clips (%.0f s of distillation)", len(loaded), len(rows), method,
             merged.seconds)


def cmd_evaluate(args: argparse.Namespace) -> None:
    params = _json_arg(args.params)
    device = _start(args, args.seed)
    checkpoint = _checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, holdout_rows = train_and_holdout(data, params["holdout"], params["val_fraction"])
    if args.full_data:
        train, config, set_meta = _split_source(data, train_rows), TrainConfig.from_dict(params["full_data_train"]), {}
    else:
        training_set = load_clipset(args.train_set)
        rows = np.arange(len(training_set.clips))
        train = ClipSource(training_set.clips, rows, training_set.labels(rows), *_normalisation(data))
        config, set_meta = TrainConfig.from_dict(params["train"]), training_set.meta
    augment = None
    if args.augmentation == "tsgf_a":
        saliency = SaliencyConfig.from_dict(params["saliency"])
        tsgf_a = SaliencyAugmentConfig.from_dict(params["tsgf_a"])

        def augment(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            return saliency_guided_augment(clips, spatial_saliency_map(clips, saliency), gen, tsgf_a)

    torch.manual_seed(args.seed)  # student initialisation
    frames = data.clip_shape[0]
    student = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape)
    curve = train_classifier(student, train, config, args.seed, device, frames, augment, desc=f"student {args.method}",
                             precision=args.precision, checkpoint=checkpoint)
    result = evaluate_classifier(student, _split_source(data, holdout_rows), data.num_classes, config.test_passes,
                                 config.batch_size, args.seed, device, frames, args.precision, config.batch_zscore)
    seconds = checkpoint.elapsed_seconds()
    motion_only = set(data.meta["motion_only_classes"])
    per_class = dict(zip(data.classes, result["per_class_accuracy"]))
    motion = [a for c, a in per_class.items() if c in motion_only]
    other = [a for c, a in per_class.items() if c not in motion_only]
    num_train = len(train.rows)
    _write_json(Path(args.out), {
        "dataset": data.meta["dataset"],
        "method": "full" if args.full_data else args.method, "augmentation": args.augmentation,
        "tsgf_o": args.method == "tsgf" and not args.full_data, "tsgf_a": args.augmentation == "tsgf_a",
        "ipc": None if args.full_data else num_train // data.num_classes, "seed": args.seed,
        "holdout": params["holdout"], "accuracy": result["accuracy"], "per_class_accuracy": per_class,
        "motion_only_accuracy": float(np.mean(motion)) if motion else None,
        "other_accuracy": float(np.mean(other)) if other else None, "num_train_clips": num_train,
        "storage_bytes": int(num_train * np.prod(data.clip_shape) + 8 * num_train),
        "distill_seconds": set_meta.get("wall_seconds", 0.0), "distill_peak_rss_mb": set_meta.get("peak_rss_mb"),
        "eval_seconds": seconds, "eval_peak_rss_mb": runtime.peak_rss_mb(), "test_passes": result["test_passes"],
        "final_train_loss": curve[-1]["loss"], "final_train_accuracy": curve[-1]["train_accuracy"],
        "train_set": None if args.full_data else str(args.train_set), "device": str(device),
        "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("student on %s (%s): %s accuracy %.3f in %.0f s", args.method, args.augmentation, params["holdout"],
             result["accuracy"], seconds)


def cmd_aggregate(args: argparse.Namespace) -> None:
    teacher = json.loads(Path(args.teacher_metrics).read_text()) if args.teacher_metrics else {}
    rows = []
    for path in args.results:
        row = json.loads(Path(path).read_text())
        row.pop("params", None)
        row["per_class_accuracy"] = json.dumps(row["per_class_accuracy"])
        row["teacher_accuracy"] = teacher.get("accuracy")
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    log.info("aggregated %d runs into %s", len(rows), out)


def cmd_tables(args: argparse.Namespace) -> None:
    from tsgf.tables import write_all_tables

    for path in write_all_tables(Path(args.runs), Path(args.out_dir)):
        log.info("wrote %s", path)


def cmd_figures(args: argparse.Namespace) -> None:
    from tsgf import figures
    from tsgf.clip_export import export_set_gif

    runs = pd.read_csv(args.runs)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = {method: Path(path) for method, path in (item.split("=", 1) for item in args.sets)}
    labelled = {SET_LABELS.get(method, method): path for method, path in sets.items()}
    saliency = SaliencyConfig.from_dict(_json_arg(args.saliency))
    written = [figures.plot_accuracy_vs_ipc(runs, out / "accuracy_vs_ipc.png"),
               figures.plot_distilled_clips(labelled, out / "distilled_clips.png", saliency),
               figures.plot_clip_motion(labelled, out / "motion_flow.png"),
               figures.plot_motion_classes(runs, out / "motion_classes.png")]
    written += [export_set_gif(load_clipset(path), out / "clips" / f"{method}.gif") for method, path in sets.items()]
    for path in written:
        log.info("wrote %s", path)


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
            sub.add_argument("--precision", default="fp32", choices=runtime.PRECISIONS,
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

    sub = stage("train-teacher", cmd_train_teacher, "train the BatchNorm teacher on the full train split", True)
    sub.add_argument("--data", required=True, type=Path)
    sub.add_argument("--params", required=True)
    sub.add_argument("--out", required=True, type=Path)

    for name, handler, text in (
            ("random-real", cmd_random_real, "select random real clips per class"),
            ("distill", cmd_distill, "synthesise one shard of a distilled set against the teacher (.npz)"),
            ("merge-distilled", cmd_merge_distilled, "merge a distilled set's shards into a clip set")):
        sub = stage(name, handler, text, compute=name == "distill")
        sub.add_argument("--data", required=True, type=Path)
        if name != "random-real":
            sub.add_argument("--teacher", required=True, type=Path)
        sub.add_argument("--ipc", required=True, type=int)
        sub.add_argument("--seed", required=True, type=int)
        sub.add_argument("--params", required=True)
        sub.add_argument("--out", required=True, type=Path)
        if name == "distill":
            sub.add_argument("--shard", type=int, default=0, help="which shard of the set's plan (tsgf/sharding.py)")
        if name == "merge-distilled":
            sub.add_argument("shards", nargs="+", type=Path, help="every shard's .npz, in any order")

    sub = stage("evaluate", cmd_evaluate, "train a fresh student on a training set, test it on real clips", True)
    sub.add_argument("--data", required=True, type=Path, help="the real prepared clip set (its test split)")
    source = sub.add_mutually_exclusive_group(required=True)
    source.add_argument("--train-set", type=Path, help="a clip set to train on (distilled or random real)")
    source.add_argument("--full-data", action="store_true", help="train on the full real train split")
    sub.add_argument("--method", default="full", help="the training set's method name, for the results row")
    sub.add_argument("--augmentation", choices=["none", "tsgf_a"], default="none")
    sub.add_argument("--seed", required=True, type=int)
    sub.add_argument("--params", required=True)
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("aggregate", cmd_aggregate, "collect evaluation results into one tidy CSV")
    sub.add_argument("results", nargs="+", type=Path)
    sub.add_argument("--teacher-metrics", type=Path)
    sub.add_argument("--out", required=True, type=Path)

    sub = stage("tables", cmd_tables, "main, ablation and per-class tables as CSV, Markdown and LaTeX")
    sub.add_argument("--runs", required=True, type=Path)
    sub.add_argument("--out-dir", required=True, type=Path)

    sub = stage("figures", cmd_figures, "accuracy vs IPC, distilled clip strips, their optical flow, motion-class "
                "accuracy; each set as an animated GIF (clips/METHOD.gif)")
    sub.add_argument("--runs", required=True, type=Path)
    sub.add_argument("--sets", nargs="+", required=True, help="METHOD=DIR clip sets to draw and export")
    sub.add_argument("--saliency", required=True, help="the saliency config section as JSON")
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
