# training sets -> evaluations: one harness trains a fresh student on any training set and tests it on the real
# holdout split (test, or the validation split carved from train when tuning).


rule evaluate_set:
    input:
        data=clipset_files(PREPARED),
        train_set=lambda w: clipset_files(set_dir(w.set_name, w.ipc, w.seed)),
        code=code("training.py", "models.py", "augment.py", "saliency.py"),
    output:
        f"{RESULTS}/eval/{{eval_name}}/{{set_name}}/ipc{{ipc}}-seed{{seed}}.json",
    params:
        spec=lambda w: json.dumps(EVAL_PARAMS[AUG_OF_EVAL[w.eval_name]]),
        data=PREPARED,
        train_set=lambda w: set_dir(w.set_name, w.ipc, w.seed),
        method=lambda w: METHOD_OF_SET[w.set_name],
        augmentation=lambda w: AUG_OF_EVAL[w.eval_name],
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
        " --augmentation {params.augmentation} --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"


rule evaluate_full_data:
    input:
        data=clipset_files(PREPARED),
        code=code("training.py", "models.py"),
    output:
        f"{FULL_EVAL}/seed{{seed}}.json",
    params:
        spec=json.dumps(FULL_PARAMS),
        data=PREPARED,
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/evaluate/full/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/full/seed{{seed}}.tsv"
    shell:
        "python -m tsgf evaluate --data {params.data} --full-data --seed {wildcards.seed} --params {params.spec:q}"
        " --out {output} --checkpoint {output}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"
