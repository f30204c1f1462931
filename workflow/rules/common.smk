# Config validation and parameter addressing. Every output directory carries a hash of the parameters (and
# upstream outputs) that made it, so changing a knob reruns only what depends on it and keeps the old results.
import functools
import json
import re
from pathlib import Path

import tsgf
from tsgf.config import CORESET_METHODS, DISTILLED_METHODS, validate_config
from tsgf.errors import ConfigError, TSGFError
from tsgf.plan import build_plan, selected_ablations
from tsgf.sharding import shard_plan

try:
    _validated = validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
                                 source=" + ".join(map(str, workflow.configfiles)) or "config")
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_validated)

C = config
DATASET = C["dataset"]["name"]
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"
BENCHMARKS = f"benchmarks/{DATASET}"
IPCS = C["experiment"]["ipcs"]
SEEDS = C["experiment"]["seeds"]
PACKAGE = Path(tsgf.__file__).parent


@functools.cache
def _this_machine_has_a_gpu():
    import torch  # only here: planning a run must not pay for importing torch otherwise

    return torch.cuda.is_available()


def _gpus_per_job(wildcards):
    """GPUs a teacher, distillation or evaluation job asks for: none when it will run on the CPU (device "cpu",
    or "auto" in a local run on a machine without a GPU, where the default profile's one-GPU limit would
    otherwise serialise CPU jobs); one otherwise, so that cluster jobs with "auto" land on GPU nodes. Evaluated
    per job, when Snakemake knows whether it runs jobs itself or submits them."""
    if C["device"] == "cpu":
        return 0
    if C["device"] == "auto" and workflow.local_exec:
        return int(_this_machine_has_a_gpu())
    return 1


# what every GPU rule's `resources:` holds; neither is a rerun trigger, and a checkpoint interval never changes
# results, so it travels here rather than in params (changing it reruns nothing)
GPU_JOB = {"gpu": _gpus_per_job, "checkpoint_seconds": C["checkpoint_seconds"]}
COMPUTE_FLAGS = "--threads {threads} --device {params.device} --precision {params.precision}" \
                " --checkpoint-every {resources.checkpoint_seconds}"


def code(*modules):
    """Package modules a rule depends on: editing one reruns the rule (Snakemake sees inputs, not imports)."""
    return [str(PACKAGE / module) for module in modules]


def as_json(value):
    """A params value as JSON with sorted keys: the same parameters always give the same text, whatever order the
    config files were merged in (Snakemake reruns a job whose params text changed)."""
    return json.dumps(value, sort_keys=True)


def clipset_files(directory):
    return [f"{directory}/clips.npy", f"{directory}/manifest.csv", f"{directory}/meta.json"]


# Every addressed output of the main experiment and of each ablation's variants (tsgf/plan.py)
try:
    PLAN = build_plan(C, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except TSGFError as error:
    raise WorkflowError(str(error)) from None
DATASETS, TEACHERS, SETS = PLAN.datasets, PLAN.teachers, PLAN.sets
EVALUATIONS, FULL_EVALUATIONS = PLAN.evaluations, PLAN.full_evaluations
set_dir, path_of = PLAN.set_dir, PLAN.path
ABLATIONS = list(PLAN.runs)  # "main" first, then the config's ablations in their order


def distill_shards(wildcards):
    """Every shard file of one distilled set (tsgf/sharding.py decides how many)."""
    entry = SETS[wildcards.distilled_set]
    plan = shard_plan(entry["num_classes"], int(wildcards.ipc), entry["params"]["classes_per_batch"],
                      entry["params"]["ipc_per_job"])
    directory = set_dir(wildcards.distilled_set, wildcards.ipc, wildcards.seed)
    return [f"{directory}/shards/shard{number}.npz" for number in range(len(plan))]


MAIN = PLAN.runs["main"][0]  # the main experiment's data, teacher and sets are the ones the figures draw
TABLE_NAMES = ["main", "ablation", "motion_classes", "motion_strength", "cost"]
TABLE_NAMES += [f"ablation_{name}" for name in ABLATIONS if name != "main"]
TABLES = [f"{RESULTS}/tables/{name}.{ext}" for name in TABLE_NAMES for ext in ("csv", "md", "tex")]
TABLES.append(f"{RESULTS}/tables/all_cells.csv")
FIGURE_NAMES = ["accuracy_vs_ipc", "cost", "distilled_clips", "motion_flow", "motion_classes"]
FIGURE_NAMES += [f"ablation_{name}" for name in ABLATIONS if name != "main"]
FIGURES = [f"{RESULTS}/figures/{name}.png" for name in FIGURE_NAMES]
CLIP_GIFS = {method: f"{RESULTS}/figures/clips/{method}.gif" for method in C["experiment"]["methods"]}


def _one_of(names):
    """A wildcard constraint matching exactly these names (paths included)."""
    return "|".join(map(re.escape, names))


def _names(*methods):
    return _one_of(SETS if not methods else PLAN.sets_of(*methods))


wildcard_constraints:
    ipc=r"\d+",
    seed=r"\d+",
    shard=r"\d+",
    set_name=_names(),
    random_set=_names("random_real"),
    coreset=_names(*CORESET_METHODS),
    dm_set=_names("dm"),
    distilled_set=_names(*DISTILLED_METHODS),
    eval_name=_one_of(EVALUATIONS),
    full_eval=_one_of(FULL_EVALUATIONS),
    prepared=_one_of(DATASETS),
    teacher=_one_of(TEACHERS),
    ablation=_one_of(ABLATIONS),
