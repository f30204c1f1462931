# training sets -> evaluations: one harness trains a fresh student on any training set and tests it on the real
# holdout split (test, or the validation split carved from train when tuning). An evaluation's address holds the
# student, its training recipe, its labels (soft labels: also the teacher) and its augmentation.


rule evaluate_set:
    input:
        data=lambda w: clipset_files(path_of(EVALUATIONS[w.eval_name]["data"])),
        train_set=lambda w: clipset_files(set_dir(w.set_name, w.ipc, w.seed)),
        teacher=soft_label_teacher,
        code=stage_code("evaluate_set"),
    output:
        f"{RESULTS}/eval/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.json",
    log:
        f"{LOGS}/evaluate_set/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_set/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(EVALUATIONS[w.eval_name]["params"]),
        data=lambda w: path_of(EVALUATIONS[w.eval_name]["data"]),
        train_set=lambda w: set_dir(w.set_name, w.ipc, w.seed),
        teacher=soft_label_teacher_flag,
        method=lambda w: SETS[w.set_name]["method"],
        augmentation=lambda w: EVALUATIONS[w.eval_name]["augmentation"],
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf evaluate_set --data {params.data} --train-set {params.train_set} --method {params.method}"
        " --augmentation {params.augmentation} {params.teacher} --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule evaluate_full_data:
    input:
        data=lambda w: clipset_files(path_of(FULL_EVALUATIONS[w.full_eval]["data"])),
        code=stage_code("evaluate_full_data"),
    output:
        f"{RESULTS}/eval/{{full_eval}}/seed{{seed}}.json",
    log:
        f"{LOGS}/evaluate_full_data/{{full_eval}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_full_data/{{full_eval}}/seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(FULL_EVALUATIONS[w.full_eval]["params"]),
        data=lambda w: path_of(FULL_EVALUATIONS[w.full_eval]["data"]),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf evaluate_full_data --data {params.data} --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"
