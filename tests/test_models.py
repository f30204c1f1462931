"""The student architectures: ConvNet3D and torchvision's randomly initialised video ResNets, their checkpoints
and their penultimate-feature embedding."""

import copy

import pytest
import torch
from torchvision.models import video

from tsgf.errors import ConfigError
from tsgf.models import (ARCHITECTURES, NetworkConfig, build_network, count_parameters, embed, load_network,
                         predicting_network, save_network)
from schema_configs import network_config

RESNETS = ["r3d_18", "mc3_18", "r2plus1d_18"]
SMALL = {"arch": "convnet3d", "width": 4, "depth": 2, "kernel": [3, 3, 3], "spatial_strides": [2, 1],
         "dropout": 0.5}
CLIP_SHAPES = [(6, 3, 24, 24), (8, 3, 32, 32)]  # (T, C, H, W)


def network(arch: str, classes: int, clip_shape: tuple[int, int, int, int]) -> torch.nn.Module:
    params = {**SMALL, "arch": arch}  # the video ResNets ignore the ConvNet knobs
    return build_network(NetworkConfig.from_dict(params), classes, clip_shape)


def batch(size: int, clip_shape: tuple[int, int, int, int]) -> torch.Tensor:
    frames, channels, height, width = clip_shape
    return torch.randn(size, channels, frames, height, width)


def test_the_architectures_are_exported_in_order():
    assert ARCHITECTURES == ("convnet3d", "r3d_18", "mc3_18", "r2plus1d_18")


def test_an_unknown_arch_names_every_known_one():
    with pytest.raises(ConfigError) as error:
        build_network(network_config(arch="resnet50"), 5, CLIP_SHAPES[0])
    assert all(arch in str(error.value) for arch in ARCHITECTURES)


@pytest.mark.parametrize("arch", RESNETS)
@pytest.mark.parametrize("clip_shape", CLIP_SHAPES)
def test_video_resnets_give_class_logits_on_small_clips(arch, clip_shape):
    torch.manual_seed(0)
    model = network(arch, 7, clip_shape)
    assert isinstance(model, video.VideoResNet)
    logits = model(batch(3, clip_shape))  # train mode: BatchNorm needs the batch's statistics to be defined
    assert logits.shape == (3, 7) and torch.isfinite(logits).all()
    assert model.eval()(batch(1, clip_shape)).shape == (1, 7)


@pytest.mark.parametrize("arch", RESNETS)
def test_video_resnets_are_torchvisions_nets_with_our_classes_and_ignore_the_convnet_knobs(arch):
    built = build_network(network_config(arch=arch, width=3, depth=1, spatial_strides=(1,), dropout=0.0), 7,
                          CLIP_SHAPES[0], batchnorm=False)
    reference = getattr(video, arch)(weights=None, num_classes=7)
    assert count_parameters(built) == count_parameters(reference)
    assert [name for name, _ in built.named_parameters()] == [name for name, _ in reference.named_parameters()]


@pytest.mark.parametrize("arch", RESNETS)
def test_video_resnets_accept_single_channel_clips(arch):
    model = network(arch, 4, (6, 1, 24, 24))
    assert model(batch(2, (6, 1, 24, 24))).shape == (2, 4)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_arch_round_trips_through_save_and_load(arch, tmp_path):
    clip_shape = CLIP_SHAPES[0]
    torch.manual_seed(1)
    model = network(arch, 5, clip_shape)
    model(batch(4, clip_shape))  # one train-mode pass, so BatchNorm running statistics differ from their init
    params = {**SMALL, "arch": arch}  # the video ResNets ignore the ConvNet knobs
    save_network(tmp_path / "model.pt", model, params, 5, clip_shape, batchnorm=False)
    loaded = load_network(tmp_path / "model.pt")
    assert type(loaded) is type(model)
    inputs = batch(2, clip_shape)
    assert torch.equal(loaded.eval()(inputs), model.eval()(inputs))


@pytest.mark.parametrize("arch", RESNETS)
def test_video_resnet_embedding_is_what_fc_classifies(arch):
    torch.manual_seed(2)
    model = network(arch, 6, CLIP_SHAPES[0]).eval()
    inputs = batch(3, CLIP_SHAPES[0])
    features = embed(model, inputs)
    assert features.shape == (3, 512)
    assert torch.allclose(model.fc(features), model(inputs), atol=1e-6)


def test_convnet3d_embedding_is_what_its_classifier_sees():
    """With one output frame the max over time is the identity, so the 1x1x1 head on the embedding is the
    network's output; the embedding has the last block's channels (twice the width)."""
    torch.manual_seed(3)
    model = network("convnet3d", 5, (2, 3, 16, 16)).eval()
    assert model.output_frames == 1
    inputs = batch(4, (2, 3, 16, 16))
    features = embed(model, inputs)
    assert features.shape == (4, 8)
    classifier = model.head[1]
    expected = features @ classifier.weight.flatten(1).T + classifier.bias
    assert torch.allclose(expected, model(inputs), atol=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_embedding_gradients_reach_the_input(arch):
    torch.manual_seed(4)
    model = network(arch, 5, CLIP_SHAPES[0])
    inputs = batch(2, CLIP_SHAPES[0]).requires_grad_()
    embed(model, inputs).square().sum().backward()
    assert inputs.grad is not None and torch.isfinite(inputs.grad).all() and inputs.grad.abs().sum() > 0


def test_embed_rejects_a_network_it_does_not_know():
    with pytest.raises(TypeError, match="Linear"):
        embed(torch.nn.Linear(3, 2), torch.zeros(1, 3))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_convnet3d_pools_before_its_relu_and_matches_the_published_order_to_the_bit(batchnorm):
    """ReLU then max-pool (the benchmark's order) and max-pool then ReLU give the same logits and the same gradients,
    bit for bit, in the layout the harness uses; ours runs the ReLU on the pooled, smaller tensor."""
    torch.manual_seed(0)
    ours = build_network(NetworkConfig.from_dict({**SMALL, "dropout": 0.0}), 5, CLIP_SHAPES[1], batchnorm=batchnorm)
    kinds = [type(m) for m in ours.features]
    assert all(kinds[i + 1] is torch.nn.ReLU for i, k in enumerate(kinds) if k is torch.nn.MaxPool3d)
    published = copy.deepcopy(ours)
    blocks = list(published.features)
    for i, module in enumerate(blocks[:-1]):
        if isinstance(module, torch.nn.MaxPool3d):
            blocks[i], blocks[i + 1] = blocks[i + 1], module
    published.features = torch.nn.Sequential(*blocks)
    clips = batch(6, CLIP_SHAPES[1]).contiguous(memory_format=torch.channels_last_3d)
    # negative pre-activations everywhere in some windows: ties among ReLU's zeros must not route gradient elsewhere
    clips[:2] -= 3.0
    grads = []
    for model in (ours, published):
        model = model.to(memory_format=torch.channels_last_3d)
        model.zero_grad()
        logits = model(clips)
        (logits * torch.arange(1.0, 6.0)).sum().backward()
        grads.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    assert torch.equal(grads[0][0], grads[1][0])
    assert all(torch.equal(a, b) for a, b in zip(grads[0][1], grads[1][1]))


def test_a_predicting_teacher_folds_its_batchnorm_and_predicts_what_the_teacher_predicts_in_eval_mode():
    torch.manual_seed(0)
    teacher = build_network(NetworkConfig.from_dict({**SMALL, "dropout": 0.0}), 5, CLIP_SHAPES[1], batchnorm=True)
    for module in teacher.modules():  # statistics and affine terms far from the identity, as after training
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-1, 1), module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 2), module.bias.data.uniform_(-1, 1)
    teacher.train()
    predicting = predicting_network(teacher)
    assert teacher.training and not predicting.training  # the teacher itself is left as it was
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in predicting.modules())
    clips = batch(4, CLIP_SHAPES[1])
    with torch.no_grad():
        expected, folded = teacher.eval()(clips), predicting(clips)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    resnet = network("r3d_18", 5, CLIP_SHAPES[0])
    assert not predicting_network(resnet).training and predicting_network(resnet) is not resnet
