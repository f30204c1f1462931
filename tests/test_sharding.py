"""The shard plan: which batches each distillation job runs."""

import pytest

from tsgf.errors import ConfigError
from tsgf.sharding import class_groups, shard_plan, shard_positions


def test_kinetics_400_at_ipc_5_is_20_parallel_jobs():
    plan = shard_plan(num_classes=400, ipc=5, classes_per_batch=100, ipc_per_job=1)
    assert len(plan) == 20
    covered = sorted(p for shard in plan for p in shard_positions(shard, 400, 5, 100))
    assert covered == list(range(400 * 5))  # every clip exactly once


def test_zero_means_one_job_with_every_batch():
    (shard,) = shard_plan(num_classes=10, ipc=5, classes_per_batch=0, ipc_per_job=0)
    assert shard.ipc_indices == (0, 1, 2, 3, 4) and shard.groups == (0,)
    assert shard_positions(shard, 10, 5, 0) == list(range(50))


def test_groups_are_consecutive_and_the_last_may_be_smaller():
    assert class_groups(5, 2) == [(0, 1), (2, 3), (4,)]
    assert class_groups(5, 0) == [(0, 1, 2, 3, 4)]


def test_positions_are_class_major():
    shard = shard_plan(num_classes=3, ipc=4, classes_per_batch=2, ipc_per_job=2)[1]  # IPC 0-1 of classes 2
    assert shard.ipc_indices == (0, 1) and shard.groups == (1,)
    assert shard_positions(shard, 3, 4, 2) == [8, 9]  # clip i of class c sits at c * ipc + i


def test_negative_sizes_are_refused():
    with pytest.raises(ConfigError, match="ipc_per_job"):
        shard_plan(3, 2, 0, -1)
