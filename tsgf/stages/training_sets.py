"""Stages of workflow/rules/training_sets.smk: the teacher (or nothing) -> a training set at one IPC and seed.

Selected real clips: random real, herding and k-center coresets. Synthesised clips: DM (random networks), MTT and
VDSD (the expert buffer's trajectories), and SRe2L/TSGF against the teacher, made by independent shard jobs
(`distill`) and a light `merge_distilled`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tsgf.clipset import load_clipset, train_and_holdout
from tsgf.errors import TSGFError
from tsgf.measure import Stopwatch, peak_rss_mb
from tsgf.methods import DISTILLED_METHODS
from tsgf.sharding import DistillResult, merge_shards
from tsgf.stages.common import json_arg, selected_real, shard_of, teacher_cost, write_training_set

log = logging.getLogger("tsgf")


def random_real(args: argparse.Namespace) -> None:
    """Select random real clips per class."""
    params = json_arg(args.params)
    data = load_clipset(args.data)
    with Stopwatch() as watch:
        rows = selected_real(data, params, args.ipc, args.seed)
    recipe = {"method": "random_real", "ipc": args.ipc, "seed": args.seed, "source": str(args.data), **params}
    write_training_set(Path(args.out), data, np.asarray(data.clips[rows]), rows, "random_real", recipe,
                        {"wall_seconds": watch.seconds, "peak_rss_mb": peak_rss_mb(), "own_peak_mb": 0.0})


def select_coreset(args: argparse.Namespace) -> None:
    """Pick a herding or k-center coreset per class on the teacher's features."""
    from tsgf.coresets import select_coreset as pick_coreset

    params = json_arg(args.params)
    data = load_clipset(args.data)
    saved = np.load(args.features)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    if not np.array_equal(saved["rows"], train_rows):
        raise TSGFError(f"{args.features} holds features of other training rows than {args.data} with holdout "
                        f"{params['holdout']!r}: delete it so the workflow recomputes it")
    with Stopwatch() as watch:
        rows = pick_coreset(args.method, saved["features"], saved["rows"], saved["labels"], data.num_classes,
                            args.ipc, args.seed)
    recipe = {"method": args.method, "ipc": args.ipc, "seed": args.seed, "features": str(args.features), **params}
    # the method's cost includes computing the features it picks on; the teacher they come from is its prerequisite
    cost = {"wall_seconds": float(saved["seconds"]) + watch.seconds,
            "peak_rss_mb": max(float(saved["peak_rss_mb"]), peak_rss_mb()),
            "own_peak_mb": float(saved["own_peak_mb"]), **teacher_cost(Path(args.features).parent)}
    write_training_set(Path(args.out), data, np.asarray(data.clips[rows]), rows, args.method, recipe, cost)


def distribution_matching(args: argparse.Namespace) -> None:
    """Synthesise a DM set with randomly initialised networks of the student's architecture."""
    import torch

    from tsgf import runtime
    from tsgf.distill import DistillConfig, distribution_matching as synthesise
    from tsgf.models import NetworkConfig
    from tsgf.stages.torch_common import split_source, stage_checkpoint, start_compute

    params = json_arg(args.params)
    device = start_compute(args, args.seed)
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    rows = selected_real(data, params, args.ipc, args.seed)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    init = torch.from_numpy(np.asarray(data.clips[rows])).float() / 255.0
    result = synthesise(init, data.num_classes, args.ipc, split_source(data, train_rows),
                        NetworkConfig.from_dict(params["network"]), DistillConfig.without_teacher(params),
                        params["real_per_class"], params["scale_by_ipc"], args.seed, device, args.precision,
                        checkpoint)
    recipe = {"method": "dm", "ipc": args.ipc, "seed": args.seed, **params}
    cost = {"wall_seconds": result.seconds, "peak_rss_mb": runtime.peak_rss_mb(), "own_peak_mb": runtime.own_peak_mb(),
            "peak_gpu_mb": runtime.peak_gpu_mb(device) if device.type == "cuda" else None, "device": str(device)}
    out = Path(args.out)
    write_training_set(out, data, result.clips, rows, "dm", recipe, cost)
    pd.DataFrame(result.curve).to_csv(out / "loss.csv", index=False)
    checkpoint.remove()
    log.info("DM: %d clips in %.0f s; final loss %.4f", len(rows), result.seconds, result.curve[-1]["loss"])


def match_trajectories(args: argparse.Namespace) -> None:
    """Synthesise an MTT or VDSD set by matching the expert buffer's trajectories."""
    import torch

    from tsgf import runtime
    from tsgf.distill import DistillConfig
    from tsgf.models import NetworkConfig, build_network
    from tsgf.stages.torch_common import normalisation, stage_checkpoint, start_compute
    from tsgf.trajectory_matching import ExpertBuffer, MatchingConfig, StaticDynamicConfig
    from tsgf.trajectory_matching import match_trajectories as synthesise

    params = json_arg(args.params)
    device = start_compute(args, args.seed)
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    buffer = ExpertBuffer(args.experts)
    if buffer.network != params["network"] or len(buffer) != params["experts"]:
        raise TSGFError(f"the expert files ({', '.join(map(str, args.experts))}) hold {len(buffer)} experts of network "
                        f"{buffer.network}; this set's params ask for {params['experts']} of {params['network']}: "
                        f"list the buffer's files of this set (the workflow's match_trajectories rule does)")
    rows = selected_real(data, params, args.ipc, args.seed)
    init = torch.from_numpy(np.asarray(data.clips[rows])).float() / 255.0
    network = build_network(NetworkConfig.from_dict(params["network"]), data.num_classes, data.clip_shape)
    static_dynamic = None
    if args.method == "vdsd":
        vdsd = params["vdsd"]
        dynamic = vdsd["dynamic"]
        dynamic_steps = {key: dynamic[key] for key in ("iterations", "optimiser", "lr", "betas", "momentum")}
        static_dynamic = StaticDynamicConfig(
            static=DistillConfig.without_teacher({**params, "iterations": vdsd["static_iterations"]}),
            dynamic=DistillConfig.without_teacher({**params, **dynamic_steps}),
            still=vdsd["still"], dynamic_frames=dynamic["frames"], dynamic_channels=dynamic["channels"],
            downsample=dynamic["downsample"], integrator_width=dynamic["integrator_width"],
            integrator_lr=dynamic["integrator_lr"])
    result, learnt = synthesise(init, data.num_classes, args.ipc, buffer, network,
                                DistillConfig.without_teacher(params), MatchingConfig.from_dict(params), args.seed,
                                device, *normalisation(data), static_dynamic, checkpoint)
    recipe = {"method": args.method, "ipc": args.ipc, "seed": args.seed, **params,
              "expert_files": list(map(str, args.experts))}
    cost = {"wall_seconds": result.seconds, "peak_rss_mb": runtime.peak_rss_mb(), "own_peak_mb": runtime.own_peak_mb(),
            "peak_gpu_mb": runtime.peak_gpu_mb(device) if device.type == "cuda" else None, "device": str(device),
            **learnt, **buffer.cost()}
    out = Path(args.out)
    write_training_set(out, data, result.clips, rows, args.method, recipe, cost)
    pd.DataFrame(result.curve).to_csv(out / "loss.csv", index=False)
    checkpoint.remove()
    log.info("%s: %d clips in %.0f s; final loss %.4f, learnt step size %.4g", args.method.upper(), len(rows),
             result.seconds, result.curve[-1]["loss"], learnt["learnt_step_size"])


def distill(args: argparse.Namespace) -> None:
    """Synthesise one shard of a SRe2L or TSGF set against the frozen teacher (.npz)."""
    import torch

    from tsgf import runtime
    from tsgf.distill import DistillConfig, distill as synthesise
    from tsgf.models import load_network
    from tsgf.sharding import shard_positions
    from tsgf.stages.torch_common import normalisation, stage_checkpoint, start_compute

    params = json_arg(args.params)
    device = start_compute(args, args.seed)
    checkpoint = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    config = DistillConfig.from_dict(params)
    shard = shard_of(params, data.num_classes, args.ipc, args.shard)
    positions = shard_positions(shard, data.num_classes, args.ipc, config.classes_per_batch)
    rows = selected_real(data, params, args.ipc, args.seed)[positions]
    init = torch.from_numpy(np.asarray(data.clips[rows])).float() / 255.0
    teacher = load_network(Path(args.teacher) / "model.pt")
    result = synthesise(teacher, init, data.num_classes, args.ipc, config, args.seed, device, *normalisation(data),
                        shard, args.precision, checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, positions=result.positions, clips=result.clips, saliency=result.saliency,
             curve=np.array(json.dumps(result.curve)), seconds=result.seconds, peak_rss_mb=runtime.peak_rss_mb(),
             own_peak_mb=runtime.own_peak_mb(),
             peak_gpu_mb=np.nan if device.type != "cuda" else runtime.peak_gpu_mb(device), device=str(device))
    checkpoint.remove()
    log.info("distilled shard %d (%d clips) in %.0f s; final loss %.4f", args.shard, len(positions),
             result.seconds, result.curve[-1]["loss"])


def merge_distilled(args: argparse.Namespace) -> None:
    """Merge a distilled set's shards into one clip set (equal bit for bit to a one-job run)."""
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
             "own_peak_mb": max(float(f["own_peak_mb"]) for f in loaded),
             "peak_gpu_mb": max(peak_gpu) if peak_gpu else None, "device": str(loaded[0]["device"]),
             **teacher_cost(Path(args.teacher))}
    out = Path(args.out)
    write_training_set(out, data, merged.clips, rows, method, recipe, extra)
    pd.DataFrame(merged.curve).to_csv(out / "loss.csv", index=False)
    np.save(out / "saliency.npy", merged.saliency)
    log.info("merged %d shards into %d %s clips (%.0f s of distillation)", len(loaded), len(rows), method,
             merged.seconds)


__all__ = ["random_real", "select_coreset", "distribution_matching", "match_trajectories", "distill",
           "merge_distilled"]
