"""The stage of workflow/rules/experts.smk: prepared clips -> a few expert trajectories of MTT's buffer (.pt).

An expert is a network of the student's architecture trained on the real train split by the one training harness,
its parameters recorded before the first epoch and after each (`train_classifier(..., trajectory=...)`). Expert i is
seeded by i, so a buffer's experts do not depend on how many a job trains, and a job resumes after a kill: its own
snapshot holds the finished experts, the expert in progress resumes from snapshots of its own.
"""

from __future__ import annotations

import argparse
import logging

from tsgf.clipset import load_clipset, train_and_holdout
from tsgf.errors import TSGFError
from tsgf.stages.common import json_arg

log = logging.getLogger("tsgf")


def expert_trajectories(args: argparse.Namespace) -> None:
    """Train experts `--first` .. `--last` and save their trajectories, (K, epochs + 1, parameters) float32."""
    import torch

    from tsgf import runtime
    from tsgf.augment import student_crop
    from tsgf.models import NetworkConfig, build_network
    from tsgf.stages.torch_common import split_source, stage_checkpoint, start_compute
    from tsgf.training import TrainConfig, train_classifier

    if not 0 <= args.first <= args.last:
        raise TSGFError(f"--first {args.first} and --last {args.last} name no experts: give 0 <= first <= last")
    params = json_arg(args.params)
    device = start_compute(args, args.first)
    job = stage_checkpoint(args, device)
    data = load_clipset(args.data)
    train_rows, _ = train_and_holdout(data, params["holdout"], params["val_fraction"])
    train = split_source(data, train_rows)
    config, network = TrainConfig.from_dict(params["train"]), NetworkConfig.from_dict(params["network"])
    augment = student_crop(params["augment"])
    finished: dict[int, dict] = (job.load() or {}).get("finished", {})
    for expert in range(args.first, args.last + 1):
        if expert in finished:
            continue
        checkpoint = job.part(f"expert{expert}")
        torch.manual_seed(expert)  # the expert's initialisation
        model = build_network(network, data.num_classes, data.clip_shape)
        trajectory: list[torch.Tensor] = []
        curve = train_classifier(model, train, config, expert, device, data.clip_shape[0], augment,
                                 desc=f"expert {expert}", precision=args.precision, checkpoint=checkpoint,
                                 trajectory=trajectory)
        finished[expert] = {"trajectory": torch.stack(trajectory), "curve": curve,
                            "seconds": checkpoint.elapsed_seconds()}
        job.save({"finished": finished}, where=f"after expert {expert}")
        checkpoint.remove()
        log.info("expert %d: %d epochs in %.0f s, final train accuracy %.3f", expert, config.epochs,
                 finished[expert]["seconds"], curve[-1]["train_accuracy"])
    experts = list(range(args.first, args.last + 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"trajectories": torch.stack([finished[e]["trajectory"] for e in experts]), "experts": experts,
                "network": params["network"], "num_classes": data.num_classes, "clip_shape": list(data.clip_shape),
                "num_parameters": int(finished[experts[0]]["trajectory"].shape[-1]),
                "curves": [finished[e]["curve"] for e in experts],
                "seconds": sum(finished[e]["seconds"] for e in experts), "peak_rss_mb": runtime.peak_rss_mb(),
                "own_peak_mb": runtime.own_peak_mb(),
                "peak_gpu_mb": runtime.peak_gpu_mb(device) if device.type == "cuda" else None,
                "params": params}, args.out)
    job.remove()


__all__ = ["expert_trajectories"]
