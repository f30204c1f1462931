"""Device selection and the GPU-only switches (bf16 autocast, channels_last_3d): on CPU they change nothing."""

import pytest
import torch

from tsgf import runtime
from tsgf.errors import DeviceError
from tsgf.models import build_network
from schema_configs import network_config

CPU = torch.device("cpu")


def test_auto_falls_back_to_the_cpu_without_a_visible_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.select_device("auto") == CPU
    assert runtime.select_device("cpu") == CPU


@pytest.mark.parametrize("requested", ["cuda", "cuda:1"])
def test_requesting_a_missing_gpu_is_a_clear_error(monkeypatch, requested):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(DeviceError, match=rf"'{requested}' was requested but no CUDA GPU is visible "
                                          r"\(CUDA_VISIBLE_DEVICES=''\)"):
        runtime.select_device(requested)


def test_a_gpu_number_beyond_the_visible_ones_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(DeviceError, match=r"'cuda:1' was requested but only 1 GPU\(s\) are visible"):
        runtime.select_device("cuda:1")
    assert runtime.select_device("cuda:0") == torch.device("cuda:0")


def test_an_unknown_device_or_precision_is_named():
    with pytest.raises(DeviceError, match="'tpu' is not known"):
        runtime.select_device("tpu")
    with pytest.raises(DeviceError, match="precision 'fp16' is not known"):
        runtime.autocast(CPU, "fp16")


def test_bf16_and_channels_last_leave_cpu_results_unchanged():
    torch.manual_seed(0)
    model = build_network(network_config(width=4, depth=2, spatial_strides=(2, 1), kernel=(3, 3, 3)), 3,
                          (6, 3, 16, 16), batchnorm=True).eval()
    clips = torch.rand(2, 3, 6, 16, 16)
    reference = model(clips)
    placed = runtime.place(clips, CPU)
    assert placed.is_contiguous()  # CPU keeps the default layout
    with runtime.autocast(CPU, "bf16"):
        result = runtime.place(model, CPU)(placed)
    assert result.dtype == torch.float32 and torch.equal(result, reference)
