"""Per-job start-up: how long a stage's process ran before its first training or optimisation step (interpreter,
imports, data loading, network set-up). Torch-free, so the CLI can report it for every stage.

The compute loops call `mark_first_step` on each step; the first call records the process's age, and the CLI logs
it as `start-up to first step: X s`, the line `scripts/rule_times.py` reads from each job's log."""

from __future__ import annotations

import os
import re
import time

from tsgf.measure import record_first_step_rss

STARTUP_LINE = "start-up to first step: {seconds:.2f} s"
_STARTUP_PATTERN = re.compile(re.escape(STARTUP_LINE).replace(re.escape("{seconds:.2f}"), "([0-9.]+)"))
_first_step_age: float | None = None
_process_start: float | None = None  # set in a warm server's child: its job's own process start


def process_start_time() -> float:
    """When this job's process started (seconds since the epoch), so interpreter start and imports count too: the
    kernel's record, or in a warm server's child (tsgf/warm_start.py) the start of the job's own process.

    On Linux the kernel's start tick is read against the boot clock itself. psutil's `create_time` adds it to the
    boot time of /proc/stat, which is truncated to the second, so every process looked up to a second older than it
    was (0.81 s on the machine where that was found: a job's logged start-up of 1.37 s was 0.56 s)."""
    if _process_start is not None:
        return _process_start
    try:
        with open("/proc/self/stat") as stat:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, after the command name
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux
        import psutil  # Snakemake's own dependency; light

        return psutil.Process().create_time()


def set_process_start_time(started: float) -> None:
    """Count this process's start-up from `started` (a warm server's child runs a job that started earlier)."""
    global _process_start
    _process_start = started


def process_age_seconds() -> float:
    return time.time() - process_start_time()


def mark_first_step() -> None:
    """Record the process's age, and its resident memory (`tsgf.measure.own_peak_mb`), at its first training or
    optimisation step (later calls change nothing)."""
    global _first_step_age
    if _first_step_age is None:
        _first_step_age = process_age_seconds()
        record_first_step_rss()


def first_step_seconds() -> float | None:
    """The age recorded by `mark_first_step`; None when this process took no step."""
    return _first_step_age


def logged_startup_seconds(log_text: str) -> float | None:
    """The start-up a job's log reports (its last such line); None without one."""
    found = _STARTUP_PATTERN.findall(log_text)
    return float(found[-1]) if found else None


__all__ = ["STARTUP_LINE", "process_start_time", "set_process_start_time", "process_age_seconds", "mark_first_step",
           "first_step_seconds", "logged_startup_seconds"]
