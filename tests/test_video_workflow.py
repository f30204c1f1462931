"""Real layouts through the real rules: each fixture is prepared by Snakemake's prepare_dataset rule, one runs the
whole chain to the tables, a bad root stops with a clear message, and every config/paper preset plans its jobs."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml
from snakemake.utils import update_config

import video_fixtures as fx
from conftest import REPO
from test_workflow import TEST_CONFIG, planned_jobs

pytestmark = pytest.mark.e2e
SMALL_CLIP = {"frames": 4, "stride": 3, "resize": [40, 30], "crop": 24}
EXPECTED = {  # layout -> (classes, ok train, ok test, failed reasons)
    "ucf101": (fx.UCF_CLASSES, 6, 3, {"missing": 1, "unreadable": 1, "too short": 1}),
    "hmdb51": (fx.HMDB_CLASSES, 6, 3, {}),
    "kinetics400": (fx.K400_CLASSES, 5, 3, {"missing": 1}),
    "ssv2": (fx.SSV2_TEMPLATES, 6, 3, {}),
    "folder": (fx.FOLDER_CLASSES, 12, 3, {}),
}


def snakemake(workdir, overrides: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    extra = workdir / "dataset.yaml"
    extra.write_text(yaml.safe_dump(overrides))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "2", *args, "--configfile", str(TEST_CONFIG), str(extra)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("layout", list(EXPECTED))
def test_each_layout_is_prepared_by_the_rule(tmp_path, layout):
    getattr(fx, f"make_{layout}")(tmp_path / "raw")
    config = {"dataset": {"name": f"fx_{layout}", "layout": layout, "root": str(tmp_path / "raw"),
                          "clip": SMALL_CLIP}}
    if layout != "folder":  # a few fixture classes, not the benchmark's 101/51/400/174: say which we have
        config["dataset"]["classes"] = EXPECTED[layout][0]
    run = snakemake(tmp_path, config, "prepared")
    assert run.returncode == 0, run.stderr[-3000:]
    prepared = next((tmp_path / "results" / f"fx_{layout}").glob("prepared-*"))
    classes, n_train, n_test, failed = EXPECTED[layout]
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["classes"] == classes and meta["clip_shape"] == [4, 3, 24, 24]
    assert meta["counts"] == {"train": n_train, "test": n_test} and meta["dataset"] == f"fx_{layout}"
    assert {k: v for k, v in meta["failed"].items() if k != "total"} == failed
    manifest = pd.read_csv(prepared / "manifest.csv", keep_default_na=False)
    assert (manifest["class_name"] == [classes[label] for label in manifest["label"]]).all()
    log = (tmp_path / "logs" / f"fx_{layout}" / "prepare_dataset" / f"{prepared.name}.log").read_text()
    assert f"{n_train + n_test} ok, {sum(failed.values())} failed" in log


def test_a_folder_dataset_runs_the_whole_chain_to_the_tables(tmp_path):
    fx.make_folder(tmp_path / "raw", per_class=5)
    config = {"dataset": {"name": "own", "layout": "folder", "root": str(tmp_path / "raw"), "clip": SMALL_CLIP},
              "experiment": {"ipcs": [1], "seeds": [0], "augmentations": ["none"], "ablations": []}}
    run = snakemake(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "results" / "own" / "runs" / "main.csv")
    methods = {"random_real", "herding", "kcenter", "dm", "mtt", "vdsd", "sre2l", "tsgf", "full"}
    assert set(runs["method"]) == methods and runs["accuracy"].between(0, 1).all()
    assert set(json.loads(runs["per_class_accuracy"][0])) == set(fx.FOLDER_CLASSES)
    assert (tmp_path / "results" / "own" / "tables" / "main.md").read_text().count("Full data") >= 1


def test_a_missing_root_stops_the_rule_with_the_path_and_layout(tmp_path):
    config = {"dataset": {"name": "bad", "layout": "ucf101", "root": str(tmp_path / "nowhere")}}
    run = snakemake(tmp_path, config, "prepared")
    assert run.returncode != 0
    log = next((tmp_path / "logs" / "bad" / "prepare_dataset").glob("prepared-*.log")).read_text()
    assert f"tsgf prepare_dataset: error: dataset.root {tmp_path / 'nowhere'}: does not exist" in log
    assert "Traceback" not in log and "ucfTrainTestlist" in log


def test_a_real_layout_without_root_is_a_config_error(tmp_path):
    run = snakemake(tmp_path, {"dataset": {"layout": "hmdb51"}}, "-n")
    assert run.returncode != 0
    assert "config key 'dataset.root' is required for dataset.layout 'hmdb51'" in run.stdout + run.stderr


PROTOCOL = REPO / "config" / "paper" / "protocol.yaml"
PRESETS = sorted(p for p in (REPO / "config" / "paper").glob("*.yaml") if p != PROTOCOL)
CLIP_SHAPES = {"miniucf": (16, 3, 112, 112), "hmdb51": (16, 3, 112, 112), "hmdb51_official": (16, 3, 112, 112),
               "kinetics400": (8, 3, 64, 64), "ssv2": (8, 3, 64, 64)}
DISTILL_JOBS_PER_SEED = {"kinetics400": 4 * 5 + 4, "ssv2": 2 * 5 + 2}  # class groups x (IPC 5 + IPC 1)


def test_every_dataset_has_a_paper_preset():
    assert [p.stem for p in PRESETS] == sorted(CLIP_SHAPES)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_paper_preset_dry_run_plans_the_protocol(tmp_path, preset):
    """The roots do not exist here: a dry run plans every job of the paper's protocol without touching data, first
    as shipped (main experiment and ablations), then the main experiment alone, whose jobs are counted."""
    def dry_run(*extra):
        command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                   "--cores", "2", "--configfile", str(PROTOCOL), str(preset), *extra, "-n"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        return planned_jobs(run.stdout)

    shipped = yaml.safe_load(PROTOCOL.read_text())["experiment"]["ablations"]
    jobs = dry_run()
    assert jobs["aggregate_runs"] == 1 + len(shipped)
    assert jobs["prepare_dataset"] == jobs["train_teacher"] == 2  # the other clip length of the frames sweep
    main_only = tmp_path / "main_only.yaml"
    main_only.write_text("experiment: {ablations: [], scaling: {ipcs: []}}\n")  # no cost-scaling sets either
    jobs = dry_run(str(main_only))
    seeds, methods, labels = 3, 8, 2  # hard and soft labels
    assert jobs["prepare_dataset"] == 1 and jobs["train_teacher"] == 1 and jobs["teacher_features"] == 1
    assert jobs["order_blind_probe"] == 1
    # one job per cell (a set under one evaluation: all its seeds), and one for the full-data students
    assert jobs["evaluate_set"] == methods * labels * 2 * 2 and jobs["evaluate_full_data"] == 1
    assert jobs["select_coreset"] == jobs["distribution_matching"] * 2 == 2 * 2 * seeds
    assert jobs["merge_distilled"] == 2 * 2 * seeds
    # MTT and VDSD at each IPC and seed, matching one buffer of 100 experts trained 10 to a job (the published budget)
    assert jobs["match_trajectories"] == 2 * 2 * seeds and jobs["expert_trajectories"] == 100 // 10
    assert jobs["distill"] == 2 * seeds * DISTILL_JOBS_PER_SEED.get(preset.stem, 5 + 1)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_paper_preset_networks_fit_its_clips(preset):
    from tsgf.datasets.layouts import expected_num_classes
    from tsgf.models import NetworkConfig, build_network, count_parameters

    from conftest import SCHEMA
    from tsgf.config import validate_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())  # the Snakefile's, merged under both
    for layer in (PROTOCOL, preset):
        update_config(config, yaml.safe_load(layer.read_text()))
    config = validate_config(config, SCHEMA)
    classes, shape = expected_num_classes(config["dataset"]), CLIP_SHAPES[preset.stem]
    for role in ("student", "teacher"):
        network = build_network(NetworkConfig.from_dict(config[role]["network"]), classes, shape,
                                batchnorm=role == "teacher")
        assert network(torch.zeros(2, 3, *shape[:1], *shape[2:])).shape == (2, classes)
    if preset.stem == "miniucf":
        assert count_parameters(build_network(NetworkConfig.from_dict(config["student"]["network"]), 50,
                                              shape)) == 3_647_666


def test_the_synthesis_tuning_config_plans_validation_runs_only(tmp_path):
    """config/tuning/synthesis.yaml, layered on the default config as its header says: one teacher on the train
    split minus validation, and every student of its sweeps counted (shared cells planned once)."""
    tuning = REPO / "config" / "tuning" / "synthesis.yaml"
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
               "--cores", "2", "--configfile", str(REPO / "config" / "config.yaml"), str(tuning), "-n"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_jobs(run.stdout)
    assert yaml.safe_load(tuning.read_text())["holdout"] == "val"
    assert jobs["train_teacher"] == 1 and "evaluate_full_data" not in jobs and "order_blind_probe" not in jobs
    # main 1; DM 2 Adam + 3 SGD lrs + 2 lengths, and scaled or not at IPC 5; SRe2L and TSGF 4 Adam + 3 SGD lrs +
    # 2 lengths, both label kinds; random real at 100 epochs, IPC 1 and 5, and 200 epochs at IPC 5 (its IPC 1 is
    # the main grid's), and at IPC 5 under soft labels; one job per cell, each training 3 seeds
    # and MTT at 3 pixel lrs and with the other expert lr (its default expert lr is the lr sweep's default cell)
    assert jobs["evaluate_set"] == 1 + (2 + 3 + 2 + 2) * 2 + (4 + 3 + 2) * 2 * 2 + 3 + 1 + 3 + 1
    assert jobs["match_trajectories"] == (3 + 1) * 3 and jobs["expert_trajectories"] == 2 * 2  # 2 buffers, 2 jobs
    assert jobs["distribution_matching"] == (2 + 3 + 2 + 2) * 3 and jobs["distill"] == (4 + 3 + 2) * 2 * 3
