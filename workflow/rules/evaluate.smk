# training sets -> evaluations: one harness trains a fresh student on any training set and tests it on the real
# holdout split (test, or the validation split carved from train when tuning). An evaluation's address holds the
# student, its training recipe, its labels (soft labels: also the teacher) and its augmentation.


def _soft_label_teacher(wildcards):
    teacher = EVALUATIONS[wildcards.eval_name]["teacher"]
    return [] if teacher is None else [f"{path_of(teacher)}/model.pt"]


rule evaluate_set:
    input:
        data=lambda w: clipset_files(path_of(EVALUATIONS[w.eval_name]["data"])),
        train_set=lambda w: clipset_files(set_dir(w.set_name, w.ipc, w.seed)),
        teacher=_soft_label_teacher,
        code=code("training.py", "models.py", "augment.py", "saliency.py"),
    output:
        f"{RESULTS}/eval/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.json",
    params:
        spec=lambda w: as_json(EVALUATIONS[w.eval_name]["params"]),
        data=lambda w: path_of(EVALUATIONS[w.eval_name]["data"]),
        train_set=lambda w: set_dir(w.set_name, w.ipc, w.seed),
        teacher=lambda w: "" if EVALUATIONS[w.eval_name]["teacher"] is None
        else f"--teacher {path_of(EVALUATIONS[w.eval_name]['teacher'])}",
        method=lambda w: SETS[w.set_name]["method"],
        augmentation=lambda w: EVALUATIONS[w.eval_name]["augmentation"],
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/evaluate/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.tsv"
    shell:
        "python -m tsgf evaluate --data {params.data} --train-set {params.train_set} --method {params.method}"
        " --augmentation {params.augmentation} {params.teacher} --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"


rule evaluate_full_data:
    input:
        data=lambda w: clipset_files(path_of(FULL_EVALUATIONS[w.full_eval]["data"])),
        code=code("training.py", "models.py"),
    output:
        f"{RESULTS}/eval/{{full_eval}}/seed{{seed}}.json",
    params:
        spec=lambda w: as_json(FULL_EVALUATIONS[w.full_eval]["params"]),
        data=lambda w: path_of(FULL_EVALUATIONS[w.full_eval]["data"]),
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/evaluate/{{full_eval}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{full_eval}}/seed{{seed}}.tsv"
    shell:
        "python -m tsgf evaluate --data {params.data} --full-data --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"
