"""`python -m tsgf <stage> ...`: one command per workflow stage; the Snakemake rule of the same name calls it.

Stages, in data-flow order: generate_motion_dataset or prepare_dataset, class_motion_strength -> train_teacher,
teacher_features, order_blind_probe, expert_trajectories -> random_real, select_coreset, distribution_matching,
match_trajectories, distill (shards) -> merge_distilled -> evaluate_set, evaluate_full_data -> aggregate_runs ->
make_tables, make_figures. Parameters arrive as one JSON object (`--params`, text or @file), already validated by
the workflow; each stage writes what it used into its outputs.
This module only parses: the handler, `tsgf.stages.<module>.<stage>` (tsgf/stages/__init__.py says which module),
is imported when its stage runs, so a light stage never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from tsgf.errors import TSGFError
from tsgf.measure import PRECISIONS
from tsgf.methods import AUGMENTATIONS, CORESET_METHODS, TRAJECTORY_METHODS
from tsgf.stages import STAGES
from tsgf.startup import STARTUP_LINE, first_step_seconds

# what each stage's arguments are made of
_DATA = ("--data", dict(required=True, type=Path, help="the prepared clip set"))
_TEACHER = ("--teacher", dict(required=True, type=Path, help="the teacher's directory"))
_IPC = ("--ipc", dict(required=True, type=int, help="clips per class"))
_SEED = ("--seed", dict(required=True, type=int))
_SEEDS = ("--seeds", dict(required=True, nargs="+", type=int, help="one student per seed, trained one after another"))
_PARAMS = ("--params", dict(required=True, help="the stage's parameters as JSON (or @file)"))
_OUT = ("--out", dict(required=True, type=Path))
_RUNS = ("--runs", dict(nargs="+", required=True, type=Path, help="the aggregate CSV of each ablation"))
_ABLATIONS = ("--ablations", dict(default="{}", help="JSON: ablation name -> {title, keys}"))
_OUT_DIR = ("--out-dir", dict(required=True, type=Path))

# stage -> (help, whether it runs networks, its arguments)
_ARGUMENTS = {
    "generate_motion_dataset": ("generate the embedded motion dataset into a prepared clip set", False, [
        ("--params", dict(required=True, help="the `dataset` config section as JSON (or @file)")), _OUT]),
    "prepare_dataset": ("decode a real video dataset into a prepared clip set", False, [
        ("--params", dict(required=True, help="the `dataset` config section as JSON (or @file)")), _OUT,
        ("--threads", dict(type=int, default=1, help="videos decoded in parallel"))]),
    "class_motion_strength": ("mean inter-frame difference of each class's training clips", False, [
        _DATA, ("--params", dict(required=True, help="the split: holdout and val_fraction")), _OUT]),
    "train_teacher": ("train the BatchNorm teacher on the full train split", True, [_DATA, _PARAMS, _OUT]),
    "teacher_features": ("the teacher's penultimate features of every training clip (.npz), for the coresets",
                         True, [_DATA, _TEACHER,
                                ("--params", dict(required=True, help="the teacher's params (split, batch size)")),
                                _OUT]),
    "order_blind_probe": ("the teacher's network and recipe on frame-shuffled clips: the accuracy that needs no "
                          "temporal order", True, [_DATA, _PARAMS, _OUT]),
    "expert_trajectories": ("train experts --first..--last of MTT's buffer, their parameters after every epoch (.pt)",
                            True, [_DATA, _PARAMS, _OUT, ("--first", dict(required=True, type=int)),
                                   ("--last", dict(required=True, type=int))]),
    "random_real": ("select random real clips per class", False, [_DATA, _IPC, _SEED, _PARAMS, _OUT]),
    "select_coreset": ("pick a herding or k-center coreset on the teacher's features", False, [
        _DATA, _IPC, _SEED, _PARAMS, _OUT, ("--method", dict(required=True, choices=CORESET_METHODS)),
        ("--features", dict(required=True, type=Path, help="the teacher_features output (.npz)"))]),
    "distribution_matching": ("synthesise a DM set with random networks", True, [_DATA, _IPC, _SEED, _PARAMS, _OUT]),
    "match_trajectories": ("synthesise an MTT or VDSD set by matching the expert buffer's trajectories", True, [
        _DATA, _IPC, _SEED, _PARAMS, _OUT, ("--method", dict(required=True, choices=TRAJECTORY_METHODS)),
        ("experts", dict(nargs="+", type=Path, help="every expert_trajectories file of the buffer"))]),
    "distill": ("synthesise one shard of a distilled set against the teacher (.npz)", True, [
        _DATA, _TEACHER, _IPC, _SEED, _PARAMS, _OUT,
        ("--shard", dict(type=int, default=0, help="which shard of the set's plan (tsgf/sharding.py)"))]),
    "merge_distilled": ("merge a distilled set's shards into a clip set", False, [
        _DATA, _TEACHER, _IPC, _SEED, _PARAMS, _OUT,
        ("shards", dict(nargs="+", type=Path, help="every shard's .npz, in any order"))]),
    "evaluate_set": ("train a fresh student per seed on that seed's training set, test each on real clips", True, [
        ("--data", dict(required=True, type=Path, help="the real prepared clip set (its holdout split)")),
        ("--train-sets", dict(required=True, nargs="+", type=Path,
                              help="the clip set (distilled or selected) of each seed, in --seeds order")),
        ("--method", dict(required=True, help="the training sets' method name, for the results rows")),
        ("--augmentation", dict(choices=AUGMENTATIONS, default="none")),
        ("--teacher", dict(type=Path, help="the teacher's directory, for soft labels (labels.kind 'soft')")),
        _SEEDS, _PARAMS, _OUT]),
    "evaluate_full_data": ("train a fresh student per seed on the full real train split, test each on real clips",
                           True, [("--data", dict(required=True, type=Path, help="the real prepared clip set")),
                                  _SEEDS, _PARAMS, _OUT]),
    "aggregate_runs": ("collect one ablation's evaluation results into one tidy CSV", False, [
        ("results", dict(nargs="+", type=Path, help="every cell file the variants' students are in")),
        ("--ablation", dict(required=True, help="'main' or the ablation's name")),
        ("--variants", dict(required=True, help="JSON list: per variant its label, overrides, default, "
                                                "teacher_metrics and results ([cell file, seed] per student)")),
        _OUT]),
    "make_tables": ("every table (main, ablations, motion, cost) as CSV, Markdown and LaTeX", False, [
        _RUNS, _ABLATIONS, ("--motion-strength", dict(type=Path, help="the motion-strength CSV of the main data")),
        ("--order-blind", dict(type=Path, help="the order_blind_probe result of the main teacher (JSON)")),
        _OUT_DIR]),
    "make_figures": ("accuracy vs IPC and vs cost, distilled clips with their saliency, their optical flow, "
                     "motion-class accuracy, one figure per ablation; each set as an animated GIF", False, [
        _RUNS, ("--sets", dict(nargs="+", required=True, help="METHOD=DIR clip sets to draw and export")),
        ("--saliency", dict(required=True, help="the saliency config section as JSON")), _ABLATIONS,
        ("--scaling", dict(default="[]", help="JSON list: the cost-scaling sets, each method, ipc, set (directory) "
                                              "and time_factor (tsgf.plan.Plan.scaling); [] for no figure")),
        _OUT_DIR]),
}


def _add_compute_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    sub.add_argument("--device", default="auto", help="auto (GPU if visible, else CPU), cpu or cuda[:N]")
    sub.add_argument("--precision", default="fp32", choices=PRECISIONS,
                     help="bf16: autocast network forward passes on CUDA (no effect on CPU)")
    sub.add_argument("--checkpoint", type=Path,
                     help="snapshot file: resume from it if it exists, delete it when done (default: off)")
    sub.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                     help="least time between snapshots; 0: after every epoch or iteration")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tsgf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO")
    stages = parser.add_subparsers(dest="stage", required=True)
    for name in STAGES:
        help_text, runs_networks, arguments = _ARGUMENTS[name]
        sub = stages.add_parser(name, help=help_text, description=help_text)
        for flag, options in arguments:
            sub.add_argument(flag, **options)
        if runs_networks:
            _add_compute_arguments(sub)
    return parser


def runs_networks(stage: str) -> bool:
    """Whether a stage runs networks (imports torch): the stages a local run's warm server takes."""
    return _ARGUMENTS[stage][1]


def main(argv: list[str] | None = None) -> int:
    """Run a stage in this process; its exit status (2 with a one-line error for a TSGFError). `python -m tsgf`
    (tsgf/__main__.py) first offers a compute stage to the local run's warm server (tsgf/warm_start.py)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    handler = getattr(importlib.import_module(f"tsgf.stages.{STAGES[args.stage]}"), args.stage)
    try:
        handler(args)
    except TSGFError as error:
        print(f"tsgf {args.stage}: error: {error}", file=sys.stderr)
        return 2
    if (seconds := first_step_seconds()) is not None:
        logging.getLogger("tsgf").info(STARTUP_LINE.format(seconds=seconds))
    return 0


__all__ = ["main", "runs_networks", "build_parser"]
