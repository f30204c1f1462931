"""MTT and VDSD (tsgf/trajectory_matching.py): the matching loss, the unrolled student's gradient, the expert buffer
and the integrator, on networks small enough to check against known values and finite differences."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from tsgf.distill import DistillConfig
from tsgf.errors import TSGFError
from tsgf.models import build_network
from tsgf.trajectory_matching import (ExpertBuffer, FunctionalNetwork, Integrator, MatchingConfig, StaticDynamicConfig,
                                      match_trajectories, trajectory_matching_loss, trajectory_objective,
                                      unroll_student)
from tsgf.training import parameter_vector
from schema_configs import DEFAULTS, network_config

CLASSES, CLIP = 3, (4, 3, 8, 8)  # (T, C, H, W)


def tiny_network(dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    torch.manual_seed(0)
    config = network_config(width=2, depth=1, kernel=(3, 3, 3), spatial_strides=(2,), dropout=0.0)
    return build_network(config, CLASSES, CLIP).to(dtype)


def network_input(count: int, dtype: torch.dtype = torch.float32, seed: int = 1) -> torch.Tensor:
    """(N, C, T, H, W) network input."""
    return torch.randn((count, CLIP[1], CLIP[0], *CLIP[2:]), generator=torch.Generator().manual_seed(seed),
                       dtype=dtype)


def test_the_functional_network_at_a_models_own_parameters_is_the_model():
    model = tiny_network()
    inputs = network_input(5)
    assert torch.allclose(FunctionalNetwork(model)(parameter_vector(model), inputs), model(inputs))


def test_the_matching_loss_is_zero_when_the_synthetic_steps_reproduce_the_expert_step_and_one_when_they_stand_still():
    model = tiny_network()
    functional = FunctionalNetwork(model)
    inputs, labels = network_input(6), torch.tensor([0, 1, 2, 0, 1, 2])
    start = parameter_vector(model)
    # the expert: one plain SGD step of step size 0.05 on exactly these clips
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    F.cross_entropy(model(inputs), labels).backward()
    optimiser.step()
    target = parameter_vector(model)
    gen = torch.Generator().manual_seed(0)
    reached = unroll_student(functional, start, inputs, labels, torch.tensor(0.05), 1, 0, gen)
    assert trajectory_matching_loss(start, target, reached).item() < 1e-9
    still = unroll_student(functional, start, inputs, labels, torch.tensor(0.0), 3, 0, gen)
    assert trajectory_matching_loss(start, target, still).item() == pytest.approx(1.0)
    other = unroll_student(functional, start, network_input(6, seed=2), labels, torch.tensor(0.05), 1, 0, gen)
    assert trajectory_matching_loss(start, target, other).item() > 1e-4


def test_the_unrolled_loops_gradient_matches_finite_differences():
    """d loss / d (clips, step size) through three unrolled steps with minibatches, in float64, against central
    differences at the step size and at a few pixels."""
    model = tiny_network(torch.float64)
    functional = FunctionalNetwork(model)
    labels = torch.tensor([0, 1, 2, 0])
    start = parameter_vector(model).double()
    target = start + 0.01 * torch.randn(start.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def loss(inputs: torch.Tensor, step_size: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(7)  # the same minibatches at every evaluation
        reached = unroll_student(functional, start, inputs, labels, step_size, 3, 3, gen)
        return trajectory_matching_loss(start, target, reached)

    inputs = network_input(4, torch.float64).requires_grad_(True)
    step_size = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    input_gradient, step_gradient = torch.autograd.grad(loss(inputs, step_size), (inputs, step_size))
    eps = 1e-6
    numeric = (loss(inputs, step_size + eps) - loss(inputs, step_size - eps)) / (2 * eps)  # the inner loop needs grad
    assert step_gradient.item() == pytest.approx(numeric.item(), rel=1e-5)
    flat = inputs.detach().reshape(-1)
    for index in torch.randperm(len(flat), generator=torch.Generator().manual_seed(0))[:6].tolist():
        shifted = [flat.clone(), flat.clone()]
        shifted[0][index] += eps
        shifted[1][index] -= eps
        up, down = (loss(values.view_as(inputs), step_size) for values in shifted)
        numeric = (up - down) / (2 * eps)
        assert input_gradient.reshape(-1)[index].item() == pytest.approx(numeric.item(), rel=1e-4, abs=1e-10)


def test_memory_of_the_unrolled_graph_grows_with_the_steps():
    """The graph keeps every step (it must, to differentiate through them): twice the steps, about twice the
    tensors saved for backward."""
    model = tiny_network()
    functional = FunctionalNetwork(model)
    inputs, labels = network_input(6).requires_grad_(True), torch.tensor([0, 1, 2, 0, 1, 2])

    def saved_bytes(steps: int) -> int:
        total = 0

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            unroll_student(functional, parameter_vector(model), inputs, labels, torch.tensor(0.01), steps, 0,
                           torch.Generator())
        return total

    assert 1.7 < saved_bytes(4) / saved_bytes(2) < 2.3


def expert_file(path, trajectories: torch.Tensor, network: dict, first: int = 0) -> None:
    """An expert_trajectories output holding experts first, first + 1, ..."""
    torch.save({"trajectories": trajectories, "experts": list(range(first, first + len(trajectories))),
                "network": network, "seconds": 1.0, "own_peak_mb": 2.0}, path)


def test_the_expert_buffer_reads_each_experts_epochs_across_files(tmp_path):
    network = DEFAULTS["student"]["network"]
    first, second = torch.arange(2 * 4 * 5.0).view(2, 4, 5), -torch.arange(4 * 5.0).view(1, 4, 5)
    expert_file(tmp_path / "experts2-2.pt", second, network, first=2)
    expert_file(tmp_path / "experts0-1.pt", first, network)
    buffer = ExpertBuffer([tmp_path / "experts2-2.pt", tmp_path / "experts0-1.pt"])
    assert len(buffer) == 3 and buffer.epochs == 3
    assert torch.equal(buffer.parameters(1, 2), first[1, 2])
    assert torch.equal(buffer.parameters(2, 3), second[0, 3])


def test_a_start_epoch_the_buffer_cannot_reach_is_an_error_naming_the_keys(tmp_path):
    expert_file(tmp_path / "experts0-0.pt", torch.zeros(1, 5, 4), DEFAULTS["student"]["network"])
    matching = MatchingConfig.from_dict({**DEFAULTS["mtt"], "max_start_epoch": 3, "expert_epochs": 2})
    with pytest.raises(TSGFError, match=r"mtt.max_start_epoch \(3\) \+ mtt.expert_epochs \(2\) exceed the 4 epochs"):
        trajectory_objective(None, ExpertBuffer([tmp_path / "experts0-0.pt"]), torch.zeros(1), matching,
                             torch.tensor(0.01), torch.zeros(3), torch.ones(3), torch.Generator())


def test_the_integrator_starts_from_the_stills_and_learns_motion():
    integrator = Integrator(channels=3, dynamic_channels=2, width=4, frames=5)
    stills = torch.rand(2, 1, 3, 8, 8)
    memory = torch.randn(2, 2, 2, 4, 4, requires_grad=True)
    clips = integrator(stills, memory)
    assert clips.shape == (2, 5, 3, 8, 8)
    assert torch.equal(clips, stills.expand(-1, 5, -1, -1, -1))  # the zero-initialised last layer adds nothing
    clips.sum().backward()
    assert integrator.out.weight.grad.abs().sum() > 0  # so the first step makes the clips move


def buffer_of(tmp_path, model: torch.nn.Module, epochs: int = 4) -> ExpertBuffer:
    """Two experts: random walks from the model's parameters."""
    start = parameter_vector(model)
    gen = torch.Generator().manual_seed(5)
    walks = start + 0.01 * torch.randn(2, epochs + 1, len(start), generator=gen).cumsum(1)
    expert_file(tmp_path / "experts0-1.pt", walks, DEFAULTS["student"]["network"])
    return ExpertBuffer([tmp_path / "experts0-1.pt"])


def settings(iterations: int) -> tuple[DistillConfig, MatchingConfig]:
    params = {**DEFAULTS["mtt"], "iterations": iterations, "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 2,
              "augment": DEFAULTS["distill"]["augment"], "optimiser": "adam", "lr": 0.01}
    return DistillConfig.without_teacher(params), MatchingConfig.from_dict(params)


def test_an_mtt_set_is_deterministic_and_moves_from_its_real_start(tmp_path):
    model = tiny_network()
    buffer = buffer_of(tmp_path, model)
    init = torch.rand((CLASSES * 2, *CLIP), generator=torch.Generator().manual_seed(4))
    config, matching = settings(iterations=3)

    def make():
        return match_trajectories(init, CLASSES, 2, buffer, model, config, matching, seed=0,
                                  device=torch.device("cpu"), mean=torch.full((3,), 0.5), std=torch.full((3,), 0.25))

    (first, learnt), (second, _) = make(), make()
    assert (first.clips == second.clips).all() and first.curve == second.curve
    assert first.clips.shape == (CLASSES * 2, *CLIP) and len(first.curve) == 2  # iterations 1 and 3 logged
    assert (first.clips != (init * 255).round().numpy()).any()
    assert learnt["learnt_step_size"] != matching.syn_lr  # the step size is learnt too


def test_a_vdsd_set_is_still_frames_plus_the_learnt_motion(tmp_path):
    model = tiny_network()
    buffer = buffer_of(tmp_path, model)
    init = torch.rand((CLASSES, *CLIP), generator=torch.Generator().manual_seed(4))
    config, matching = settings(iterations=2)
    dynamic = DistillConfig.without_teacher({**DEFAULTS["mtt"], **DEFAULTS["vdsd"]["dynamic"],
                                             "augment": DEFAULTS["distill"]["augment"]})

    def vdsd(dynamic_iterations: int):
        stages = StaticDynamicConfig(static=config, dynamic=replace(dynamic, iterations=dynamic_iterations),
                                     still="middle", dynamic_frames=2, dynamic_channels=2, downsample=2,
                                     integrator_width=4, integrator_lr=0.01)
        return match_trajectories(init, CLASSES, 1, buffer, model, config, matching, seed=0,
                                  device=torch.device("cpu"), mean=torch.full((3,), 0.5), std=torch.full((3,), 0.25),
                                  static_dynamic=stages)

    (few, memory), (more, _) = vdsd(1), vdsd(4)
    # one dynamic step from a zero-initialised output layer leaves the stills almost still; more steps add motion
    still_motion = abs(few.clips[:, 1:].astype(int) - few.clips[:, :-1]).mean()
    learnt_motion = abs(more.clips[:, 1:].astype(int) - more.clips[:, :-1]).mean()
    assert learnt_motion > still_motion
    assert {row["stage"] for row in few.curve} == {"static", "dynamic"}
    assert memory["memory_bytes"] == 4 * (CLASSES * 3 * 8 * 8 + CLASSES * 2 * 2 * 4 * 4
                                          + sum(p.numel() for p in Integrator(3, 2, 4, 4).parameters()))
