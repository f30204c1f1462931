"""Device selection, bf16 autocast (GPU only: on CPU it changes nothing) and the channels_last_3d layout."""

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


def test_bf16_leaves_cpu_results_unchanged_and_channels_last_changes_them_only_by_rounding():
    torch.manual_seed(0)
    model = build_network(network_config(width=4, depth=2, spatial_strides=(2, 1), kernel=(3, 3, 3)), 3,
                          (6, 3, 16, 16), batchnorm=True).eval()
    clips = torch.rand(2, 3, 6, 16, 16)
    reference = model(clips)
    placed = runtime.place(clips, CPU)
    assert placed.is_contiguous(memory_format=torch.channels_last_3d)  # the layout of oneDNN's fast kernels
    placed_model = runtime.place(model, CPU)
    plain = placed_model(placed)
    with runtime.autocast(CPU, "bf16"):
        result = placed_model(placed)
    assert result.dtype == torch.float32 and torch.equal(result, plain)  # autocast stays off on CPU
    torch.testing.assert_close(plain, reference, rtol=1e-5, atol=1e-5)  # another order of sums, same function
    assert torch.equal(runtime.place(model, CPU)(runtime.place(clips, CPU)), plain)  # and deterministic
