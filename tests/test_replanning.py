"""Snakemake re-plans a bounded number of times per finished job, not once more per second for every job already
finished (tsgf/replanning.py)."""

import subprocess
import sys
import threading
import time

from snakemake.scheduling.job_scheduler import JobScheduler

from conftest import REPO
from tsgf.replanning import single_replanning_timer


class _Scheduler:
    """What the replacement touches of Snakemake's scheduler: the semaphore a planning round waits on."""

    def __init__(self) -> None:
        self._open_jobs = threading.Semaphore(0)

    def _schedule_reevalutation(self, delay: float) -> None:
        raise AssertionError("replaced")


def _wakeups(scheduler: _Scheduler, wait: float) -> int:
    count = 0
    deadline = time.monotonic() + wait
    while scheduler._open_jobs.acquire(timeout=max(0.0, deadline - time.monotonic())):
        count += 1
    return count


def test_rounds_armed_while_a_timer_is_pending_share_it_and_a_later_one_arms_anew():
    assert single_replanning_timer(_Scheduler)
    scheduler = _Scheduler()
    for _ in range(5):  # five rounds end while the first timer is pending
        scheduler._schedule_reevalutation(0.2)
    assert _wakeups(scheduler, 0.6) == 1
    scheduler._schedule_reevalutation(0.1)  # the timer fired: the next round arms a new one
    assert _wakeups(scheduler, 0.4) == 1


def test_snakemake_scheduler_has_the_replaced_method_and_replacing_twice_is_harmless():
    assert single_replanning_timer(JobScheduler)
    method = JobScheduler._schedule_reevalutation
    assert single_replanning_timer(JobScheduler) and JobScheduler._schedule_reevalutation is method

    class Fixed:  # a Snakemake without the method is left alone
        pass

    assert not single_replanning_timer(Fixed) and not hasattr(Fixed, "_schedule_reevalutation")


def test_a_workflow_plans_a_bounded_number_of_rounds_per_finished_job(tmp_path):
    """Ten one-second jobs on one core, each waiting for the one before: unpatched, Snakemake 9 plans once more per
    second for each finished job (1, 2, ..., 10 rounds between finishes); patched, about two between finishes."""
    (tmp_path / "Snakefile").write_text(f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from snakemake.scheduling.job_scheduler import JobScheduler
from tsgf.replanning import single_replanning_timer
single_replanning_timer(JobScheduler)
rule all:
    input: expand("out/{{i}}.txt", i=range(10))
rule one:
    output: "out/{{i}}.txt"
    shell: "sleep 1; touch {{output}}"
""")
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--verbose"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rounds, between = [], 0
    for line in run.stderr.splitlines():
        between += "Ready jobs" in line
        if "Finished jobid" in line:
            rounds.append(between)
            between = 0
    assert len(rounds) == 11, rounds
    assert max(rounds) <= 3, f"planning rounds between finished jobs: {rounds}"
