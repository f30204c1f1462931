# training sets -> evaluations: one harness trains a fresh student on any training set and tests it on the real
# holdout split (test, or the validation split carved from train when tuning). An evaluation's address holds the
# student, its training recipe, its labels (soft labels: also the teacher) and its augmentation. One job trains a
# cell: every seed the plan asks for of one training set (each seed's student on that seed's set), or of the
# full-data student, so start-up and data loading are paid once per cell (tsgf/plan.py, cell_file).


rule evaluate_set:
    input:
        data=lambda w: clipset_files(path_of(EVALUATIONS[w.eval_name]["data"])),
        train_sets=lambda w: [
            path for seed in cell_seeds(w.seeds) for path in clipset_files(set_dir(w.set_name, w.ipc, seed))
        ],
        teacher=soft_label_teacher,
        code=stage_code("evaluate_set"),
    output:
        f"{RESULTS}/eval/{{eval_name}}/{{set_name}}/ipc{{ipc}}/seeds{{seeds}}.json",
    log:
        f"{LOGS}/evaluate_set/{{eval_name}}/{{set_name}}/ipc{{ipc}}/seeds{{seeds}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_set/{{eval_name}}/{{set_name}}/ipc{{ipc}}/seeds{{seeds}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(EVALUATIONS[w.eval_name]["params"]),
        data=lambda w: path_of(EVALUATIONS[w.eval_name]["data"]),
        train_sets=lambda w: " ".join(set_dir(w.set_name, w.ipc, seed) for seed in cell_seeds(w.seeds)),
        seeds=lambda w: " ".join(map(str, cell_seeds(w.seeds))),
        teacher=soft_label_teacher_flag,
        method=lambda w: SETS[w.set_name]["method"],
        augmentation=lambda w: EVALUATIONS[w.eval_name]["augmentation"],
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf evaluate_set --data {params.data} --train-sets {params.train_sets} --seeds {params.seeds}"
        " --method {params.method} --augmentation {params.augmentation} {params.teacher} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule evaluate_full_data:
    input:
        data=lambda w: clipset_files(path_of(FULL_EVALUATIONS[w.full_eval]["data"])),
        code=stage_code("evaluate_full_data"),
    output:
        f"{RESULTS}/eval/{{full_eval}}/seeds{{seeds}}.json",
    log:
        f"{LOGS}/evaluate_full_data/{{full_eval}}/seeds{{seeds}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_full_data/{{full_eval}}/seeds{{seeds}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(FULL_EVALUATIONS[w.full_eval]["params"]),
        data=lambda w: path_of(FULL_EVALUATIONS[w.full_eval]["data"]),
        seeds=lambda w: " ".join(map(str, cell_seeds(w.seeds))),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf evaluate_full_data --data {params.data} --seeds {params.seeds} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"
