"""Periodic snapshots of a long loop (teacher or student training, distillation), so that a job killed mid-run
(SIGKILL, a SLURM time limit, a preempted node) resumes from its last snapshot when it is run again.

A snapshot holds everything the loop's next step depends on (weights, optimiser and scheduler state, random
generator states, the curve so far), so a resumed run produces exactly the bits of an uninterrupted one on CPU.
It is written atomically (a temporary file, then os.replace): a kill during a write leaves the previous snapshot.
It carries a key (the stage's parameters, seed, threads, device...): a snapshot written by a different run is
ignored, never resumed from. The stage deletes it once its outputs are written.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("tsgf")


class Checkpoint:
    """Snapshots of one job's loop at `path` at most every `every_seconds` (0: at every step); `path` None turns
    checkpointing off (library use, tests)."""

    def __init__(self, path: Path | None, every_seconds: float, key: dict[str, Any]) -> None:
        self.path = Path(path) if path is not None else None
        self.every_seconds = every_seconds
        self.key = key
        self.saves = 0
        self.previous_seconds = 0.0  # compute time of the killed attempts this run resumes, for honest timings
        self._started = self._last_save = time.monotonic()

    def load(self) -> dict[str, Any] | None:
        """The state of the last snapshot of this same run, or None (no snapshot, or one from another run)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable snapshot means: start over, and say so
            log.warning("checkpoint %s is unreadable (%s): starting from scratch", self.path, error)
            return None
        if saved.get("key") != self.key:
            log.warning("checkpoint %s belongs to a different run (other parameters): starting from scratch",
                        self.path)
            return None
        self.previous_seconds = saved["seconds"]
        log.info("resuming from checkpoint %s (%s)", self.path, saved["where"])
        return saved["state"]

    def due(self) -> bool:
        return self.path is not None and time.monotonic() - self._last_save >= self.every_seconds

    def save(self, state: dict[str, Any], where: str) -> None:
        """Write `state` (tensors, numbers, strings, lists and dicts of them) atomically; `where` says which step
        it is, for the log."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        now = time.monotonic()
        torch.save({"key": self.key, "where": where, "seconds": self.elapsed_seconds(), "state": state}, temporary)
        os.replace(temporary, self.path)
        self._last_save = now
        self.saves += 1

    def elapsed_seconds(self) -> float:
        """Compute time of this run so far, including the attempts it resumed."""
        return self.previous_seconds + time.monotonic() - self._started

    def part(self, name: str) -> "Checkpoint":
        """The snapshots of one part of this job (one student of several), in a file of their own beside this one's,
        with the same interval and a key of their own; this job's own snapshot then holds its progress over parts."""
        path = None if self.path is None else self.path.with_name(f"{self.path.name}.{name}")
        return Checkpoint(path, self.every_seconds, {**self.key, "part": name})

    def remove(self) -> None:
        """Delete the snapshot once the job's outputs are written."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)


def disabled() -> Checkpoint:
    """A checkpoint that never saves nor loads."""
    return Checkpoint(None, 0.0, {})


__all__ = ["Checkpoint", "disabled"]
