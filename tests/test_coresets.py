"""Coreset baselines: herding and k-center greedy on teacher features, and their class-major selection."""

from __future__ import annotations

import numpy as np
import pytest

from tsgf.coresets import herding, k_center_greedy, select_coreset
from tsgf.methods import CORESET_METHODS
from tsgf.errors import TSGFError


def _covering_radius(features: np.ndarray, centres: np.ndarray) -> float:
    """Max over points of the distance to the nearest chosen centre."""
    gaps = np.linalg.norm(features[:, None, :] - features[None, centres, :], axis=2)
    return float(gaps.min(axis=1).max())


def _four_clusters(rng: np.random.Generator, per_cluster: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled points around (+-100, +-100), spread 1, and the cluster of each point."""
    corners = np.array([[100.0, 100.0], [100.0, -100.0], [-100.0, 100.0], [-100.0, -100.0]])
    cluster = np.repeat(np.arange(4), per_cluster)
    points = corners[cluster] + rng.normal(size=(len(cluster), 2))
    order = rng.permutation(len(cluster))
    return points[order], cluster[order]


def _labelled_set(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """30 shuffled clips of 3 classes (12, 10, 8 clips), with non-trivial row ids and 5-D features."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(3), [12, 10, 8]))
    rows = rng.permutation(1000)[: len(labels)] + 7
    features = rng.normal(size=(len(labels), 5)) + labels[:, None] * 3.0
    return features, rows, labels


def test_herding_first_picks_the_sample_nearest_the_mean():
    # Mean is 4.3: index 2 (x=4) is nearest, while index 0 (x=0.5) is nearest the origin.
    features = np.array([[0.5, 0.0], [10.0, 0.0], [4.0, 0.0], [6.0, 0.0], [1.0, 0.0]])
    picks = herding(features, 3)
    assert picks[0] == 2
    assert picks[1] == 3  # (4 + 6) / 2 = 5 is the closest 2-mean to 4.3
    assert len(set(picks.tolist())) == 3


def test_herding_matches_a_brute_force_definition_and_breaks_ties_low():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(40, 4))
    mean = features.mean(axis=0)
    expected: list[int] = []
    for _ in range(15):
        gaps = [
            np.inf if i in expected else np.linalg.norm(features[expected + [i]].mean(axis=0) - mean)
            for i in range(len(features))
        ]
        expected.append(int(np.argmin(gaps)))
    assert herding(features, 15).tolist() == expected
    # Two identical samples nearest the mean: the lower index wins.
    assert herding(np.array([[5.0], [0.0], [0.0], [-5.0]]), 1).tolist() == [1]


def test_herding_mean_converges_faster_than_a_random_subset():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 16))
    mean = features.mean(axis=0)
    picks = herding(features, 50)
    for k in (10, 20, 50):
        herd_error = np.linalg.norm(features[picks[:k]].mean(axis=0) - mean)
        random_error = np.mean(
            [np.linalg.norm(features[rng.choice(500, k, replace=False)].mean(axis=0) - mean) for _ in range(20)]
        )
        assert herd_error < 0.5 * random_error, (k, herd_error, random_error)


def test_k_center_puts_one_centre_in_each_separated_cluster_whatever_the_start():
    features, cluster = _four_clusters(np.random.default_rng(1))
    for first in range(len(features)):
        picks = k_center_greedy(features, 4, first)
        assert picks[0] == first
        assert sorted(cluster[picks].tolist()) == [0, 1, 2, 3]


def test_k_center_at_k_equal_n_chooses_every_index_once_even_with_duplicates():
    features, _ = _four_clusters(np.random.default_rng(2))
    assert sorted(k_center_greedy(features, len(features), 5).tolist()) == list(range(len(features)))
    duplicates = np.zeros((6, 3))
    assert sorted(k_center_greedy(duplicates, 6, 4).tolist()) == list(range(6))


def test_k_center_covering_radius_never_grows_and_reaches_zero():
    features = np.random.default_rng(4).normal(size=(60, 3))
    picks = k_center_greedy(features, len(features), 17)
    radii = [_covering_radius(features, picks[:k]) for k in range(1, len(features) + 1)]
    assert all(later <= earlier for earlier, later in zip(radii, radii[1:]))
    assert radii[0] > radii[-1] == 0.0
    # The prefix of a longer run is the shorter run: greedy picks do not depend on k.
    assert k_center_greedy(features, 10, 17).tolist() == picks[:10].tolist()


def test_k_center_second_pick_is_the_farthest_from_the_start():
    features = np.array([[0.0], [1.0], [-3.0], [2.5]])
    assert k_center_greedy(features, 3, 1).tolist() == [1, 2, 3]


@pytest.mark.parametrize("method", CORESET_METHODS)
def test_select_coreset_is_class_major_and_deterministic(method):
    features, rows, labels = _labelled_set()
    ipc = 4
    chosen = select_coreset(method, features, rows, labels, 3, ipc, seed=0)
    assert chosen.shape == (3 * ipc,)
    label_of = dict(zip(rows.tolist(), labels.tolist()))
    assert [label_of[row] for row in chosen.tolist()] == [c for c in range(3) for _ in range(ipc)]
    assert len(set(chosen.tolist())) == len(chosen)
    assert np.array_equal(chosen, select_coreset(method, features, rows, labels, 3, ipc, seed=0))


def test_select_coreset_herding_keeps_pick_order_and_ignores_the_seed():
    features, rows, labels = _labelled_set()
    chosen = select_coreset("herding", features, rows, labels, 3, 3, seed=0)
    for c in range(3):
        expected = rows[labels == c][herding(features[labels == c], 3)]
        assert chosen[c * 3 : c * 3 + 3].tolist() == expected.tolist()
    assert np.array_equal(chosen, select_coreset("herding", features, rows, labels, 3, 3, seed=99))


def test_select_coreset_kcenter_starts_from_the_seeded_member_and_seeds_vary_the_start():
    features, rows, labels = _labelled_set()
    chosen = select_coreset("kcenter", features, rows, labels, 3, 2, seed=5)
    for c in range(3):
        first = int(np.random.default_rng([5, 2, c]).integers(np.count_nonzero(labels == c)))
        expected = rows[labels == c][k_center_greedy(features[labels == c], 2, first)]
        assert chosen[c * 2 : c * 2 + 2].tolist() == expected.tolist()
    starts = {int(select_coreset("kcenter", features, rows, labels, 3, 2, seed=s)[0]) for s in range(10)}
    assert len(starts) > 1


def test_too_few_clips_names_the_class_and_counts():
    features, rows, labels = _labelled_set()
    with pytest.raises(TSGFError, match="class 2 has 8 training clips, fewer than IPC 9"):
        select_coreset("herding", features, rows, labels, 3, 9, seed=0)


def test_misaligned_features_name_both_lengths():
    features, rows, labels = _labelled_set()
    with pytest.raises(TSGFError, match="29 feature rows, 30 rows"):
        select_coreset("kcenter", features[:-1], rows, labels, 3, 2, seed=0)


def test_non_finite_features_ask_for_a_recompute():
    features, rows, labels = _labelled_set()
    features[3, 1] = np.nan
    features[7, 0] = np.inf
    with pytest.raises(TSGFError, match="NaN or Inf in 2 of 30 rows; recompute the teacher features"):
        select_coreset("herding", features, rows, labels, 3, 2, seed=0)


def test_unknown_method_lists_the_known_ones():
    features, rows, labels = _labelled_set()
    with pytest.raises(TSGFError, match="unknown coreset method 'kmeans'; known methods: herding, kcenter"):
        select_coreset("kmeans", features, rows, labels, 3, 2, seed=0)


def test_direct_calls_reject_impossible_k_and_start():
    features = np.zeros((5, 2))
    with pytest.raises(TSGFError, match="cannot choose 6 coreset samples from 5 feature rows"):
        herding(features, 6)
    with pytest.raises(TSGFError, match="start index 5 is outside the 5 feature rows"):
        k_center_greedy(features, 2, 5)
    with pytest.raises(TSGFError, match="2-D"):
        herding(np.zeros(5), 1)
