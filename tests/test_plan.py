"""The experiment plan: ablation sweeps expand into addressed variants that reuse what they share with the main
experiment, and a bad sweep stops with a message naming the ablation and the key."""

import copy

import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, SCHEMA
from tsgf.config import validate_config
from tsgf.errors import ConfigError
from tsgf.plan import ablation_variants, build_plan

BASE = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
DEFAULT = validate_config(copy.deepcopy(BASE), SCHEMA)  # the default config, schema defaults filled in


def plan_of(sweeps: dict, **experiment):
    config = copy.deepcopy(BASE)
    config["ablations"] = sweeps
    config["experiment"].update(experiment)
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
    assert len(plan.datasets) == 1 and len(plan.teachers) == 1


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
        plan_of({"w": {"sweep": {"saliency.window": [1]}, "methods": ["mtt"]}})
