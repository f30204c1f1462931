"""The tiny end-to-end workflow, through Snakemake in a subprocess: it runs with its baselines and ablation sweeps,
its tables and figures hold sane numbers, the sweeps reuse the main results, a second run has nothing to do, each
knob reruns only what it reaches, and the HTML report renders in a browser."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import REPO
from tsgf.tables import ORDER_BLIND_ROW
from headless_browser import chromium_executable, page_with_script, rendered_dom, screenshot

pytestmark = pytest.mark.e2e
TEST_CONFIG = REPO / "config" / "test.yaml"


def snakemake(workdir, *args, configs=(TEST_CONFIG,), timeout=600):
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "2", "--configfile", *map(str, configs), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> job count."""
    block = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.MULTILINE)}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


METHODS = ["random_real", "herding", "kcenter", "dm", "mtt", "vdsd", "sre2l", "tsgf"]
ABLATIONS = ["frames", "floor", "labels", "cross_architecture"]  # the ones config/test.yaml runs


def test_tables_and_figures_hold_sane_numbers(finished_run):
    results = finished_run / "results" / "motion"
    runs = pd.read_csv(results / "runs" / "main.csv")
    # 8 methods x 2 augmentations x 2 IPCs x 2 seeds, plus 2 full-data students
    assert len(runs) == 8 * 2 * 2 * 2 + 2
    assert runs["accuracy"].between(0, 1).all()
    assert set(runs["method"]) == {*METHODS, "full"}
    distilled = runs[runs["method"] != "full"]
    assert (distilled["storage_bytes"] == distilled["ipc"] * 4 * (6 * 3 * 24 * 24 + 8)).all()
    assert (distilled["distill_seconds"] > 0).all()  # every set records what making it cost
    for row in runs["per_class_accuracy"]:
        assert set(json.loads(row)) == {"move_right", "move_left", "grow", "shrink"}
    main = pd.read_csv(results / "tables" / "main.csv")
    assert list(main.iloc[:8, 0]) == ["Random real", "Herding", "K-Center", "DM", "MTT", "VDSD", "SRe2L", "TSGF"]
    # what a set needs beforehand is counted beside its own cost: the teacher, or MTT's and VDSD's expert buffer
    needs = runs.groupby("method")["prerequisite"].first()
    assert needs["tsgf"] == needs["herding"] == "teacher"
    assert needs["mtt"] == needs["vdsd"] == "expert buffer (3 experts)"
    assert runs.loc[runs["method"].isin(["mtt", "vdsd"]), "prerequisite_seconds"].gt(0).all()
    cost = pd.read_csv(results / "tables" / "cost.csv")
    assert {"Time (s)", "Own peak memory (MB)", "Needs first", "Time with it (s)", "Peak with it (MB)"} <= set(cost)
    assert list(main.iloc[-3:, 0]) == ["Full data", "Teacher (full data, BatchNorm)", ORDER_BLIND_ROW]
    cell = re.fullmatch(r"(\d+\.\d) ± (\d+\.\d)", main.loc[0, "IPC 1"])
    assert cell and 0 <= float(cell.group(1)) <= 100
    tables = ["main", "ablation", "motion_classes", "motion_strength", "cost", *(f"ablation_{a}" for a in ABLATIONS)]
    for name in tables:
        for extension in ("csv", "md", "tex"):
            assert (results / "tables" / f"{name}.{extension}").stat().st_size > 0
    figures = ["accuracy_vs_ipc", "cost", "cost_scaling", "distilled_clips", "motion_flow", "motion_classes",
               *(f"ablation_{a}" for a in ABLATIONS)]
    for name in figures:
        assert (results / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the cost-scaling figure's numbers: every method at every scaling IPC, times scaled up from the short runs
    scaling = pd.read_csv(results / "figures" / "cost_scaling.csv")
    assert set(scaling["method"]) == set(METHODS) and scaling.groupby("method")["ipc"].nunique().gt(1).all()
    assert scaling.loc[scaling["method"] != "random_real", ["seconds", "own_peak_mb"]].gt(0).all().all()
    for method in METHODS:
        with Image.open(results / "figures" / "clips" / f"{method}.gif") as gif:
            assert gif.n_frames == 6  # the clips' frames (4 classes x IPC 2 tiled in each)
    teachers = [json.loads(path.read_text()) for path in results.glob("teacher-*/metrics.json")]
    assert len(teachers) == 2  # the main data and the 4-frame variant of the frames ablation
    assert all(0 <= t["accuracy"] <= 1 and t["chance"] == 0.25 for t in teachers)


def test_each_ablation_sweeps_its_variants(finished_run):
    runs = {name: pd.read_csv(finished_run / "results" / "motion" / "runs" / f"{name}.csv", dtype={"variant": str})
            for name in ABLATIONS}
    assert list(runs["frames"]["variant"].unique()) == ["4", "6"]
    assert runs["frames"].groupby("variant")["teacher_accuracy"].nunique().eq(1).all()
    assert set(runs["floor"]["variant"]) == {"0.2", "0.5"} and set(runs["floor"]["method"]) == {"tsgf"}
    labels = runs["labels"].set_index("labels", drop=False)
    assert set(labels.index) == {"hard", "soft (T = 4)"}
    # soft labels need the teacher while the student trains: its weights count as storage
    assert labels.loc["soft (T = 4)", "storage_bytes"] > labels.loc["hard", "storage_bytes"]
    assert list(runs["cross_architecture"]["student"]) == ["convnet3d (width 4)", "mc3_18"]
    table = pd.read_csv(finished_run / "results" / "motion" / "tables" / "ablation_floor.csv")
    assert list(table.iloc[:, 0]) == ["0.2 (default)", "0.5"]


def test_the_main_results_are_reused_by_the_ablations(finished_run):
    """A variant that keeps the main experiment's value reads the main experiment's result file."""
    main = set(pd.read_csv(finished_run / "results" / "motion" / "runs" / "main.csv")["train_set"].dropna())
    floor = pd.read_csv(finished_run / "results" / "motion" / "runs" / "floor.csv", dtype={"variant": str})
    assert set(floor.loc[floor["variant"] == "0.2", "train_set"]) <= main
    assert not set(floor.loc[floor["variant"] == "0.5", "train_set"]) & main


def test_distilled_sets_are_clip_sets_with_their_hash(finished_run):
    from tsgf.clipset import clips_sha256, load_clipset

    for meta_path in (finished_run / "results" / "motion" / "sets").glob("tsgf-*/ipc2/seed0/meta.json"):
        distilled = load_clipset(meta_path.parent)
        assert distilled.clips.shape == (8, 6, 3, 24, 24)
        assert distilled.meta["sha256"] == clips_sha256(distilled.clips)
        assert distilled.meta["wall_seconds"] > 0


def test_one_more_sweep_value_plans_exactly_its_own_jobs(finished_run, tmp_path):
    """Adding a value to an ablation is one line of config, and a dry run shows it expands to that variant's
    jobs only: its TSGF set (one shard, merged), its student, and the ablation's results and reports."""
    change = tmp_path / "floor_value.yaml"
    change.write_text("ablations:\n  floor:\n    sweep: {saliency.floor: [0.2, 0.5, 0.8]}\n")
    run = snakemake(finished_run, "-n", configs=(TEST_CONFIG, change))
    assert run.returncode == 0, run.stderr[-3000:]
    assert planned_jobs(run.stdout + run.stderr) == {"distill": 1, "merge_distilled": 1, "evaluate_set": 1,
                                                     "aggregate_runs": 1, "make_tables": 1, "make_figures": 1,
                                                     "all": 1}


def test_resharding_keeps_the_sets_addresses_and_upstream(finished_run, tmp_path):
    change = tmp_path / "one_job.yaml"
    change.write_text("distill:\n  ipc_per_job: 0\n")
    run = snakemake(finished_run, "-n", configs=(TEST_CONFIG, change))
    jobs = planned_jobs(run.stdout + run.stderr)
    # one shard per set now, same set directories: the main experiment's 8 SRe2L/TSGF sets, the frames and floor
    # ablations' own TSGF set each, and the cost-scaling figure's short SRe2L and TSGF sets at IPC 1 and 2
    assert jobs["distill"] == 10 + 4 and jobs["merge_distilled"] == 10 + 4
    # Snakemake cannot know the merged clips come out the same (they do: tests/test_distill.py), so the
    # distilled sets' students rerun, a cell (every seed) per job: main 8, one each in frames, floor and labels;
    # nothing upstream does
    assert jobs["evaluate_set"] == 11
    assert not {"train_teacher", "random_real", "distribution_matching", "select_coreset"} & set(jobs)


def test_a_second_run_has_nothing_to_do(finished_run):
    run = snakemake(finished_run, "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_an_evaluation_knob_reruns_only_evaluations_and_reports(finished_run, tmp_path):
    change = tmp_path / "more_epochs.yaml"
    change.write_text("evaluation:\n  train:\n    epochs: 4\n")
    run = snakemake(finished_run, "-n", configs=(TEST_CONFIG, change))
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_jobs(run.stdout + run.stderr)
    # a cell (every seed of a set) per job: main 32 (8 methods, 2 augmentations, 2 IPCs), frames 2, floor 1, labels 1;
    # the cross-architecture sweep sets its own epochs, so it keeps its results
    assert jobs.pop("evaluate_set") == 8 * 2 * 2 + 2 + 1 + 1
    assert jobs.pop("aggregate_runs") == 4
    assert set(jobs) == {"make_tables", "make_figures", "all"}


def test_a_saliency_knob_reruns_tsgf_but_not_sre2l(finished_run, tmp_path):
    change = tmp_path / "floor.yaml"
    change.write_text("saliency:\n  floor: 0.5\n")
    run = snakemake(finished_run, "-n", configs=(TEST_CONFIG, change))
    jobs = planned_jobs(run.stdout + run.stderr)
    # TSGF of the main experiment (2 IPCs x 2 seeds) and of the 4-frame variant, except the IPC 1, seed 0 set: the
    # floor ablation's 0.5 variant already made it (its 0.2 variant is now the finished run's main result); and the
    # cost-scaling figure's short TSGF sets at IPC 1 and 2
    assert jobs["merge_distilled"] == 4 + 1 - 1 + 2
    assert jobs["distill"] == 2 * (1 + 2) + 1 - 1 + (1 + 2)  # their shards: one IPC index each
    # a cell (every seed of a set) per job: TSGF's main cells (both augmentations, both IPCs), the TSGF_A cells of
    # the main experiment's other seven sets, the 4-frame variant's two and the cross-architecture ones, and the floor
    # ablation's 0.2 cell: its set is the finished run's main TSGF set, but that cell's file holds seeds 0 and 1 and
    # this variant asks for seed 0 alone (a cell file is addressed by the seeds the plan asks of it)
    assert jobs["evaluate_set"] == 2 * 2 + 7 * 2 + 2 + 2 + 1
    assert not {"train_teacher", "generate_motion_dataset", "distribution_matching", "select_coreset"} & set(jobs)


def test_bf16_gets_its_own_addresses_from_the_teacher_on(finished_run, tmp_path):
    change = tmp_path / "bf16.yaml"
    change.write_text("precision: bf16\n")
    jobs = planned_jobs(snakemake(finished_run, "-n", configs=(TEST_CONFIG, change)).stdout)
    # main and frames-ablation shards, and the cost-scaling figure's SRe2L and TSGF shards at IPC 1 and 2
    assert jobs["train_teacher"] == 2 and jobs["distill"] == 14 + 2 * 3 and jobs["evaluate_full_data"] == 1
    assert jobs["distribution_matching"] == 4 + 2 and jobs["select_coreset"] == 8  # the coresets follow the teacher
    # the experts follow the precision too, and every MTT and VDSD set with them (main 8, cost-scaling 4)
    assert jobs["expert_trajectories"] == 2 and jobs["match_trajectories"] == 8 + 4
    assert not {"generate_motion_dataset", "random_real"} & set(jobs)  # they never run a network


def test_execution_knobs_rerun_nothing(finished_run, tmp_path):
    change = tmp_path / "execution.yaml"
    change.write_text("checkpoint_seconds: 5\n")
    run = snakemake(finished_run, "-n", configs=(TEST_CONFIG, change))
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr


def test_the_default_profile_is_found_and_network_jobs_ask_for_a_gpu(finished_run):
    """Run from the repository root, Snakemake finds profiles/default by itself; asked for a GPU, every network
    job requests one (the profile's gpu limit then admits one at a time)."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "--directory", str(finished_run), "--cores", "2",
                          "--configfile", str(TEST_CONFIG), "--config", "device=cuda", "-n", "--forceall"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Using workflow specific profile profiles/default" in run.stdout + run.stderr
    requests = re.findall(r"rule (\w+):(?:(?!\nrule ).)*?resources: ([^\n]*)", run.stdout, re.DOTALL)
    gpu = {rule: "gpu=1" in resources for rule, resources in requests}
    assert gpu["train_teacher"] and gpu["distill"] and gpu["evaluate_set"] and gpu["evaluate_full_data"]
    assert not gpu.get("generate_motion_dataset")


REPORTED = {"Figures": ["accuracy_vs_ipc", "cost", "cost_scaling", "distilled_clips", "motion_flow", "motion_classes"],
            "Tables": ["main", "ablation", "motion_classes", "motion_strength", "cost", "all_cells"],
            "Ablations": [f"ablation_{name}{kind}" for name in ABLATIONS for kind in ("", " (figure)")],
            "Clips": METHODS, "Data": ["main", *ABLATIONS]}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Session-scoped so pytest sets it up before the module's workflow run: without a browser the test is skipped
    (or failed, under TSGF_REQUIRE_BROWSER=1) before the run and the report build, not after them."""
    return chromium_executable()


def test_the_html_report_renders_in_a_browser(chromium, finished_run, tmp_path):
    """`snakemake --report` builds offline, and a real browser shows its categories, items and a figure."""
    report = finished_run / "report.html"
    run = snakemake(finished_run, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    home = rendered_dom(report)
    assert "temporal saliency filter" in home  # workflow/report/workflow.rst, rendered
    for category, items in REPORTED.items():
        assert f">{category}<" in home
        page = page_with_script(report, f"app.showCategory({category!r});", tmp_path / f"{category}.html")
        listing = rendered_dom(page)
        assert all(f">{item}<" in listing for item in items), (category, items)
    # Open the motion figure the way a reader does: its category, then the eye button on its row.
    page = page_with_script(report, "app.showCategory('Figures'); setTimeout(() => [...document.querySelectorAll("
                            "'tr')].find(row => row.textContent.includes('motion_flow')).querySelector('a').click(),"
                            " 100);", tmp_path / "motion_flow.html")
    assert "filename=motion_flow.png;base64," in rendered_dom(page).split("<img", 2)[-1][:200]
    shot = screenshot(page, tmp_path / "report_motion_flow.png")
    print(f"report screenshot: {shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1000, 1400) and shot.stat().st_size > 50_000
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # a picture, not a blank
