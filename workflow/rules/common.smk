# Config validation and parameter addressing. Every output directory carries a hash of the parameters (and
# upstream outputs) that made it, so changing a knob reruns only what depends on it and keeps the old results.
import json
import re
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.scheduling.job_scheduler import JobScheduler

from tsgf.code_dependencies import stage_code
from tsgf.config import config_file_label, validate_config_sources
from tsgf.errors import ConfigError, TSGFError
from tsgf.gpus import local_gpu_visible
from tsgf.methods import CORESET_METHODS, DISTILLED_METHODS, TRAJECTORY_METHODS
from tsgf.plan import build_plan, cell_seeds, selected_ablations
from tsgf.replanning import single_replanning_timer
from tsgf.sharding import shard_plan

SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"

# Snakemake's scheduler re-plans once more per second for every job that has finished (tsgf/replanning.py)
single_replanning_timer(JobScheduler)


def _config_files():
    """(label, values) of each config file in the order Snakemake merged them: the Snakefile's own
    (config/config.yaml, unless --replace-workflow-config dropped it), then each --configfile."""
    given = [Path(path).absolute() for path in workflow.config_settings.configfiles]
    own = [Path(path).absolute() for path in workflow.configfiles]
    if workflow.config_settings.replace_workflow_config:
        own = []
    files = [path for path in own if path not in given] + given
    return [(config_file_label(path), load_configfile(path)) for path in files]


# Validated as merged from its sources, so each error names the file, or the command line, that set its key
try:
    VALIDATED = validate_config_sources(_config_files(), workflow.config_settings.config, SCHEMA)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(VALIDATED)

C = config
DATASET = C["dataset"]["name"]
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"
BENCHMARKS = f"benchmarks/{DATASET}"
IPCS = C["experiment"]["ipcs"]
SEEDS = C["experiment"]["seeds"]


def _gpus_per_job(wildcards):
    """GPUs a teacher, distillation or evaluation job asks for: none when it will run on the CPU (device "cpu",
    or "auto" in a local run on a machine without a GPU, where the default profile's one-GPU limit would
    otherwise serialise CPU jobs); one otherwise, so that cluster jobs with "auto" land on GPU nodes. Evaluated
    per job, when Snakemake knows whether it runs jobs itself or submits them."""
    if C["device"] == "cpu":
        return 0
    if C["device"] == "auto" and workflow.local_exec:
        return int(local_gpu_visible())
    return 1


# what every GPU rule's `resources:` holds; neither is a rerun trigger, and a checkpoint interval never changes
# results, so it travels here rather than in params (changing it reruns nothing). The network rules' shell
# commands pass "--threads {threads} --device {params.device} --precision {params.precision}
# --checkpoint-every {resources.checkpoint_seconds}": threads and the interval are not params, so changing them
# reruns nothing, while device and precision are.
GPU_JOB = {"gpu": _gpus_per_job, "checkpoint_seconds": C["checkpoint_seconds"]}

# Each rule lists its code as inputs, `code=stage_code(<its name>)`, that is the stage module of the same name and
# every package module its handler reaches (tsgf/code_dependencies.py), so editing one reruns exactly those rules
# (Snakemake sees inputs, not imports).


def as_json(value):
    """A params value as JSON with sorted keys: the same parameters always give the same text, whatever order the
    config files were merged in (Snakemake reruns a job whose params text changed)."""
    return json.dumps(value, sort_keys=True)


def clipset_files(directory):
    return [f"{directory}/clips.npy", f"{directory}/manifest.csv", f"{directory}/meta.json"]


def set_path(set_wildcard, name=""):
    """A training set's directory pattern (or a file in it), e.g. set_path("dm_set", "loss.csv")."""
    directory = set_dir(f"{{{set_wildcard}}}", "{ipc}", "{seed}")
    return f"{directory}/{name}" if name else directory


# Every addressed output of the main experiment and of each ablation's variants (tsgf/plan.py)
try:
    PLAN = build_plan(VALIDATED, SCHEMA)
except TSGFError as error:
    raise WorkflowError(str(error)) from None
DATASETS, TEACHERS, EXPERTS, SETS = PLAN.datasets, PLAN.teachers, PLAN.experts, PLAN.sets
EVALUATIONS, FULL_EVALUATIONS = PLAN.evaluations, PLAN.full_evaluations
set_dir, path_of = PLAN.set_dir, PLAN.path
ABLATIONS = list(PLAN.runs)  # "main" first, then the config's ablations in their order


def distill_shards(wildcards):
    """Every shard file of one distilled set (tsgf/sharding.py decides how many)."""
    entry = SETS[wildcards.distilled_set]
    plan = shard_plan(
        entry["num_classes"], int(wildcards.ipc), entry["params"]["classes_per_batch"], entry["params"]["ipc_per_job"]
    )
    directory = set_dir(wildcards.distilled_set, wildcards.ipc, wildcards.seed)
    return [f"{directory}/shards/shard{number}.npz" for number in range(len(plan))]


MAIN = PLAN.runs["main"][0]  # the main experiment's data, teacher and sets are the ones the figures draw
# the main teacher's order-blind probe, a row of the main table (experiment.order_blind_probe)
ORDER_BLIND = [f"{path_of(MAIN['teacher'])}/order_blind.json"] if C["experiment"]["order_blind_probe"] else []
TABLE_NAMES = ["main", "ablation", "motion_classes", "motion_strength", "cost"]
TABLE_NAMES += [f"ablation_{name}" for name in ABLATIONS if name != "main"]
TABLES = [f"{RESULTS}/tables/{name}.{ext}" for name in TABLE_NAMES for ext in ("csv", "md", "tex")]
TABLES.append(f"{RESULTS}/tables/all_cells.csv")
FIGURE_NAMES = ["accuracy_vs_ipc", "cost", "distilled_clips", "motion_flow", "motion_classes"]
FIGURE_NAMES += ["cost_scaling"] if PLAN.scaling else []
FIGURE_NAMES += [f"ablation_{name}" for name in ABLATIONS if name != "main"]
FIGURES = [f"{RESULTS}/figures/{name}.png" for name in FIGURE_NAMES]
CLIP_GIFS = {method: f"{RESULTS}/figures/clips/{method}.gif" for method in C["experiment"]["methods"]}


def _one_of(names):
    """A wildcard constraint matching exactly these names (paths included); none: a pattern nothing matches."""
    return "|".join(map(re.escape, names)) or "(?!)"


def _names(*methods):
    return _one_of(SETS if not methods else PLAN.sets_of(*methods))


def _datasets(motion):
    """Prepared data generated (the embedded motion dataset) or decoded from real videos."""
    return _one_of([name for name, spec in DATASETS.items() if (spec["layout"] == "motion") == motion])


# ---------------------------------------------------------------- inputs and params the rule files share


def set_data(name):
    """The prepared clips a training set is made from."""
    return clipset_files(path_of(SETS[name]["data"]))


def soft_label_teacher(wildcards):
    """The teacher whose predictions are an evaluation's soft labels (none for hard labels)."""
    teacher = EVALUATIONS[wildcards.eval_name]["teacher"]
    return [] if teacher is None else [f"{path_of(teacher)}/model.pt"]


def soft_label_teacher_flag(wildcards):
    teacher = EVALUATIONS[wildcards.eval_name]["teacher"]
    return "" if teacher is None else f"--teacher {path_of(teacher)}"


def aggregate_variants(ablation):
    """What the aggregate stage needs to tag each result: per variant its label, overrides, whether it is the
    base config's value, its teacher's metrics and its students ([cell file, seed])."""
    return [
        {
            "label": v["label"],
            "overrides": v["overrides"],
            "default": v["default"],
            "teacher_metrics": f"{path_of(v['teacher'])}/metrics.json",
            "results": v["results"],
        }
        for v in PLAN.runs[ablation]
    ]


def reported_table(path):
    """The CSV of each table goes into the report (the .md and .tex are the same numbers for papers and READMEs)."""
    name = Path(path).stem
    if not path.endswith(".csv"):
        return path
    if name.startswith("ablation_"):
        return report(path, caption="../report/sweep_table.rst", category="Ablations", labels={"item": name})
    return report(path, caption=f"../report/{name}_table.rst", category="Tables", labels={"table": name})


def reported_figure(name, path):
    if name.startswith("ablation_"):
        return report(
            path, caption="../report/sweep_figure.rst", category="Ablations", labels={"item": f"{name} (figure)"}
        )
    return report(path, caption=f"../report/{name}.rst", category="Figures", labels={"figure": name})


def strip_sets():
    """The clip sets drawn as frame strips: each method's set of the main experiment at its largest IPC, first
    seed."""
    ipc, seed = max(IPCS), SEEDS[0]
    return {method: set_dir(MAIN["sets"][method], ipc, seed) for method in C["experiment"]["methods"]}


# what the tables and figures say of each ablation: its title and swept keys
ABLATION_SPECS = as_json(
    {name: {"title": spec["title"], "keys": list(spec["sweep"])} for name, spec in selected_ablations(C).items()}
)
RUN_TABLES = [f"{RESULTS}/runs/{name}.csv" for name in ABLATIONS]
CITED_RESULTS = str(Path(workflow.basedir) / "tsgf/data/cited_results.csv")


wildcard_constraints:
    ipc=r"\d+",
    seed=r"\d+",
    seeds=r"\d+(-\d+)*",
    shard=r"\d+",
    set_name=_names(),
    random_set=_names("random_real"),
    coreset=_names(*CORESET_METHODS),
    dm_set=_names("dm"),
    trajectory_set=_names(*TRAJECTORY_METHODS),
    distilled_set=_names(*DISTILLED_METHODS),
    eval_name=_one_of(EVALUATIONS),
    full_eval=_one_of(FULL_EVALUATIONS),
    prepared=_one_of(DATASETS),
    motion_data=_datasets(motion=True),
    video_data=_datasets(motion=False),
    teacher=_one_of(TEACHERS),
    experts=_one_of(EXPERTS),
    first=r"\d+",
    last=r"\d+",
    ablation=_one_of(ABLATIONS),
