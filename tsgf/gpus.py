"""Whether this machine has a GPU a local job would use, asked of the NVIDIA driver rather than torch: the
workflow plans its jobs' GPU resources with it, and planning never imports torch."""

from __future__ import annotations

import functools
import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one entry per GPU the driver sees


@functools.cache
def local_gpu_visible() -> bool:
    """At least one GPU listed by the driver, and CUDA_VISIBLE_DEVICES not hiding them all."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "0").strip() in ("", "-1"):
        return False
    return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())
