"""The package's settings dataclasses built from the schema's defaults, as the workflow builds them from a
validated config, with a test's overrides (the dataclasses carry no defaults of their own)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tsgf.augment import SaliencyAugmentConfig
from tsgf.config import schema_defaults
from tsgf.datasets.video import ClipSpec
from tsgf.distill import DistillConfig
from tsgf.models import NetworkConfig
from tsgf.plan import synthesis_params
from tsgf.saliency import SaliencyConfig
from tsgf.training import TrainConfig

DEFAULTS = schema_defaults()


def saliency_config(**overrides: Any) -> SaliencyConfig:
    return SaliencyConfig.from_dict({**DEFAULTS["saliency"], **overrides})


def network_config(**overrides: Any) -> NetworkConfig:
    """The schema's student network."""
    return NetworkConfig.from_dict({**DEFAULTS["student"]["network"], **overrides})


def train_config(**overrides: Any) -> TrainConfig:
    """The schema's few-shot student recipe."""
    return TrainConfig.from_dict({**DEFAULTS["evaluation"]["train"], **overrides})


def augment_config(**overrides: Any) -> SaliencyAugmentConfig:
    """The schema's TSGF_A."""
    return SaliencyAugmentConfig.from_dict({**DEFAULTS["evaluation"]["tsgf_a"], **overrides})


def distill_config(**overrides: Any) -> DistillConfig:
    """TSGF's synthesis settings (TSGF_O on), as the plan hands them to the distill stage."""
    return replace(DistillConfig.from_dict(synthesis_params(DEFAULTS, "tsgf")), **overrides)


def clip_spec(**overrides: Any) -> ClipSpec:
    """The schema's real-video clip sampling."""
    return ClipSpec.from_dict({**DEFAULTS["dataset"]["clip"], **overrides})
