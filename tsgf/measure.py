"""Resource figures every stage reports, without importing torch (light stages start in a fraction of a second)."""

from __future__ import annotations

import resource
import time

PRECISIONS = ("fp32", "bf16")


class Stopwatch:
    """`with Stopwatch() as watch: ...` then `watch.seconds`: wall time of the block."""

    def __enter__(self) -> "Stopwatch":
        self.start, self.seconds = time.perf_counter(), 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


__all__ = ["PRECISIONS", "Stopwatch", "peak_rss_mb"]
