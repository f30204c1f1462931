"""The tiny workflow through a real SLURM cluster with Snakemake's SLURM executor and the repository's SLURM
profile, with one job attempt cancelled mid-run (scancel, as a time limit or a preemption would) to show the
retry recovers and resumes from the job's checkpoint.

Runs where a SLURM cluster answers (`sinfo`); skipped otherwise, unless TSGF_REQUIRE_SLURM=1 (set by .ci/run,
which starts a one-node cluster with .ci/slurm-cluster), where a missing cluster is a failure: CI cannot
silently skip it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]
TEST_CONFIG = REPO / "config" / "test.yaml"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
# The tiny config on one IPC and seed keeps the SLURM part to a few minutes; a longer teacher that snapshots
# after every epoch gives the test time to cancel it mid-run, after a checkpoint exists.
SLURM_OVERRIDES = """\
experiment: {ipcs: [1], seeds: [0], methods: [random_real, sre2l, tsgf], ablations: []}
teacher: {train: {epochs: 150}}
checkpoint_seconds: 0
"""
TIME_LIMIT_S = 900


def cluster_problem() -> str | None:
    """Why no SLURM cluster can run jobs here, or None when one can."""
    if shutil.which("sinfo") is None:
        return "no SLURM client (sinfo) on this machine"
    answer = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    if answer.returncode != 0:
        return f"sinfo failed: {answer.stderr.strip()}"
    if not {"idle", "mix", "alloc"} & set(answer.stdout.split()):
        return f"no SLURM node is up (node states: {answer.stdout.split()})"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get("TSGF_REQUIRE_SLURM") == "1":
        pytest.fail(f"TSGF_REQUIRE_SLURM=1 but {problem} (start one with .ci/slurm-cluster start)")
    pytest.skip(f"{problem}; .ci/run starts a one-node cluster")


class CancelFirstTeacherAttempt(threading.Thread):
    """Waits until the running train_teacher job has a checkpoint a few epochs in, then `scancel`s it."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(daemon=True)
        self.workdir = workdir
        self.cancelled: tuple[str, int] | None = None  # SLURM job id, epoch of its last checkpoint
        self.stop = threading.Event()

    def running_teacher_job(self) -> str | None:
        queue = subprocess.run(["squeue", "-h", "-o", "%i %k %T"], capture_output=True, text=True).stdout
        for job_id, comment, state in (line.split() for line in queue.splitlines() if line.strip()):
            if comment.startswith("rule_train_teacher") and state == "RUNNING":  # then its wildcards
                return job_id
        return None

    def run(self) -> None:
        while not self.stop.is_set():
            job_id = self.running_teacher_job()
            checkpoints = list(self.workdir.glob("results/motion/teacher-*/model.pt.ckpt"))
            if job_id and checkpoints:
                try:
                    epoch = torch.load(checkpoints[0], weights_only=True)["state"]["epoch"]
                except (OSError, RuntimeError, EOFError):  # replaced while being read: look again
                    epoch = 0
                if epoch >= 3:
                    subprocess.run(["scancel", job_id], check=True)
                    self.cancelled = (job_id, epoch)
                    return
            time.sleep(0.2)


def test_the_tiny_workflow_runs_through_slurm_and_a_cancelled_attempt_is_retried(cluster, tmp_path):
    workdir = tmp_path / "run"
    overrides = tmp_path / "slurm_ci.yaml"
    overrides.write_text(SLURM_OVERRIDES)
    canceller = CancelFirstTeacherAttempt(workdir)
    canceller.start()
    command = ["timeout", "-s", "INT", str(TIME_LIMIT_S), sys.executable, "-m", "snakemake", "-s",
               str(REPO / "Snakefile"), "--workflow-profile", str(PROFILE), "--directory", str(workdir),
               "--configfile", str(TEST_CONFIG), str(overrides), "--slurm-init-seconds-before-status-checks", "2"]
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    seconds = time.monotonic() - start
    canceller.stop.set()
    log = run.stdout + run.stderr
    print(f"SLURM run: {seconds:.0f} s wall")  # shown with pytest -s
    assert run.returncode == 0, log[-6000:]

    # the first teacher attempt was cancelled a few epochs in and reported as a failed SLURM job
    assert canceller.cancelled is not None, "the teacher job was never seen running with a checkpoint"
    job_id, epoch = canceller.cancelled
    assert re.search(rf"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED", log), log[-6000:]
    # ... and resubmitted with the attempt-scaled resources of the profile (8000 MB x attempt 2)
    teacher_submissions = re.findall(r"rule train_teacher:.*?resources: ([^\n]*)", log, re.DOTALL)
    assert len(teacher_submissions) == 2, teacher_submissions
    assert "mem_mb=8000" in teacher_submissions[0] and "mem_mb=16000" in teacher_submissions[1]
    assert "gpu=1" in teacher_submissions[0]  # `device: auto` on a cluster asks for a GPU (a fake one here)
    assert re.search(r"Finished jobid: \d+ \(Rule: train_teacher\)", log)
    # the retry resumed from the cancelled attempt's checkpoint instead of starting over
    teacher_log = next((workdir / "logs" / "motion" / "train_teacher").glob("teacher-*.log")).read_text()
    resumed_at = re.search(r"resuming from checkpoint \S+ \(teacher, after epoch (\d+)/150\)", teacher_log)
    assert resumed_at and int(resumed_at.group(1)) >= epoch, teacher_log[-3000:]
    print(f"scancel {job_id} at epoch {epoch}; teacher submissions: {teacher_submissions}; "
          f"the retry {resumed_at.group(0)}")

    results = workdir / "results" / "motion"
    runs = pd.read_csv(results / "runs" / "main.csv")
    assert len(runs) == 3 * 2 + 1  # methods x augmentations at IPC 1, seed 0, plus the full-data student
    assert runs["accuracy"].between(0, 1).all()
    assert (results / "tables" / "main.md").stat().st_size > 0
    assert not list(results.rglob("*.ckpt")), "finished jobs must delete their checkpoints"
