"""How a distillation is split into independent jobs (SRe2L-style), and put back together.

The optimised batches are fixed by the method: for each IPC index i and each group of `classes_per_batch`
classes, one batch holding clip i of every class of the group, with its own random stream (seed, i, group).
A shard is the batches one job runs: a range of `ipc_per_job` IPC indices of one class group (or, with
`ipc_per_job` 0, every batch). Since no batch depends on another, any sharding merges into exactly the same
clips: sharding is an execution choice, not part of the method. Torch-free, so the workflow can plan jobs cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsgf.errors import ConfigError, TSGFError


@dataclass(frozen=True)
class Shard:
    ipc_indices: tuple[int, ...]
    groups: tuple[int, ...]  # indices into class_groups(...)


def class_groups(num_classes: int, classes_per_batch: int) -> list[tuple[int, ...]]:
    """Consecutive class groups of `classes_per_batch` (0: one group of every class); the last may be smaller."""
    size = classes_per_batch or num_classes
    return [tuple(range(start, min(start + size, num_classes))) for start in range(0, num_classes, size)]


def shard_plan(num_classes: int, ipc: int, classes_per_batch: int, ipc_per_job: int) -> list[Shard]:
    """The shards of one distilled set, in a fixed order: one shard for everything when `ipc_per_job` is 0,
    else one per (range of `ipc_per_job` IPC indices, class group)."""
    if classes_per_batch < 0 or ipc_per_job < 0:
        raise ConfigError("distill.classes_per_batch and distill.ipc_per_job must be >= 0 (0 means all)")
    groups = class_groups(num_classes, classes_per_batch)
    if ipc_per_job == 0:
        return [Shard(tuple(range(ipc)), tuple(range(len(groups))))]
    return [Shard(tuple(range(start, min(start + ipc_per_job, ipc))), (group,))
            for start in range(0, ipc, ipc_per_job) for group in range(len(groups))]


def shard_positions(shard: Shard, num_classes: int, ipc: int, classes_per_batch: int) -> list[int]:
    """Positions in the class-major set (clip i of class c is at c * ipc + i) that `shard` produces, ascending."""
    groups = class_groups(num_classes, classes_per_batch)
    return sorted(c * ipc + i for g in shard.groups for c in groups[g] for i in shard.ipc_indices)


@dataclass
class DistillResult:
    """The clips one shard (or a merge of shards) produced, at their positions in the class-major set: clip i of
    class c sits at c * ipc + i."""

    positions: np.ndarray
    clips: np.ndarray  # uint8 (N, T, C, H, W)
    curve: list[dict[str, float]]
    saliency: np.ndarray  # TSGF_O's per-frame weights of the final clips, (N, T); all ones for SRe2L (w = 1)
    seconds: float


def merge_shards(results: list[DistillResult], total: int) -> DistillResult:
    """Put the shards of one set back in class-major order; every position must come exactly once."""
    positions = np.concatenate([r.positions for r in results])
    if sorted(positions.tolist()) != list(range(total)):
        raise TSGFError(f"the shards cover positions {sorted(positions.tolist())}, not 0..{total - 1} once each: "
                        f"they come from different shard plans or one is missing; re-run the set's distill jobs")
    order = np.argsort(positions)
    curve = sorted((row for r in results for row in r.curve),
                   key=lambda row: (row["ipc_index"], row["class_group"], row["iteration"]))
    return DistillResult(positions[order], np.concatenate([r.clips for r in results])[order], curve,
                         np.concatenate([r.saliency for r in results])[order], sum(r.seconds for r in results))


__all__ = ["Shard", "class_groups", "shard_plan", "shard_positions", "DistillResult", "merge_shards"]
