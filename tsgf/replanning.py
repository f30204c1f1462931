"""One re-planning timer per Snakemake run instead of one more per finished job.

Snakemake 9's scheduler ends every planning round by arming a timer (`--max-jobs-per-timespan`, 1 s by default)
whose only effect is to start another round, so that jobs held back by the rate limit are planned once it allows
them. A round started by that timer arms another one, and so does a round started by a finished job; while jobs
wait for cores, every finished job therefore adds a timer chain that never stops, and after N finished jobs the
scheduler plans N times a second (each time re-evaluating every ready job's params and stat-ing their inputs).
In the default run that kept Snakemake's own process at about 30 % of a core, taken from the jobs on two cores
(upstream: snakemake/snakemake#2967, #3744). One pending timer does the same job: a round armed while one is pending
is covered by it, since it fires within the timespan either way."""

from __future__ import annotations

import threading
from typing import Any


def single_replanning_timer(scheduler_class: type) -> bool:
    """Replace `scheduler_class._schedule_reevalutation` (Snakemake's spelling) by one that arms a timer only when
    none is pending. Returns False, changing nothing, on a Snakemake whose scheduler has no such method (a later
    release may have fixed it another way)."""
    original = getattr(scheduler_class, "_schedule_reevalutation", None)
    if original is None or getattr(original, "single_timer", False):
        return original is not None
    lock = threading.Lock()

    def schedule_reevaluation(self: Any, delay: float) -> None:
        with lock:
            if getattr(self, "_replanning_timer_pending", False):
                return
            self._replanning_timer_pending = True

        def replan() -> None:
            with lock:
                self._replanning_timer_pending = False
            self._open_jobs.release()

        timer = threading.Timer(delay, replan)
        timer.daemon = True  # it only wakes the scheduler: it must not hold a finished run's exit for a timespan
        timer.start()

    schedule_reevaluation.single_timer = True  # type: ignore[attr-defined]
    scheduler_class._schedule_reevalutation = schedule_reevaluation
    return True


__all__ = ["single_replanning_timer"]
