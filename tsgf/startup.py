"""Per-job start-up: how long a stage's process ran before its first training or optimisation step (interpreter,
imports, data loading, network set-up). Torch-free, so the CLI can report it for every stage.

The compute loops call `mark_first_step` on each step; the first call records the process's age, and the CLI logs
it as `start-up to first step: X s`, the line `scripts/rule_times.py` reads from each job's log."""

from __future__ import annotations

import re
import time

STARTUP_LINE = "start-up to first step: {seconds:.2f} s"
_STARTUP_PATTERN = re.compile(re.escape(STARTUP_LINE).replace(re.escape("{seconds:.2f}"), "([0-9.]+)"))
_first_step_age: float | None = None


def process_age_seconds() -> float:
    """Seconds since the kernel started this process, so interpreter start and imports count too."""
    import psutil  # Snakemake's own dependency; light

    return time.time() - psutil.Process().create_time()


def mark_first_step() -> None:
    """Record the process's age at its first training or optimisation step (later calls change nothing)."""
    global _first_step_age
    if _first_step_age is None:
        _first_step_age = process_age_seconds()


def first_step_seconds() -> float | None:
    """The age recorded by `mark_first_step`; None when this process took no step."""
    return _first_step_age


def logged_startup_seconds(log_text: str) -> float | None:
    """The start-up a job's log reports (its last such line); None without one."""
    found = _STARTUP_PATTERN.findall(log_text)
    return float(found[-1]) if found else None


__all__ = ["STARTUP_LINE", "process_age_seconds", "mark_first_step", "first_step_seconds", "logged_startup_seconds"]
