# Config validation and parameter addressing. Every output directory carries a hash of the parameters (and
# upstream outputs) that made it, so changing a knob reruns only what depends on it and keeps the old results.
import functools
import json
from pathlib import Path

import tsgf
from tsgf.config import DISTILLED_METHODS, stage_hash, validate_config
from tsgf.datasets import dataset_params
from tsgf.datasets.layouts import expected_num_classes
from tsgf.errors import ConfigError, TSGFError
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
SPLIT = {"holdout": C["holdout"], "val_fraction": C["val_fraction"]}
IPCS = C["experiment"]["ipcs"]
SEEDS = C["experiment"]["seeds"]
PACKAGE = Path(tsgf.__file__).parent
# bf16 changes results on a GPU, so a bf16 run gets addresses of its own; fp32 adds nothing to the hashed
# parameters, so every fp32 result keeps its address
PRECISION = {} if C["precision"] == "fp32" else {"precision": C["precision"]}


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


def clipset_files(directory):
    return [f"{directory}/clips.npy", f"{directory}/manifest.csv", f"{directory}/meta.json"]


# raw -> prepared clips
DATASET_PARAMS = dataset_params(C["dataset"])
PREPARED = f"{RESULTS}/prepared-{stage_hash(DATASET_PARAMS)}"

# prepared clips -> teacher
TEACHER_PARAMS = {**C["teacher"], **SPLIT, **PRECISION}
TEACHER = f"{RESULTS}/teacher-{stage_hash(PREPARED, TEACHER_PARAMS)}"

# teacher -> training sets (random real needs no teacher). SRe2L is TSGF with the filter's weights fixed at 1:
# its params hold none of the filter's knobs, so tuning TSGF_O never reruns SRe2L.
_distill = {k: v for k, v in C["distill"].items() if k != "tsgf_o"}
SET_PARAMS = {"random_real": SPLIT}
SET_NAMES = {"random_real": f"random_real-{stage_hash(PREPARED, SPLIT)}"}
for _method, _enabled in DISTILLED_METHODS.items():
    _filter = {"saliency": C["saliency"], "tsgf_o": {**C["distill"]["tsgf_o"], "enabled": True}}
    SET_PARAMS[_method] = {**_distill, **SPLIT, **PRECISION,
                           **(_filter if _enabled else {"tsgf_o": {"enabled": False}})}
    # how the set is split into jobs never changes its clips, so it is not part of the address
    _addressed = {k: v for k, v in SET_PARAMS[_method].items() if k != "ipc_per_job"}
    SET_NAMES[_method] = f"{_method}-{stage_hash(TEACHER, _addressed)}"
METHOD_OF_SET = {name: method for method, name in SET_NAMES.items()}
DISTILLED_SETS = [SET_NAMES[m] for m in DISTILLED_METHODS]


def set_dir(set_name, ipc, seed):
    return f"{RESULTS}/sets/{set_name}/ipc{ipc}/seed{seed}"


try:  # known before preparation (the shard plan needs it); a folder dataset counts its class folders
    NUM_CLASSES = expected_num_classes(C["dataset"])
except TSGFError as error:
    raise WorkflowError(str(error)) from None


def distill_shards(wildcards):
    """Every shard file of one distilled set (tsgf/sharding.py decides how many)."""
    plan = shard_plan(NUM_CLASSES, int(wildcards.ipc), C["distill"]["classes_per_batch"], C["distill"]["ipc_per_job"])
    directory = set_dir(wildcards.distilled_set, wildcards.ipc, wildcards.seed)
    return [f"{directory}/shards/shard{number}.npz" for number in range(len(plan))]


# training sets -> evaluations: one address per augmentation, so tuning TSGF_A reruns only TSGF_A students
_student = {"network": C["student"]["network"], "train": C["evaluation"]["train"], **SPLIT, **PRECISION}
EVAL_PARAMS = {"none": _student,
               "tsgf_a": {**_student, "tsgf_a": C["evaluation"]["tsgf_a"], "saliency": C["saliency"]}}
EVAL_NAMES = {aug: f"{aug}-{stage_hash(PREPARED, params)}" for aug, params in EVAL_PARAMS.items()}
AUG_OF_EVAL = {name: aug for aug, name in EVAL_NAMES.items()}
FULL_PARAMS = {"network": C["student"]["network"], "full_data_train": C["evaluation"]["full_data_train"], **SPLIT,
               **PRECISION}
FULL_EVAL = f"{RESULTS}/eval/full-{stage_hash(PREPARED, FULL_PARAMS)}"


def evaluation_results():
    runs = [f"{RESULTS}/eval/{EVAL_NAMES[aug]}/{SET_NAMES[method]}/ipc{ipc}-seed{seed}.json"
            for method in C["experiment"]["methods"] for aug in C["experiment"]["augmentations"]
            for ipc in IPCS for seed in SEEDS]
    if C["experiment"]["full_data"]:
        runs += [f"{FULL_EVAL}/seed{seed}.json" for seed in SEEDS]
    return runs


TABLE_NAMES = ["main", "ablation", "motion_classes"]
TABLES = [f"{RESULTS}/tables/{name}.{ext}" for name in TABLE_NAMES for ext in ("csv", "md", "tex")]
TABLES.append(f"{RESULTS}/tables/all_cells.csv")
FIGURE_NAMES = ["accuracy_vs_ipc", "distilled_clips", "motion_flow", "motion_classes"]
FIGURES = [f"{RESULTS}/figures/{name}.png" for name in FIGURE_NAMES]
CLIP_GIFS = {method: f"{RESULTS}/figures/clips/{method}.gif" for method in C["experiment"]["methods"]}


wildcard_constraints:
    ipc=r"\d+",
    seed=r"\d+",
    set_name="|".join(SET_NAMES.values()),
    distilled_set="|".join(DISTILLED_SETS),
    eval_name="|".join(EVAL_NAMES.values()),
    shard=r"\d+",
