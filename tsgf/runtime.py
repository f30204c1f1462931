"""Where and how a stage runs: device, threads, determinism, progress reporting and resource figures."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch
from tqdm import tqdm

log = logging.getLogger("tsgf")
Item = TypeVar("Item")


def select_device(requested: str = "auto") -> torch.device:
    """"auto" takes the first visible GPU (CUDA_VISIBLE_DEVICES decides which) and falls back to the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def configure(threads: int, seed: int) -> None:
    """Fix the thread count and seeds, and ask torch for deterministic kernels: same config, same bits on CPU."""
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def generator(seed: int, *stream: int) -> torch.Generator:
    """A CPU generator for one independent random stream, e.g. generator(seed, ipc_index)."""
    mixed = seed
    for part in stream:
        mixed = (mixed * 1_000_003 + part + 1) % (2**63)
    return torch.Generator().manual_seed(mixed)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_gpu_mb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def progress(items: Iterable[Item], total: int, desc: str, log_every_s: float = 15.0) -> Iterator[Item]:
    """A progress bar on a terminal; in a log file, a line every `log_every_s` seconds and at the end."""
    interactive = sys.stderr.isatty()
    bar = tqdm(items, total=total, desc=desc, disable=not interactive, leave=False)
    start = last = time.monotonic()
    for done, item in enumerate(bar, start=1):
        yield item
        now = time.monotonic()
        if not interactive and (now - last >= log_every_s or done == total):
            rate = done / max(now - start, 1e-9)
            log.info("%s: %d/%d (%.0f%%), %.1f it/s, %.0f s elapsed", desc, done, total, 100 * done / total,
                     rate, now - start)
            last = now


__all__ = ["select_device", "configure", "generator", "peak_rss_mb", "peak_gpu_mb", "progress"]
