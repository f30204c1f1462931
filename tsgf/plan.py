"""The experiment plan: every output a config asks for, addressed by the parameters that make it.

The main experiment and every ablation are expanded here, in plain Python the workflow (common.smk) and the tests
share. An ablation is a config entry, not a rule:

    ablations:
      smoothing_window:
        sweep: {saliency.window: [0, 1, 2, 3]}   # dotted config keys -> values (several keys: their product)
        methods: [tsgf]
        ipcs: [1]

Each sweep value is applied to the validated base config (a mapping value is merged into the section it names),
the result is validated again, and its outputs are addressed exactly like the main experiment's: a variant equal
to the base config reuses the main experiment's results, and one that only changes evaluation reuses the distilled
sets. Addresses are directory names carrying a hash of the stage's parameters and of everything upstream.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsgf.config import (AUGMENTATIONS, CORESET_METHODS, DISTILLED_METHODS, LABEL_KINDS, METHODS, config_sources,
                         stage_hash, validate_config)
from tsgf.datasets import dataset_params
from tsgf.datasets.layouts import expected_num_classes
from tsgf.errors import ConfigError
from tsgf.methods import TRAJECTORY_METHODS

MAIN = "main"
# the config keys that set how many optimisation steps each synthesis method takes (the cost-scaling figure runs a
# few and scales its time by the ratio)
ITERATION_KEYS = {"dm": ("dm.iterations",), "mtt": ("mtt.iterations",),
                  "vdsd": ("vdsd.static_iterations", "vdsd.dynamic.iterations"), "sre2l": ("distill.iterations",),
                  "tsgf": ("distill.iterations",)}
# keys an ablation may not sweep: how jobs run (not what they compute), the experiment grid itself (an ablation has
# its own), and the dataset's name (it names the results folder every variant shares)
UNSWEEPABLE = ("threads", "device", "precision", "checkpoint_seconds", "warm_start", "experiment", "ablations",
               "dataset.name")


@dataclass
class Plan:
    """Registries of every addressed stage (its name -> what makes it; names are directory names under `results`:
    prepared-*, teacher-*, experts-*, sets/<set>/..., eval/<evaluation>/..., eval/full-*) and the evaluation results
    each table needs. `runs[ablation]` lists its variants in order, each a dict: label, overrides, prepared, teacher
    and results ([file, seed] of each of its students). `scaling` lists the sets of the cost-scaling figure: method,
    ipc, set (its directory) and time_factor (configured / run optimisation steps).

    Students are trained a cell at a time: one job trains every seed the plan asks for of one training set under
    one evaluation (or of the full-data student), so a job pays start-up and data loading once for all of them.
    Its file, `<cell>/seeds<s1-s2-...>.json`, is addressed by the seeds it holds."""

    results: str
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    teachers: dict[str, dict[str, Any]] = field(default_factory=dict)
    experts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    full_evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scaling: list[dict[str, Any]] = field(default_factory=list)

    def path(self, name: str) -> str:
        """The directory of a prepared set or teacher."""
        return f"{self.results}/{name}"

    def set_dir(self, set_name: str, ipc: int | str, seed: int | str) -> str:
        return f"{self.results}/sets/{set_name}/ipc{ipc}/seed{seed}"

    def sets_of(self, *methods: str) -> list[str]:
        return [name for name, entry in self.sets.items() if entry["method"] in methods]

    def expert_files(self, set_name: str) -> list[str]:
        """The job files of the expert buffer an MTT or VDSD set matches: `experts{first}-{last}.pt`, `per_job`
        experts each, expert i seeded by i, so a larger buffer reuses the files of a smaller one."""
        entry = self.sets[set_name]
        count, per_job = entry["params"]["experts"], entry["experts_per_job"]
        return [f"{self.path(entry['experts'])}/experts{first}-{min(first + per_job, count) - 1}.pt"
                for first in range(0, count, per_job)]

    def result_files(self, ablation: str) -> list[str]:
        """The cell files an ablation's results are in, each once, in order."""
        return list(dict.fromkeys(path for variant in self.runs[ablation] for path, _ in variant["results"]))


def cell_file(cell: str, seeds: list[int] | set[int]) -> str:
    """The results file of a cell's students: `<cell>/seeds0-1-2.json`."""
    return f"{cell}/seeds{'-'.join(map(str, sorted(seeds)))}.json"


def cell_seeds(seeds_wildcard: str) -> list[int]:
    """The seeds a cell file's name holds ("0-1-2" -> [0, 1, 2])."""
    return [int(seed) for seed in seeds_wildcard.split("-")]


def _set_dotted(config: dict[str, Any], key: str, value: Any, where: str) -> None:
    """config[a][b][c] = value for key "a.b.c"; a mapping value is merged into an existing mapping."""
    *parents, last = key.split(".")
    node = config
    for depth, part in enumerate(parents):
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{where}: '{key}' is not a config key ('{'.'.join(parents[:depth + 1])}' is not a "
                              f"section); write sweep keys as dotted paths such as saliency.window")
        node = node[part]
    if last not in node:
        raise ConfigError(f"{where}: '{key}' is not a config key; known keys in that section: "
                          f"{', '.join(sorted(node))}")
    if isinstance(value, dict) and isinstance(node[last], dict):
        node[last] = {**node[last], **copy.deepcopy(value)}
    else:
        node[last] = copy.deepcopy(value)


def _get_dotted(config: dict[str, Any], key: str) -> Any:
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def value_label(value: Any) -> str:
    """How a swept value reads in tables and legends: 0.01, gaussian, arch=r3d_18 width=32."""
    if isinstance(value, dict):
        return " ".join(f"{k}={value_label(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(value_label(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def ablation_variants(name: str, spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, overrides) of every variant: the product of the swept values, each with the fixed `set` keys."""
    where = f"config key 'ablations.{name}.sweep'"
    for key in spec["sweep"]:
        if any(key == bad or key.startswith(bad + ".") for bad in UNSWEEPABLE):
            raise ConfigError(f"{where}: '{key}' cannot be swept (execution, experiment grid or results folder); "
                              f"an ablation has its own methods, ipcs and seeds")
    keys = list(spec["sweep"])
    variants = []
    for values in itertools.product(*(spec["sweep"][key] for key in keys)):
        label = ", ".join(f"{key}={value_label(v)}" if len(keys) > 1 else value_label(v)
                          for key, v in zip(keys, values))
        variants.append((label, {**spec["set"], **dict(zip(keys, values))}))
    return variants


def synthesis_params(config: dict[str, Any], method: str) -> dict[str, Any]:
    """The distill stage's params for SRe2L or TSGF (without the split and precision keys). SRe2L is TSGF with the
    filter's weights fixed at 1: no filter knob in its params, so tuning the filter never reruns it."""
    distill = {k: v for k, v in config["distill"].items() if k != "tsgf_o"}
    if DISTILLED_METHODS[method]:
        return {**distill, "saliency": config["saliency"], "tsgf_o": {**config["distill"]["tsgf_o"], "enabled": True}}
    return {**distill, "tsgf_o": {"enabled": False}}


class _Planner:
    """Fills a Plan from validated configs; the same parameters always land on the same addresses."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.plan = Plan(results=f"results/{base['dataset']['name']}")
        self.cells: dict[str, set[int]] = {}  # cell -> every seed any grid asks of it

    def stages(self, config: dict[str, Any]) -> dict[str, Any]:
        """Register the prepared data, teacher, training sets and evaluations of one (variant) config."""
        split = {"holdout": config["holdout"], "val_fraction": config["val_fraction"]}
        # bf16 changes results on a GPU, so it gets addresses of its own; fp32 adds nothing (addresses stay put)
        precision = {} if config["precision"] == "fp32" else {"precision": config["precision"]}
        data_params = dataset_params(config["dataset"])
        prepared = f"prepared-{stage_hash(data_params)}"
        self.plan.datasets[prepared] = data_params
        teacher_params = {**config["teacher"], **split, **precision}
        teacher = f"teacher-{stage_hash(prepared, teacher_params)}"
        self.plan.teachers[teacher] = {"data": prepared, "params": teacher_params}
        num_classes = expected_num_classes(config["dataset"])
        # the experts' file names say which experts they hold, so neither their count nor how many a job trains is
        # part of the buffer's address
        experts_params = {"train": config["experts"]["train"], "network": config["student"]["network"],
                          "augment": config["evaluation"]["augment"], **split, **precision}
        experts = f"experts-{stage_hash(prepared, experts_params)}"
        self.plan.experts[experts] = {"data": prepared, "params": experts_params}

        sets = {}
        for method in METHODS:
            entry = {"method": method, "data": prepared, "teacher": None, "num_classes": num_classes}
            if method == "random_real":
                entry["params"] = split
                address = (prepared, split)
            elif method in CORESET_METHODS:
                entry.update(params=split, teacher=teacher)
                address = (teacher, method)
            elif method in TRAJECTORY_METHODS:  # the student's architecture against the expert buffer
                entry.update(experts=experts, experts_per_job=config["experts"]["per_job"])
                entry["params"] = {**config["mtt"], "network": config["student"]["network"],
                                   "augment": config["distill"]["augment"], "experts": config["experts"]["count"],
                                   **split, **precision}
                if method == "vdsd":
                    entry["params"]["vdsd"] = config["vdsd"]
                address = (experts, entry["params"])
            elif method == "dm":  # random networks of the student's architecture; no teacher
                entry["params"] = {**config["dm"], "network": config["student"]["network"],
                                   "augment": config["distill"]["augment"], **split, **precision}
                address = (prepared, entry["params"])
            else:
                entry.update(params={**synthesis_params(config, method), **split, **precision}, teacher=teacher)
                # how a set is split into jobs never changes its clips, so it is not part of the address
                address = (teacher, {k: v for k, v in entry["params"].items() if k != "ipc_per_job"})
            name = f"{method}-{stage_hash(*address)}"
            self.plan.sets[name] = entry
            sets[method] = name

        student = {"network": config["student"]["network"], "train": config["evaluation"]["train"],
                   **split, **precision}
        evaluations = {}
        for kind in LABEL_KINDS:
            labels = {"kind": kind, "temperature": config["evaluation"]["labels"]["temperature"]}
            # soft labels come from the teacher, so the teacher is part of such an evaluation's address
            soft_teacher = teacher if kind == "soft" else None
            for augmentation in AUGMENTATIONS:
                params = {**student, "labels": labels}
                params.update({"augment": config["evaluation"]["augment"]} if augmentation == "none" else
                              {"tsgf_a": config["evaluation"]["tsgf_a"], "saliency": config["saliency"]})
                name = f"{augmentation}-{stage_hash(prepared, soft_teacher, params)}"
                self.plan.evaluations[name] = {"augmentation": augmentation, "params": params, "data": prepared,
                                               "teacher": soft_teacher}
                evaluations[augmentation, kind] = name
        full_params = {"network": config["student"]["network"],
                       "full_data_train": config["evaluation"]["full_data_train"],
                       "augment": config["evaluation"]["augment"], **split, **precision}
        full = f"full-{stage_hash(prepared, full_params)}"
        self.plan.full_evaluations[full] = {"params": full_params, "data": prepared}
        return {"prepared": prepared, "teacher": teacher, "sets": sets, "evaluations": evaluations, "full": full}

    def results_of(self, stages: dict[str, Any], grid: dict[str, Any], seeds: list[int]) -> list[list[Any]]:
        """[cell, seed] of every student of one config's grid (`experiment` or an ablation entry: its methods,
        augmentations, labels, ipcs and full_data), the full-data students last. A cell is the students of one
        training set (every seed) under one evaluation; `cell_files` names its file once every grid is planned."""
        results, evaluations, sets = self.plan.results, stages["evaluations"], stages["sets"]
        students = [[f"{results}/eval/{evaluations[augmentation, kind]}/{sets[method]}/ipc{ipc}", seed]
                    for method in grid["methods"] for kind in grid["labels"] for augmentation in grid["augmentations"]
                    for ipc in grid["ipcs"] for seed in seeds]
        if grid["full_data"]:
            students += [[f"{results}/eval/{stages['full']}", seed] for seed in seeds]
        for cell, seed in students:
            self.cells.setdefault(cell, set()).add(seed)
        return students

    def cell_files(self) -> None:
        """Point every variant's students at their cell's file, named by all the seeds the plan asks of it."""
        for variants in self.plan.runs.values():
            for variant in variants:
                variant["results"] = [[cell_file(cell, self.cells[cell]), seed] for cell, seed in variant["results"]]


def selected_ablations(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The entries of `ablations` that `experiment.ablations` asks for ("all", or a list of names), in order."""
    chosen = config["experiment"]["ablations"]
    if chosen == "all":
        return dict(config["ablations"])
    unknown = [name for name in chosen if name not in config["ablations"]]
    if unknown:
        raise ConfigError(f"config key 'experiment.ablations' names {', '.join(map(repr, unknown))}, not in "
                          f"'ablations' (known: {', '.join(config['ablations']) or 'none'})")
    return {name: config["ablations"][name] for name in chosen}


def _scaling_sets(planner: _Planner, config: dict[str, Any], schema_path: str | Path,
                  main_sets: dict[str, str]) -> list[dict[str, Any]]:
    """The sets of the cost-scaling figure (`experiment.scaling`): every method at every IPC, first seed, the
    synthesis methods with only `iterations` steps (sets of their own addresses), the selections as they are."""
    scaling, experiment = config["experiment"]["scaling"], config["experiment"]
    if not scaling["ipcs"]:
        return []
    short = copy.deepcopy(config)
    short.pop("ablations")
    where = "config key 'experiment.scaling.iterations'"
    for keys in ITERATION_KEYS.values():
        for key in keys:
            _set_dotted(short, key, scaling["iterations"], where)
    short = validate_config(short, schema_path, source=f"{config_sources(config, 'experiment')}: {where}")
    short_sets = planner.stages(short)["sets"]
    seed = experiment["seeds"][0]
    points = []
    for method in experiment["methods"]:
        keys = ITERATION_KEYS.get(method, ())
        factor = sum(_get_dotted(config, key) for key in keys) / (len(keys) * scaling["iterations"]) if keys else 1.0
        name = short_sets[method] if keys else main_sets[method]
        points += [{"method": method, "ipc": ipc, "set": planner.plan.set_dir(name, ipc, seed), "time_factor": factor}
                   for ipc in scaling["ipcs"]]
    return points


def build_plan(config: dict[str, Any], schema_path: str | Path) -> Plan:
    """The plan of a validated config: its main experiment and each of its ablations' variants.

    Raises ConfigError naming the ablation and key when a variant is not a valid config."""
    planner = _Planner(config)
    experiment = config["experiment"]
    stages = planner.stages(config)
    main = planner.results_of(stages, experiment, experiment["seeds"])
    planner.plan.runs[MAIN] = [{"label": "", "overrides": {}, "default": True, "prepared": stages["prepared"],
                                "teacher": stages["teacher"], "sets": stages["sets"], "results": main}]
    planner.plan.scaling = _scaling_sets(planner, config, schema_path, stages["sets"])
    for name, spec in selected_ablations(config).items():
        variants = []
        for label, overrides in ablation_variants(name, spec):
            variant = copy.deepcopy(config)
            variant.pop("ablations")
            where = f"config key 'ablations.{name}'"
            for key, value in overrides.items():
                _set_dotted(variant, key, value, where)
            variant = validate_config(variant, schema_path,
                                      source=f"{config_sources(config, 'ablations', name)}: {where}, variant {label}")
            stages = planner.stages(variant)
            seeds = spec["seeds"] or experiment["ablation_seeds"] or experiment["seeds"]
            results = planner.results_of(stages, spec, seeds)
            # the variant that keeps the base config's value of every swept key: marked "default" in tables
            default = all(_get_dotted(variant, key) == _get_dotted(config, key) for key in spec["sweep"])
            variants.append({"label": label, "overrides": overrides, "default": default,
                             "prepared": stages["prepared"], "teacher": stages["teacher"], "sets": stages["sets"],
                             "results": results})
        planner.plan.runs[name] = variants
    planner.cell_files()
    return planner.plan


__all__ = ["MAIN", "Plan", "cell_file", "cell_seeds", "value_label", "selected_ablations", "ablation_variants",
           "build_plan"]
