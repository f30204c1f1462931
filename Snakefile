# TSGF: video dataset distillation with temporal saliency. This file only wires the stages together;
# the logic lives in the `tsgf` package and each stage's rules in workflow/rules/<stage>.smk.
#
#   raw -> prepare_dataset -> train_teacher, expert_trajectories -> training sets (random_real, select_coreset,
#   distribution_matching, match_trajectories, distill + merge_distilled) -> evaluate -> aggregate_runs
#   -> make_tables, make_figures
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/teacher.smk"
include: "workflow/rules/experts.smk"
include: "workflow/rules/training_sets.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/warm_start.smk"


rule all:
    default_target: True
    input:
        TABLES,
        FIGURES,
        list(CLIP_GIFS.values()),


rule prepared:
    input:
        clipset_files(path_of(MAIN["prepared"])),


rule tables:
    input:
        TABLES,


rule figures:
    input:
        FIGURES,
        list(CLIP_GIFS.values()),
