"""The CLI stages that need torch (they run networks, or draw clips with their saliency): imported only by the
jobs that run them, so the light stages in tsgf/cli.py start without paying for torch."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tsgf import runtime
from tsgf.augment import SaliencyAugmentConfig, saliency_guided_augment
from tsgf.checkpoint import Checkpoint
from tsgf.cli import json_arg, selected_real, shard_of, write_json, write_training_set
from tsgf.clipset import ClipSet, load_clipset, train_and_holdout
from tsgf.errors import TSGFError
from tsgf.models import NetworkConfig, build_network, count_parameters, load_network, save_network
from tsgf.saliency import SaliencyConfig, spatial_saliency_map
from tsgf.sharding import shard_positions
from tsgf.training import ClipSource, SoftLabels, TrainConfig, embed_clips, evaluate_classifier, train_classifier

log = logging.getLogger("tsgf")


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


def cmd_train_teacher(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
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
    write_json(out / "metrics.json", {
        **result, "holdout": params["holdout"], "chance": 1 / data.num_classes, "train_seconds": seconds,
        "parameters": count_parameters(teacher), "final_train_accuracy": curve[-1]["train_accuracy"],
        "peak_rss_mb": runtime.peak_rss_mb(), "peak_gpu_mb": runtime.peak_gpu_mb(device),
        "classes": data.classes, "device": str(device), "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("teacher: %s accuracy %.3f (chance %.3f) after %.0f s", params["holdout"], result["accuracy"],
             1 / data.num_classes, seconds)


def cmd_teacher_features(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
    device = _start(args, 0)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    teacher = load_network(Path(args.teacher) / "model.pt")
    batch_zscore = TrainConfig.from_dict(params["train"]).batch_zscore
    with runtime.Stopwatch() as watch:
        features = embed_clips(teacher, _split_source(data, train_rows), params["train"]["batch_size"], device,
                               data.clip_shape[0], args.precision, batch_zscore)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, rows=train_rows, labels=data.labels(train_rows), features=features, seconds=watch.seconds,
             peak_rss_mb=runtime.peak_rss_mb())
    log.info("teacher features %s of %d training clips in %.1f s", features.shape, len(train_rows), watch.seconds)


def cmd_distribution_matching(args: argparse.Namespace) -> None:
    from tsgf.distill import DistillConfig, distribution_matching

    params = json_arg(args.params)
    device = _start(args, args.seed)
    checkpoint = _checkpoint(args, device)
    data = load_clipset(args.data)
    rows = selected_real(data, params, args.ipc, args.seed)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    init = torch.from_numpy(np.asarray(data.clips[rows])).float() / 255.0
    result = distribution_matching(init, data.num_classes, args.ipc, _split_source(data, train_rows),
                                   NetworkConfig.from_dict(params["network"]),
                                   DistillConfig.for_distribution_matching(params), params["real_per_class"],
                                   args.seed, device, args.precision, checkpoint)
    recipe = {"method": "dm", "ipc": args.ipc, "seed": args.seed, **params}
    cost = {"wall_seconds": result.seconds, "peak_rss_mb": runtime.peak_rss_mb(),
            "peak_gpu_mb": runtime.peak_gpu_mb(device) if device.type == "cuda" else None, "device": str(device)}
    out = Path(args.out)
    write_training_set(out, data, result.clips, rows, "dm", recipe, cost)
    pd.DataFrame(result.curve).to_csv(out / "loss.csv", index=False)
    checkpoint.remove()
    log.info("DM: %d clips in %.0f s; final loss %.4f", len(rows), result.seconds, result.curve[-1]["loss"])


def cmd_distill(args: argparse.Namespace) -> None:
    from tsgf.distill import DistillConfig, distill

    params = json_arg(args.params)
    device = _start(args, args.seed)
    checkpoint = _checkpoint(args, device)
    data = load_clipset(args.data)
    config = DistillConfig.from_dict(params)
    shard = shard_of(params, data.num_classes, args.ipc, args.shard)
    positions = shard_positions(shard, data.num_classes, args.ipc, config.classes_per_batch)
    rows = selected_real(data, params, args.ipc, args.seed)[positions]
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


def cmd_evaluate(args: argparse.Namespace) -> None:
    params = json_arg(args.params)
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

    soft_labels = None
    if not args.full_data and params["labels"]["kind"] == "soft":
        if args.teacher is None:
            raise TSGFError("evaluation.labels.kind is 'soft' but no --teacher was given to take the labels from")
        # the teacher sees its input normalised as in its own training
        teacher_train = json.loads((args.teacher / "metrics.json").read_text())["params"]["train"]
        soft_labels = SoftLabels(load_network(args.teacher / "model.pt"), params["labels"]["temperature"],
                                 batch_zscore=TrainConfig.from_dict(teacher_train).batch_zscore)

    torch.manual_seed(args.seed)  # student initialisation
    frames = data.clip_shape[0]
    student = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape)
    curve = train_classifier(student, train, config, args.seed, device, frames, augment, desc=f"student {args.method}",
                             precision=args.precision, checkpoint=checkpoint, soft_labels=soft_labels)
    result = evaluate_classifier(student, _split_source(data, holdout_rows), data.num_classes, config.test_passes,
                                 config.batch_size, args.seed, device, frames, args.precision, config.batch_zscore)
    seconds = checkpoint.elapsed_seconds()
    motion_only = set(data.meta["motion_only_classes"])
    per_class = dict(zip(data.classes, result["per_class_accuracy"]))
    motion = [a for c, a in per_class.items() if c in motion_only]
    other = [a for c, a in per_class.items() if c not in motion_only]
    num_train = len(train.rows)
    # pixels and int64 labels; soft labels are made by the teacher while the student trains, so it is stored too
    storage = num_train * int(np.prod(data.clip_shape)) + 8 * num_train
    if soft_labels is not None:
        storage += sum(t.numel() * t.element_size() for t in soft_labels.teacher.state_dict().values())
    write_json(Path(args.out), {
        "dataset": data.meta["dataset"],
        "method": "full" if args.full_data else args.method, "augmentation": args.augmentation,
        "tsgf_o": args.method == "tsgf" and not args.full_data, "tsgf_a": args.augmentation == "tsgf_a",
        "ipc": None if args.full_data else num_train // data.num_classes, "seed": args.seed,
        "labels": "hard" if soft_labels is None else f"soft (T = {soft_labels.temperature:g})",
        "student": params["network"]["arch"] + ("" if params["network"]["arch"] != "convnet3d"
                                                 else f" (width {params['network']['width']})"),
        "holdout": params["holdout"], "accuracy": result["accuracy"], "per_class_accuracy": per_class,
        "motion_only_accuracy": float(np.mean(motion)) if motion else None,
        "other_accuracy": float(np.mean(other)) if other else None, "num_train_clips": num_train,
        "storage_bytes": storage,
        "distill_seconds": set_meta.get("wall_seconds", 0.0), "distill_peak_rss_mb": set_meta.get("peak_rss_mb"),
        "distill_peak_gpu_mb": set_meta.get("peak_gpu_mb"),
        "eval_seconds": seconds, "eval_peak_rss_mb": runtime.peak_rss_mb(), "test_passes": result["test_passes"],
        "final_train_loss": curve[-1]["loss"], "final_train_accuracy": curve[-1]["train_accuracy"],
        "train_set": None if args.full_data else str(args.train_set), "device": str(device),
        "precision": args.precision, "params": params})
    checkpoint.remove()
    log.info("student on %s (%s): %s accuracy %.3f in %.0f s", args.method, args.augmentation, params["holdout"],
             result["accuracy"], seconds)


def cmd_motion_strength(args: argparse.Namespace) -> None:
    from tsgf.saliency import frame_differences

    params = json_arg(args.params)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    strength = np.empty(len(train_rows))
    for start in range(0, len(train_rows), 256):  # chunks: memory stays flat on a large dataset
        chunk = torch.from_numpy(np.asarray(data.clips[train_rows[start : start + 256]])).float() / 255.0
        strength[start : start + 256] = frame_differences(chunk).mean(dim=(1, 2, 3)).numpy()
    labels = data.labels(train_rows)
    table = pd.DataFrame({"class_name": [data.classes[c] for c in labels], "strength": strength})
    table = table.groupby("class_name", sort=False)["strength"].agg(["mean", "count"]).reset_index()
    table.columns = ["class_name", "mean_frame_difference", "clips"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    log.info("motion strength of %d classes: %.4f to %.4f", len(table), table["mean_frame_difference"].min(),
             table["mean_frame_difference"].max())


def cmd_figures(args: argparse.Namespace) -> None:
    from tsgf import figures
    from tsgf.clip_export import export_set_gif
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
    for name, spec in json_arg(args.ablations).items():
        written.append(figures.plot_ablation(runs[runs["ablation"] == name], spec, out / f"ablation_{name}.png"))
    written += [export_set_gif(load_clipset(path), out / "clips" / f"{method}.gif") for method, path in sets.items()]
    for path in written:
        log.info("wrote %s", path)
