"""Resource figures every stage reports, without importing torch (light stages start in a fraction of a second)."""

from __future__ import annotations

import resource
import time
from pathlib import Path

PRECISIONS = ("fp32", "bf16")


class Stopwatch:
    """`with Stopwatch() as watch: ...` then `watch.seconds`: wall time of the block."""

    def __enter__(self) -> "Stopwatch":
        self.start, self.seconds = time.perf_counter(), 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


_rss_at_first_step: float | None = None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux's /proc; elsewhere the peak so far)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return peak_rss_mb()


def record_first_step_rss() -> None:
    """Remember the resident memory at a job's first training or optimisation step (later calls change nothing):
    what imports, data and set-up hold, against which `own_peak_mb` measures the method."""
    global _rss_at_first_step
    if _rss_at_first_step is None:
        _rss_at_first_step = rss_mb()


def own_peak_mb() -> float | None:
    """The job's peak resident memory above what it held at its first step, in MiB: the memory the method itself
    needs (every job's peak is dominated by importing torch, about 0.8 GB); None when it took no step."""
    return None if _rss_at_first_step is None else max(0.0, peak_rss_mb() - _rss_at_first_step)


__all__ = ["PRECISIONS", "Stopwatch", "peak_rss_mb", "rss_mb", "record_first_step_rss", "own_peak_mb"]
