"""The workflow's stages: one module per rule file (workflow/rules/<module>.smk), one handler per rule.

A rule, its CLI stage (`python -m tsgf <stage>`) and its handler share one name; STAGES says which module holds
each. Every stage module is torch-free at import time: a handler that runs networks imports torch (and
tsgf.stages.torch_common) itself, so planning the workflow and the light stages never pay for importing torch.
"""

# stage (= rule = handler) -> module of tsgf.stages, in data-flow order
STAGES = {
    "generate_motion_dataset": "prepare",
    "prepare_dataset": "prepare",
    "class_motion_strength": "prepare",
    "train_teacher": "teacher",
    "teacher_features": "teacher",
    "order_blind_probe": "teacher",
    "expert_trajectories": "experts",
    "random_real": "training_sets",
    "select_coreset": "training_sets",
    "distribution_matching": "training_sets",
    "match_trajectories": "training_sets",
    "distill": "training_sets",
    "merge_distilled": "training_sets",
    "evaluate_set": "evaluate",
    "evaluate_full_data": "evaluate",
    "aggregate_runs": "report",
    "make_tables": "report",
    "make_figures": "report",
}

__all__ = ["STAGES"]
