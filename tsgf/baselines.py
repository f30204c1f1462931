"""Training sets that are not synthesised: random real clips (the baseline, and distillation's initialisation)."""

from __future__ import annotations

import numpy as np

from tsgf.errors import TSGFError


def select_random_real(rows: np.ndarray, labels: np.ndarray, num_classes: int, ipc: int, seed: int) -> np.ndarray:
    """`ipc` random rows per class, class-major (class c's clips at positions c*ipc .. c*ipc+ipc-1).

    The same (rows, seed) always gives the same clips, so the random-real baseline of seed s is exactly the
    initialisation of seed s's distillation: comparing the two measures what distillation adds.
    """
    rng = np.random.default_rng([seed, ipc])
    chosen = []
    for label in range(num_classes):
        members = rows[labels == label]
        if len(members) < ipc:
            raise TSGFError(f"class {label} has {len(members)} training clips, fewer than IPC {ipc}")
        chosen.append(rng.choice(members, size=ipc, replace=False))
    return np.concatenate(chosen)


__all__ = ["select_random_real"]
