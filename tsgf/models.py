"""Networks: the benchmark's ConvNet3D student and its BatchNorm teacher.

ConvNet3D (the video distillation benchmark's): conv blocks of Conv3d k=(3,7,7) s=(1,2,2) p=(1,3,3) with 64, 128,
128 channels, ReLU, MaxPool (1,2,2) after the first block and 2x2x2 after the others (built here as MaxPool then
ReLU: the same bits, less work); head AvgPool over space, Dropout 0.5, 1x1x1 conv to the classes, max over the
remaining time axis. About 3.65 M parameters at 50 classes. Width, depth, kernel and strides are knobs so the
embedded default can be small. The teacher is the same stack with BatchNorm3d after every convolution (the
statistics TSGF's synthesis matches).

For cross-architecture evaluation the students may also be torchvision's video ResNets (R3D-18, MC3-18,
R(2+1)D-18), always randomly initialised: nothing is downloaded.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tsgf.errors import ConfigError

ARCHITECTURES = ("convnet3d", "r3d_18", "mc3_18", "r2plus1d_18")
_VIDEO_RESNETS = ARCHITECTURES[1:]  # torchvision.models.video builders of these names


@dataclass(frozen=True)
class NetworkConfig:
    """An architecture, filled from a validated `*.network` section (the schema holds its defaults)."""

    arch: str
    width: int  # channels of the first block; later blocks have twice as many
    depth: int
    kernel: tuple[int, int, int]
    spatial_strides: tuple[int, ...]
    dropout: float

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "NetworkConfig":
        return cls(**{**params, "kernel": tuple(params["kernel"]), "spatial_strides": tuple(params["spatial_strides"])})


def _shrink(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class ConvNet3D(nn.Module):
    """Input (B, C, T, H, W), output logits (B, classes)."""

    def __init__(self, num_classes: int, clip_shape: tuple[int, int, int, int], config: NetworkConfig,
                 batchnorm: bool = False) -> None:
        super().__init__()
        frames, channels, height, width = clip_shape
        if len(config.spatial_strides) != config.depth:
            raise ConfigError(f"network.spatial_strides has {len(config.spatial_strides)} entries; "
                              f"network.depth is {config.depth}: give one stride per block")
        padding = tuple(k // 2 for k in config.kernel)
        size = [frames, height, width]
        blocks: list[nn.Module] = []
        in_channels = channels
        for block in range(config.depth):
            out_channels = config.width if block == 0 else 2 * config.width
            stride = (1, config.spatial_strides[block], config.spatial_strides[block])
            blocks.append(nn.Conv3d(in_channels, out_channels, config.kernel, stride, padding, bias=not batchnorm))
            if batchnorm:
                blocks.append(nn.BatchNorm3d(out_channels))
            size = [_shrink(s, k, st, p) for s, k, st, p in zip(size, config.kernel, stride, padding)]
            # Pools never shrink an axis below one element, so small clips keep the same stack.
            pool = tuple(1 if (block == 0 and axis == 0) or size[axis] < 2 else 2 for axis in range(3))
            # the benchmark's ReLU then max-pool, in the other order: max and ReLU commute, so outputs and gradients
            # are the same bits, and the ReLU runs on up to 8x fewer elements (a student step 0.90x the time)
            blocks.append(nn.MaxPool3d(pool))
            blocks.append(nn.ReLU(inplace=True))
            size = [s // p for s, p in zip(size, pool)]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Conv3d(in_channels, num_classes, 1))
        self.output_frames = size[0]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        features = self.features(clips).mean(dim=(3, 4), keepdim=True)  # average over space
        return self.head(features).amax(dim=(2, 3, 4))  # max over the remaining time axis


def _video_resnet(arch: str, num_classes: int, channels: int) -> nn.Module:
    from torchvision.models import video  # imported here: it adds seconds to every job that needs no ResNet

    model = getattr(video, arch)(weights=None, num_classes=num_classes)
    if channels != 3:  # the stem is built for RGB; other clip sets (e.g. grey) get a first conv of their own
        first = model.stem[0]
        model.stem[0] = nn.Conv3d(channels, first.out_channels, first.kernel_size, first.stride, first.padding,
                                  bias=first.bias is not None)
        nn.init.kaiming_normal_(model.stem[0].weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
    return model


def build_network(config: NetworkConfig, num_classes: int, clip_shape: tuple[int, int, int, int],
                  batchnorm: bool = False) -> nn.Module:
    """The network named by `config.arch` (one of ARCHITECTURES), for clips of `clip_shape` (T, C, H, W).

    The torchvision video ResNets ignore width, depth, kernel, spatial_strides and dropout, and `batchnorm`
    (they always have BatchNorm); they are randomly initialised and take the same (B, C, T, H, W) input."""
    if config.arch == "convnet3d":
        return ConvNet3D(num_classes, clip_shape, config, batchnorm=batchnorm)
    if config.arch in _VIDEO_RESNETS:
        return _video_resnet(config.arch, num_classes, clip_shape[1])
    raise ConfigError(f"network.arch {config.arch!r} is not known; use one of {', '.join(ARCHITECTURES)}")


def embed(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Penultimate features (B, D) of network input (B, C, T, H, W); differentiable, so distribution matching can
    back-propagate through it into the inputs. ConvNet3D: its feature stack averaged over time and space (before
    dropout and the classifier); the video ResNets: everything before `fc`."""
    if isinstance(model, ConvNet3D):
        return model.features(inputs).mean(dim=(2, 3, 4))
    if type(model).__name__ == "VideoResNet":  # by name: importing torchvision costs every job seconds
        features = model.layer4(model.layer3(model.layer2(model.layer1(model.stem(inputs)))))
        return model.avgpool(features).flatten(1)
    raise TypeError(f"embed does not know the network {type(model).__name__}")


def predicting_network(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode for a network that only predicts (the soft-label teacher): ConvNet3D's
    BatchNorm3d layers folded into the convolutions before them (`fuse_conv_bn_eval`), the same function up to float
    rounding (logits within 1e-5) at 0.72x the forward time on the CPU. Other networks are copied unchanged."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    copy = deepcopy(model).eval()
    if isinstance(copy, ConvNet3D):
        blocks = list(copy.features)
        for i in range(len(blocks) - 1):
            if isinstance(blocks[i], nn.Conv3d) and isinstance(blocks[i + 1], nn.BatchNorm3d):
                blocks[i], blocks[i + 1] = fuse_conv_bn_eval(blocks[i], blocks[i + 1]), nn.Identity()
        copy.features = nn.Sequential(*blocks)
    return copy


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_input(clips: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, batch_zscore: bool = False
                ) -> torch.Tensor:
    """Clips (N, T, C, H, W) with pixels in [0, 1] -> normalised network input (N, C, T, H, W); differentiable.

    `batch_zscore` then standardises the whole batch by its own scalar mean and std, as the benchmark's student
    code does at train and test time (a protocol switch, off by default)."""
    shape = (1, 1, -1, 1, 1)
    normalised = ((clips - mean.view(shape)) / std.view(shape)).permute(0, 2, 1, 3, 4)
    if batch_zscore:
        normalised = (normalised - normalised.mean()) / normalised.std().clamp_min(1e-6)
    return normalised


def save_network(path: Path, model: nn.Module, network: dict[str, Any], num_classes: int,
                 clip_shape: tuple[int, ...], batchnorm: bool) -> None:
    """A checkpoint that rebuilds itself: weights plus the network config, classes and clip shape."""
    torch.save({"state_dict": model.state_dict(), "network": network, "num_classes": num_classes,
                "clip_shape": list(clip_shape), "batchnorm": batchnorm}, path)


def load_network(path: Path) -> nn.Module:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_network(NetworkConfig.from_dict(saved["network"]), saved["num_classes"],
                          tuple(saved["clip_shape"]), batchnorm=saved["batchnorm"])
    model.load_state_dict(saved["state_dict"])
    return model


__all__ = ["ARCHITECTURES", "NetworkConfig", "ConvNet3D", "build_network", "embed", "count_parameters",
           "model_input", "save_network", "load_network"]
