"""The experiment plan: ablation sweeps expand into addressed variants that reuse what they share with the main
experiment, and a bad sweep stops with a message naming the ablation and the key."""

import copy

import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, SCHEMA
from tsgf.config import validate_config
from tsgf.errors import ConfigError
from tsgf.plan import ITERATION_KEYS, ablation_variants, build_plan

BASE = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
DEFAULT = validate_config(copy.deepcopy(BASE), SCHEMA)  # the default config, schema defaults filled in


def plan_of(sweeps: dict, **experiment):
    """The default config's plan with these sweeps and `experiment` keys (no cost-scaling sets unless asked)."""
    config = copy.deepcopy(BASE)
    config["ablations"] = sweeps
    config["experiment"].update({"scaling": {"ipcs": []}, **experiment})
    return build_plan(validate_config(config, SCHEMA), SCHEMA)


def test_the_shipped_configs_plan_every_ablation():
    for name in ("config.yaml", "test.yaml"):
        config = copy.deepcopy(BASE)
        if name == "test.yaml":  # Snakemake merges the test overrides over the default config key by key
            update_config(config, yaml.safe_load((REPO / "config" / name).read_text()))
        plan = build_plan(validate_config(config, SCHEMA), SCHEMA)
        chosen = config["experiment"]["ablations"]
        assert list(plan.runs) == ["main"] + (list(config["ablations"]) if chosen == "all" else chosen)


def test_main_experiment_grid_and_distinct_addresses():
    plan = plan_of({})
    methods, labels, ipcs, seeds = (DEFAULT["experiment"][key] for key in ("methods", "labels", "ipcs", "seeds"))
    main = plan.runs["main"][0]["results"]
    assert len(main) == len(methods) * len(labels) * 2 * len(ipcs) * len(seeds) + len(seeds)
    # one cell file (one job) per training set and evaluation, holding every seed; the full-data students one more
    assert len(plan.result_files("main")) == len(methods) * len(labels) * 2 * len(ipcs) + 1
    assert all(path.endswith("/seeds0-1-2.json") for path, _ in main)
    assert [seed for _, seed in main[:3]] == seeds
    assert sorted(entry["method"] for entry in plan.sets.values()) == sorted(methods)
    assert len(plan.datasets) == 1 and len(plan.teachers) == 1 and len(plan.experts) == 1
    # the cost-scaling figure adds a short set per synthesis method (fewer steps: another address)
    scaled = plan_of({}, scaling={"ipcs": [1], "iterations": 2})
    synthesised = [m for m in methods if m in ITERATION_KEYS]
    assert sorted(entry["method"] for entry in scaled.sets.values()) == sorted(methods + synthesised)


def test_a_variant_equal_to_the_base_reuses_the_main_results():
    plan = plan_of({"floor": {"sweep": {"saliency.floor": [0.2, 0.5]}, "seeds": [0]}})
    default, changed = plan.runs["floor"]
    assert default["default"] and not changed["default"]
    assert {path for path, _ in default["results"]} <= set(plan.result_files("main"))
    assert not {path for path, _ in changed["results"]} & set(plan.result_files("main"))
    # the variant's seed 0 is read from the main experiment's cell, which trains every seed the plan asks for
    assert {(path.rsplit("/", 1)[1], seed) for path, seed in default["results"]} == {("seeds0-1-2.json", 0)}
    assert {(path.rsplit("/", 1)[1], seed) for path, seed in changed["results"]} == {("seeds0.json", 0)}
    # the floor reaches TSGF only: SRe2L keeps one address, TSGF gets a second
    assert len(plan.sets_of("sre2l")) == 1 and len(plan.sets_of("tsgf")) == 2


def test_soft_labels_reuse_the_sets_and_take_the_teacher_and_a_data_sweep_makes_its_own_teacher():
    plan = plan_of({"temperature": {"sweep": {"evaluation.labels.temperature": [4.0]}, "methods": ["sre2l"],
                                    "augmentations": ["none"], "labels": ["hard", "soft"], "seeds": [0]},
                    "frames": {"sweep": {"dataset.motion.frames": [4, 8]}, "methods": ["random_real"]}})
    (variant,) = plan.runs["temperature"]
    assert variant["sets"] == plan.runs["main"][0]["sets"]
    (hard_result, _), (soft_result, _) = variant["results"]  # one IPC, one seed, one augmentation: hard first
    assert hard_result in plan.result_files("main")  # the main experiment's hard-label students
    soft_evaluation = plan.evaluations[soft_result.split("/")[3]]
    assert soft_evaluation["params"]["labels"]["kind"] == "soft"
    assert soft_evaluation["teacher"] == variant["teacher"]  # soft labels come from the teacher
    four, eight = plan.runs["frames"]
    assert four["prepared"] != eight["prepared"] == plan.runs["main"][0]["prepared"]
    assert four["teacher"] != eight["teacher"] and len(plan.teachers) == 2


def test_several_keys_sweep_their_product_and_mappings_merge_into_their_section():
    variants = ablation_variants("grid", {"sweep": {"saliency.window": [0, 1], "saliency.floor": [0.0, 0.5]},
                                          "set": {"distill.iterations": 50}})
    assert [label for label, _ in variants] == [
        "saliency.window=0, saliency.floor=0.0", "saliency.window=0, saliency.floor=0.5",
        "saliency.window=1, saliency.floor=0.0", "saliency.window=1, saliency.floor=0.5"]
    assert all(overrides["distill.iterations"] == 50 for _, overrides in variants)
    plan = plan_of({"arch": {"sweep": {"student.network": [{"arch": "r3d_18"}]}, "methods": ["random_real"]}})
    evaluation = plan.evaluations[plan.runs["arch"][0]["results"][0][0].split("/")[3]]
    assert evaluation["params"]["network"] == {**DEFAULT["student"]["network"], "arch": "r3d_18"}
    assert plan.runs["arch"][0]["label"] == "arch=r3d_18"


@pytest.mark.parametrize("ablations, experiment, message", [
    ({"w": {"sweep": {"saliency.windw": [1]}}}, {},
     r"ablations\.w.*'saliency\.windw' is not a config key; known keys in that section: alignment"),
    ({"w": {"sweep": {"salience.window": [1]}}}, {}, r"'salience\.window' is not a config key"),
    ({"w": {"sweep": {"saliency.window": [9]}}}, {},
     r"'ablations\.w', variant 9: config key 'saliency\.window' \(k = 9\) must be smaller"),
    ({"w": {"sweep": {"saliency.weights": ["gauss"]}}}, {}, r"variant gauss.*must be one of"),
    ({"w": {"sweep": {"threads": [2]}}}, {}, r"'threads' cannot be swept"),
    ({"w": {"sweep": {"saliency.window": [1]}}}, {"ablations": ["x"]},
     r"'experiment\.ablations' names 'x', not in 'ablations' \(known: w\)"),
])
def test_a_bad_sweep_names_the_ablation_and_key(ablations, experiment, message):
    with pytest.raises(ConfigError, match=message):
        plan_of(ablations, **experiment)


def test_a_malformed_ablation_is_a_schema_error():
    with pytest.raises(ConfigError, match=r"'ablations\.w\.methods\[0\]' must be one of"):
        plan_of({"w": {"sweep": {"saliency.window": [1]}, "methods": ["frepo"]}})


def test_mtt_and_vdsd_match_one_expert_buffer_whose_files_name_their_experts():
    plan = plan_of({})
    mtt, vdsd = (plan.runs["main"][0]["sets"][method] for method in ("mtt", "vdsd"))
    assert plan.sets[mtt]["experts"] == plan.sets[vdsd]["experts"] == next(iter(plan.experts))
    count, per_job = DEFAULT["experts"]["count"], DEFAULT["experts"]["per_job"]
    files = plan.expert_files(mtt)
    assert len(files) == -(-count // per_job) and files == plan.expert_files(vdsd)
    assert files[0].endswith(f"/experts0-{per_job - 1}.pt") and files[-1].endswith(f"-{count - 1}.pt")
    assert "vdsd" in plan.sets[vdsd]["params"] and "vdsd" not in plan.sets[mtt]["params"]


def test_a_matching_knob_reruns_mtt_and_vdsd_not_the_buffer_and_a_larger_buffer_keeps_its_files():
    plan = plan_of({"steps": {"sweep": {"mtt.syn_steps": [2, 3]}, "methods": ["mtt", "vdsd"]},
                    "buffer": {"sweep": {"experts.count": [DEFAULT["experts"]["count"] + 2]}, "methods": ["mtt"]},
                    "expert_recipe": {"sweep": {"experts.train.lr": [0.123]}, "methods": ["mtt"]}})
    # the two syn_steps and the larger buffer share the main buffer; only another expert recipe trains another
    assert len(plan.experts) == 2
    steps = plan.runs["steps"]
    assert steps[0]["sets"]["mtt"] != steps[1]["sets"]["mtt"] and steps[0]["sets"]["vdsd"] != steps[1]["sets"]["vdsd"]
    assert steps[0]["sets"]["tsgf"] == steps[1]["sets"]["tsgf"] == plan.runs["main"][0]["sets"]["tsgf"]
    larger = plan.expert_files(plan.runs["buffer"][0]["sets"]["mtt"])
    assert set(plan.expert_files(plan.runs["main"][0]["sets"]["mtt"])) < set(larger)


def test_the_scaling_figure_runs_every_method_a_few_steps_at_each_ipc_and_scales_the_time():
    plan = plan_of({}, scaling={"ipcs": [1, 2, 10], "iterations": 2})
    points = {(point["method"], point["ipc"]): point for point in plan.scaling}
    assert set(points) == {(m, k) for m in DEFAULT["experiment"]["methods"] for k in (1, 2, 10)}
    main_sets = plan.runs["main"][0]["sets"]
    # selections as they are (the main experiment's sets where an IPC is shared); synthesis a short set of its own
    assert points["herding", 1]["set"] == plan.set_dir(main_sets["herding"], 1, 0)
    assert points["herding", 1]["time_factor"] == 1.0
    short = points["tsgf", 2]["set"].split("/")[-3]
    assert short != main_sets["tsgf"] and plan.sets[short]["params"]["iterations"] == 2
    assert points["tsgf", 2]["time_factor"] == DEFAULT["distill"]["iterations"] / 2
    vdsd = DEFAULT["vdsd"]
    assert points["vdsd", 10]["time_factor"] == (vdsd["static_iterations"] + vdsd["dynamic"]["iterations"]) / 4
    assert plan_of({}, scaling={"ipcs": []}).scaling == []
    assert DEFAULT["experiment"]["scaling"]["ipcs"] == [1, 2, 5, 10]  # the embedded default draws the figure
