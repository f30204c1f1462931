"""BatchNorm-statistics matching: how far a batch's feature statistics are from the teacher's running ones.

For each BatchNorm3d layer l, the batch mean mu_l and (biased) variance var_l of its input are taken over
(N, T, H, W) and compared with the layer's running statistics RM_l, RV_l:
    L_BN = sum_l m_l (||mu_l - RM_l||_2 + ||var_l - RV_l||_2),   m_1 = first-layer multiplier, m_l = 1 otherwise.
"""

from __future__ import annotations

from types import TracebackType

import torch
from torch import nn


class BatchNormStatistics:
    """Forward hooks on every BatchNorm3d of a model that record its input's batch mean and variance.

    Use as a context manager around the forward pass; the hooks are removed on exit.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
        if not self.layers:
            raise ValueError("BN-statistics matching needs a teacher with BatchNorm3d layers; this model has none")
        self.batch_stats: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.layers)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, position: int):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            features = inputs[0].float()
            mean = features.mean(dim=(0, 2, 3, 4))
            var = features.var(dim=(0, 2, 3, 4), unbiased=False)
            self.batch_stats[position] = (mean, var)

        return record

    def __enter__(self) -> "BatchNormStatistics":
        self._handles = [layer.register_forward_hook(self._hook(i)) for i, layer in enumerate(self.layers)]
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def bn_matching_loss(statistics: BatchNormStatistics, first_layer_multiplier: float = 1.0) -> torch.Tensor:
    """sum_l m_l (||mu_l - RM_l||_2 + ||var_l - RV_l||_2) over the statistics of the last forward pass."""
    total = torch.zeros(())
    for position, (layer, stats) in enumerate(zip(statistics.layers, statistics.batch_stats)):
        if stats is None:
            raise RuntimeError(f"BatchNorm layer {position} saw no forward pass")
        mean, var = stats
        distance = torch.linalg.vector_norm(mean - layer.running_mean) + torch.linalg.vector_norm(
            var - layer.running_var)
        total = total.to(distance.device) + (first_layer_multiplier if position == 0 else 1.0) * distance
    return total


__all__ = ["BatchNormStatistics", "bn_matching_loss"]
