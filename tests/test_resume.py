"""Checkpoint and resume: a real `python -m tsgf` stage is SIGKILLed mid-run (after a snapshot exists), run
again with the same command, and its outputs equal an uninterrupted run's bit for bit (CPU)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SCHEMA
from tsgf.checkpoint import Checkpoint
from tsgf.cli import main
from tsgf.clipset import load_clipset
from tsgf.config import validate_config
from tsgf.models import NetworkConfig, build_network, save_network
from tsgf.training import ClipSource, train_classifier
from schema_configs import DEFAULTS, network_config, train_config

# the schema fills in the dataset keys not named here
DATASET = validate_config({"dataset": {"motion": {"classes": ["move_right", "move_left", "grow"], "frames": 6,
                                                  "size": 16, "train_per_class": 8, "test_per_class": 2}}},
                          SCHEMA)["dataset"]
NETWORK = {"arch": "convnet3d", "width": 4, "depth": 2, "kernel": [3, 3, 3], "spatial_strides": [2, 1],
           "dropout": 0.5}  # dropout: the global random stream must be restored too
TRAIN = {**DEFAULTS["evaluation"]["train"], "epochs": 40, "lr": 0.01, "batch_size": 8, "test_passes": 1}
SALIENCY = DEFAULTS["saliency"]
DISTILL = {"iterations": 40, "optimiser": "adam", "lr": 0.1, "betas": [0.5, 0.9], "momentum": 0.5,
           "bn_weight": 0.01, "first_bn_multiplier": 10.0, "classes_per_batch": 0, "ipc_per_job": 0, "init": "real",
           "log_every": 5,
           "augment": {"crop_scale": [0.7, 1.0], "flip": True, "max_roll": 0.1},
           "tsgf_o": {"enabled": True, "apply_to": "update", "recompute_every": 3}, "saliency": SALIENCY,
           "holdout": "test", "val_fraction": 0.2}
EVALUATE = {"network": NETWORK, "train": TRAIN, "holdout": "test", "val_fraction": 0.2, "saliency": SALIENCY,
            "tsgf_a": {"crop_scale": [0.6, 1.0], "flip": True, "erase_prob": 0.5, "erase_area": [0.05, 0.2],
                       "guided": True}, "labels": {"kind": "hard", "temperature": 4.0}}


def tsgf(*args: str) -> list[str]:
    return [sys.executable, "-m", "tsgf", *args, "--device", "cpu", "--threads", "1"]


def run(command: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A tiny prepared dataset, a BatchNorm teacher (random weights are enough to distil against) and a random-real
    set to train students on; made in this process, as none of these stages touches torch's global settings."""
    root = tmp_path_factory.mktemp("resume")
    assert main(["generate_motion_dataset", "--params", json.dumps(DATASET), "--out", str(root / "data")]) == 0
    data = load_clipset(root / "data")
    torch.manual_seed(0)
    teacher = build_network(NetworkConfig.from_dict(NETWORK), data.num_classes, data.clip_shape, batchnorm=True)
    (root / "teacher").mkdir()
    save_network(root / "teacher" / "model.pt", teacher, NETWORK, data.num_classes, data.clip_shape, True)
    assert main(["random_real", "--data", str(root / "data"), "--ipc", "2", "--seed", "0", "--params",
                 json.dumps({"holdout": "test", "val_fraction": 0.2}), "--out", str(root / "set")]) == 0
    return root


def killed_after(command: list[str], checkpoint: Path, progressed) -> dict:
    """Start `command`, SIGKILL it once its snapshot shows `progressed(state)`, and return that snapshot's state."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists():
                state = torch.load(checkpoint, weights_only=True)["state"]
                if progressed(state):
                    process.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.01)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the stage ended on its own before the kill:\n{stderr[-2000:]}"
    return torch.load(checkpoint, weights_only=True)["state"]


def resumed(command: list[str], checkpoint: Path, progressed) -> subprocess.CompletedProcess:
    """Kill `command` mid-run, run it again, check it resumed and cleaned up; returns the second run."""
    command = [*command, "--checkpoint", str(checkpoint), "--checkpoint-every", "0"]
    killed_after(command, checkpoint, progressed)
    second = run(command)
    assert "resuming from checkpoint" in second.stderr
    assert not checkpoint.exists() and not checkpoint.with_name(checkpoint.name + ".tmp").exists()
    return second


def teacher_weights(directory: Path) -> dict[str, torch.Tensor]:
    return torch.load(directory / "model.pt", weights_only=True)["state_dict"]


def test_a_killed_teacher_resumes_to_the_same_weights(workspace, tmp_path):
    params = json.dumps({"network": NETWORK, "train": TRAIN, "seed": 3, "holdout": "test", "val_fraction": 0.2})

    def command(out: Path) -> list[str]:
        return tsgf("train_teacher", "--data", str(workspace / "data"), "--params", params, "--out", str(out))

    run(command(tmp_path / "reference"))
    checkpoint = tmp_path / "resumed" / "model.pt.ckpt"
    second = resumed(command(tmp_path / "resumed"), checkpoint, lambda state: 5 <= state["epoch"] < 30)
    assert "after epoch" in second.stderr
    reference, result = teacher_weights(tmp_path / "reference"), teacher_weights(tmp_path / "resumed")
    assert all(torch.equal(reference[name], result[name]) for name in reference)
    assert (tmp_path / "reference" / "curve.csv").read_text() == (tmp_path / "resumed" / "curve.csv").read_text()
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("reference", "resumed")]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"]


def test_a_killed_distillation_resumes_to_the_same_clips(workspace, tmp_path):
    def command(out: Path) -> list[str]:
        return tsgf("distill", "--data", str(workspace / "data"), "--teacher", str(workspace / "teacher"),
                    "--ipc", "2", "--seed", "1", "--params", json.dumps(DISTILL), "--out", str(out))

    run(command(tmp_path / "reference.npz"))
    # killed during the second batch (IPC index 2), so both a finished batch and one in progress are restored
    resumed(command(tmp_path / "resumed.npz"), tmp_path / "resumed.ckpt",
            lambda state: len(state["finished"]) == 1 and 5 <= state["batch"]["iteration"] < 30)
    reference, result = np.load(tmp_path / "reference.npz"), np.load(tmp_path / "resumed.npz")
    for name in ("positions", "clips", "saliency", "curve"):
        assert np.array_equal(reference[name], result[name]), name
    assert float(result["seconds"]) > 0


def students(out: Path) -> dict[int, dict]:
    """The rows of a cell file, by seed."""
    return {row["seed"]: row for row in json.loads(out.read_text())["students"]}


SAME_STUDENT = ("accuracy", "pair_accuracy", "per_class_accuracy", "final_train_loss", "final_train_accuracy")


def test_a_killed_cell_resumes_its_student_in_progress_and_keeps_the_finished_one(workspace, tmp_path):
    def command(out: Path) -> list[str]:
        return tsgf("evaluate_set", "--data", str(workspace / "data"), "--train-sets", str(workspace / "set"),
                    str(workspace / "set"), "--seeds", "2", "5", "--method", "random_real", "--augmentation",
                    "tsgf_a", "--params", json.dumps(EVALUATE), "--out", str(out))

    run(command(tmp_path / "reference.json"))
    job = tmp_path / "resumed.ckpt"
    second_student = tmp_path / "resumed.ckpt.seed5"  # the snapshots of the student in progress, beside the job's
    resuming = [*command(tmp_path / "resumed.json"), "--checkpoint", str(job), "--checkpoint-every", "0"]
    # killed while the second student trains: the first is finished (in the job's snapshot), the second resumes
    killed_after(resuming, second_student, lambda state: 5 <= state["epoch"] < 30)
    assert list(torch.load(job, weights_only=True)["state"]["finished"]) == [2]
    second = run(resuming)
    assert "resuming from checkpoint" in second.stderr
    assert "student on random_real (tsgf_a), seed 2" not in second.stderr
    assert not job.exists() and not second_student.exists()
    reference, result = students(tmp_path / "reference.json"), students(tmp_path / "resumed.json")
    assert list(result) == [2, 5]
    for seed in (2, 5):
        for key in SAME_STUDENT:
            assert reference[seed][key] == result[seed][key], (seed, key)


EXPERTS = {"train": {**TRAIN, "epochs": 30, "momentum": 0.0, "weight_decay": 0.0, "lr_milestones": []},
           "network": NETWORK, "augment": {"crop_scale": [0.7, 1.0], "flip": False}, "holdout": "test",
           "val_fraction": 0.2}


def test_a_killed_expert_job_resumes_its_expert_in_progress_to_the_same_trajectories(workspace, tmp_path):
    def command(out: Path, first: int, last: int) -> list[str]:
        return tsgf("expert_trajectories", "--data", str(workspace / "data"), "--first", str(first), "--last",
                    str(last), "--params", json.dumps(EXPERTS), "--out", str(out))

    run(command(tmp_path / "reference.pt", 0, 1))
    job = tmp_path / "resumed.pt.ckpt"
    second_expert = tmp_path / "resumed.pt.ckpt.expert1"
    resuming = [*command(tmp_path / "resumed.pt", 0, 1), "--checkpoint", str(job), "--checkpoint-every", "0"]
    # killed while the second expert trains: its recorded epochs so far are in its own snapshot
    state = killed_after(resuming, second_expert, lambda state: 5 <= state["epoch"] < 20)
    assert len(state["trajectory"]) == state["epoch"] + 1
    second = run(resuming)
    assert "resuming from checkpoint" in second.stderr and "expert 0:" not in second.stderr
    assert not job.exists() and not second_expert.exists()
    reference, result = (torch.load(tmp_path / name, weights_only=True) for name in ("reference.pt", "resumed.pt"))
    assert reference["trajectories"].shape == (2, 31, reference["num_parameters"])
    assert torch.equal(reference["trajectories"], result["trajectories"])
    # an expert is the same whichever job trains it: expert 1 alone equals the second of the pair
    run(command(tmp_path / "alone.pt", 1, 1))
    assert torch.equal(torch.load(tmp_path / "alone.pt", weights_only=True)["trajectories"][0],
                       reference["trajectories"][1])


def test_a_killed_vdsd_set_resumes_in_its_dynamic_stage_to_the_same_clips(workspace, tmp_path):
    experts = tmp_path / "experts0-1.pt"
    run(tsgf("expert_trajectories", "--data", str(workspace / "data"), "--first", "0", "--last", "1", "--params",
             json.dumps({**EXPERTS, "train": {**EXPERTS["train"], "epochs": 4}}), "--out", str(experts)))
    params = {**DEFAULTS["mtt"], "iterations": 3, "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 2,
              "optimiser": "adam", "lr": 0.01, "network": NETWORK, "augment": DISTILL["augment"], "experts": 2,
              "holdout": "test", "val_fraction": 0.2,
              "vdsd": {**DEFAULTS["vdsd"], "static_iterations": 3, "dynamic": {**DEFAULTS["vdsd"]["dynamic"],
                                                                               "iterations": 40}}}

    def command(out: Path) -> list[str]:
        return tsgf("match_trajectories", "--method", "vdsd", "--data", str(workspace / "data"), "--ipc", "2",
                    "--seed", "1", "--params", json.dumps(params), "--out", str(out), str(experts))

    run(command(tmp_path / "reference"))
    resumed([*command(tmp_path / "resumed")], tmp_path / "resumed.ckpt",
            lambda state: state["stage"] == 1 and 5 <= state["batch"]["iteration"] < 30)
    reference, result = load_clipset(tmp_path / "reference"), load_clipset(tmp_path / "resumed")
    assert np.array_equal(reference.clips, result.clips)
    assert (tmp_path / "reference" / "loss.csv").read_text() == (tmp_path / "resumed" / "loss.csv").read_text()


def test_a_students_result_does_not_depend_on_the_students_sharing_its_job(workspace, tmp_path):
    """Seed 3 alone and as the fourth of five students in one job: the same student to the last digit (CPU)."""
    def cell(seeds: list[int], out: Path) -> dict[int, dict]:
        run(tsgf("evaluate_set", "--data", str(workspace / "data"), "--train-sets",
                 *[str(workspace / "set")] * len(seeds), "--seeds", *map(str, seeds), "--method", "random_real",
                 "--augmentation", "none", "--params", json.dumps({**EVALUATE, "augment": {"crop_scale": [0.5, 1.0],
                                                                                           "flip": False}}),
                 "--out", str(out)))
        return students(out)

    alone, shared = cell([3], tmp_path / "alone.json"), cell([0, 1, 2, 3, 4], tmp_path / "shared.json")
    assert list(shared) == [0, 1, 2, 3, 4]
    for key in SAME_STUDENT:
        assert alone[3][key] == shared[3][key], key
    assert len({shared[seed]["final_train_loss"] for seed in shared}) == 5  # and the seeds do differ


def test_a_student_without_tsgf_a_trains_on_the_clip_consistent_crop(workspace, tmp_path):
    """`evaluation.augment` reaches the students without TSGF_A: [1, 1] (the schema's default, no augmentation)
    and a real crop train different students from the same seed."""
    def result(crop_scale: list[float]) -> dict:
        out = tmp_path / f"crop{crop_scale[0]}.json"
        params = {**EVALUATE, "augment": {"crop_scale": crop_scale, "flip": False}}
        run(tsgf("evaluate_set", "--data", str(workspace / "data"), "--train-sets", str(workspace / "set"),
                 "--method", "random_real", "--augmentation", "none", "--seeds", "0", "--params", json.dumps(params),
                 "--out", str(out)))
        return students(out)[0]

    plain, cropped = result([1.0, 1.0]), result([0.5, 1.0])
    assert plain["final_train_loss"] != cropped["final_train_loss"]
    assert plain["final_train_loss"] == result([1.0, 1.0])["final_train_loss"]  # and not by chance: it is seeded


def test_the_full_data_student_trains_on_the_same_crop(workspace, tmp_path):
    def result(crop_scale: list[float]) -> dict:
        out = tmp_path / f"full{crop_scale[0]}.json"
        params = {"network": NETWORK, "full_data_train": {**TRAIN, "epochs": 3}, "holdout": "test",
                  "val_fraction": 0.2, "augment": {"crop_scale": crop_scale, "flip": False}}
        run(tsgf("evaluate_full_data", "--data", str(workspace / "data"), "--seeds", "0", "--params",
                 json.dumps(params), "--out", str(out)))
        return students(out)[0]

    plain, cropped = result([1.0, 1.0]), result([0.5, 1.0])
    assert plain["final_train_loss"] != cropped["final_train_loss"]
    assert plain["final_train_loss"] == result([1.0, 1.0])["final_train_loss"]


def test_a_compute_stage_logs_its_start_up_and_a_light_stage_does_not(workspace, tmp_path):
    started = time.monotonic()
    student = run(tsgf("evaluate_set", "--data", str(workspace / "data"), "--train-sets", str(workspace / "set"),
                       "--method", "random_real", "--augmentation", "none", "--seeds", "0", "--params",
                       json.dumps({**EVALUATE, "augment": {"crop_scale": [1.0, 1.0], "flip": False}}), "--out",
                       str(tmp_path / "student.json")))
    wall = time.monotonic() - started
    seconds = [float(s) for s in re.findall(r"start-up to first step: ([0-9.]+) s", student.stderr)]
    assert len(seconds) == 1 and 0.1 < seconds[0] < wall, student.stderr[-2000:]  # torch alone takes longer
    selection = subprocess.run([sys.executable, "-m", "tsgf", "random_real", "--data", str(workspace / "data"),
                                "--ipc", "1", "--seed", "0", "--params",
                                json.dumps({"holdout": "test", "val_fraction": 0.2}), "--out", str(tmp_path / "set")],
                               capture_output=True, text=True, timeout=120)
    assert selection.returncode == 0 and "start-up" not in selection.stderr, selection.stderr[-2000:]


def separable_source() -> ClipSource:
    generator = torch.Generator().manual_seed(0)
    clips = (torch.rand(8, 4, 3, 8, 8, generator=generator) * 255).to(torch.uint8).numpy()
    return ClipSource(clips, np.arange(8), np.arange(8) % 2, torch.zeros(3), torch.ones(3))


def student() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(network_config(width=2, depth=1, kernel=(1, 3, 3), spatial_strides=(1,), dropout=0.0), 2,
                         (4, 3, 8, 8))


def test_a_snapshot_of_another_run_is_not_resumed(tmp_path):
    path = tmp_path / "run.ckpt"
    config = train_config(epochs=3, batch_size=4)
    first = Checkpoint(path, 0.0, {"params": "a"})
    train_classifier(student(), separable_source(), config, 0, torch.device("cpu"), 4, checkpoint=first)
    assert first.saves == 3 and path.exists()
    assert Checkpoint(path, 0.0, {"params": "b"}).load() is None
    assert Checkpoint(path, 0.0, {"params": "a"}).load()["epoch"] == 3


def test_an_unreadable_snapshot_means_starting_over(tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(b"truncated")
    assert Checkpoint(path, 0.0, {}).load() is None


def test_snapshots_wait_for_their_interval(tmp_path):
    checkpoint = Checkpoint(tmp_path / "run.ckpt", 3600.0, {})
    train_classifier(student(), separable_source(), train_config(epochs=3, batch_size=4), 0, torch.device("cpu"), 4,
                     checkpoint=checkpoint)
    assert checkpoint.saves == 0 and not (tmp_path / "run.ckpt").exists()
