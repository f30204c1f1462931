"""Coreset baselines of video dataset distillation: real clips picked on teacher features, not synthesised.

Herding (Welling 2009) picks the clips whose running mean tracks the class mean; k-center greedy (Sener & Savarese
2018) picks clips that cover the class in feature space. Both return rows in the class-major layout of
`tsgf.baselines.select_random_real`, so the three baselines are interchangeable in the evaluation.
"""

from __future__ import annotations

import numpy as np

from tsgf.errors import TSGFError
from tsgf.methods import CORESET_METHODS


def _as_matrix(features: np.ndarray) -> np.ndarray:
    """`features` as a float64 (N, D) array: distances of float16/32 teacher features are summed in full precision."""
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2:
        raise TSGFError(f"coreset features must be a 2-D (clips, dims) array, got shape {matrix.shape}")
    return matrix


def _as_pool(features: np.ndarray, k: int) -> np.ndarray:
    """`features` as a float64 (N, D) array, after checking that `k` samples can be chosen from its rows."""
    matrix = _as_matrix(features)
    if not 0 <= k <= len(matrix):
        raise TSGFError(f"cannot choose {k} coreset samples from {len(matrix)} feature rows")
    return matrix


def herding(features: np.ndarray, k: int) -> np.ndarray:
    """The `k` indices chosen by greedy herding, in pick order.

    Step t adds the unchosen sample that brings the mean of the chosen set closest (Euclidean) to the mean of all
    `features`, so the first pick is the sample nearest the mean. Deterministic: ties go to the lowest index.
    """
    matrix = _as_pool(features, k)
    mean = matrix.mean(axis=0)
    chosen = np.empty(k, dtype=np.int64)
    available = np.ones(len(matrix), dtype=bool)
    total = np.zeros_like(mean)
    for step in range(k):
        # ||(total + x_i) / (step + 1) - mean|| ranks candidates like ||total + x_i - (step + 1) * mean||,
        # which avoids dividing and keeps the comparison exact for ties.
        gaps = np.sum((total + matrix - (step + 1) * mean) ** 2, axis=1)
        gaps[~available] = np.inf
        pick = int(np.argmin(gaps))  # argmin returns the first minimum: lowest index wins ties
        chosen[step] = pick
        available[pick] = False
        total += matrix[pick]
    return chosen


def k_center_greedy(features: np.ndarray, k: int, first: int) -> np.ndarray:
    """The `k` indices chosen by greedy k-center, in pick order, starting from index `first`.

    Each step adds the sample farthest (Euclidean) from its nearest chosen centre. A running min-distance array makes
    this O(N * k * D). Ties go to the lowest index.
    """
    matrix = _as_pool(features, k)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if not 0 <= first < len(matrix):
        raise TSGFError(f"k-center start index {first} is outside the {len(matrix)} feature rows")
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = first
    nearest = np.sum((matrix - matrix[first]) ** 2, axis=1)  # squared distance to the nearest centre
    nearest[first] = -1.0  # chosen samples must never win, even when duplicates leave every distance at 0
    for step in range(1, k):
        pick = int(np.argmax(nearest))
        chosen[step] = pick
        nearest = np.minimum(nearest, np.sum((matrix - matrix[pick]) ** 2, axis=1))
        nearest[chosen[: step + 1]] = -1.0
    return chosen


def select_coreset(
    method: str,
    features: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    ipc: int,
    seed: int,
) -> np.ndarray:
    """`ipc` rows per class chosen by `method` on teacher features, class-major (class c at c*ipc .. c*ipc+ipc-1).

    `features[i]` is the teacher feature of `rows[i]`, whose class is `labels[i]`. Each class's picks keep their pick
    order. k-center's first centre is drawn with `np.random.default_rng([seed, ipc, c])` among class c's clips, so
    the seed varies the start. Herding is deterministic and ignores `seed`: its seeds differ only by the student.
    """
    if method not in CORESET_METHODS:
        raise TSGFError(f"unknown coreset method {method!r}; known methods: {', '.join(CORESET_METHODS)}")
    matrix = _as_matrix(features)
    rows = np.asarray(rows)
    labels = np.asarray(labels)
    if len(matrix) != len(rows) or len(labels) != len(rows):
        raise TSGFError(
            f"coreset inputs disagree in length: {len(matrix)} feature rows, {len(rows)} rows, {len(labels)} labels"
        )
    bad = int(np.count_nonzero(~np.isfinite(matrix).all(axis=1)))
    if bad:
        raise TSGFError(
            f"teacher features hold NaN or Inf in {bad} of {len(matrix)} rows; recompute the teacher features"
        )
    chosen = []
    for label in range(num_classes):
        in_class = labels == label
        members = rows[in_class]
        if len(members) < ipc:
            raise TSGFError(f"class {label} has {len(members)} training clips, fewer than IPC {ipc}")
        if method == "herding":
            picks = herding(matrix[in_class], ipc)
        else:
            first = int(np.random.default_rng([seed, ipc, label]).integers(len(members)))
            picks = k_center_greedy(matrix[in_class], ipc, first)
        chosen.append(members[picks])
    return np.concatenate(chosen)


__all__ = ["herding", "k_center_greedy", "select_coreset"]
