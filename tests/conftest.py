"""Shared fixtures: tiny clip sets and networks built inside the tests (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tsgf.models import build_network
from schema_configs import network_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def tiny_teacher() -> torch.nn.Module:
    """A 2-block BatchNorm ConvNet3D for 3 classes on (T=6, C=3, 16x16) clips, random weights, eval mode."""
    torch.manual_seed(0)
    config = network_config(width=4, depth=2, kernel=(3, 3, 3), spatial_strides=(2, 1))
    return build_network(config, 3, (6, 3, 16, 16), batchnorm=True).eval()
