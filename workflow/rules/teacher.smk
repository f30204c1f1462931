# prepared clips -> the BatchNorm teacher, trained on the full train split (its BN statistics drive synthesis).


rule train_teacher:
    input:
        data=clipset_files(PREPARED),
        code=code("training.py", "models.py"),
    output:
        model=f"{TEACHER}/model.pt",
        metrics=f"{TEACHER}/metrics.json",
        curve=f"{TEACHER}/curve.csv",
    params:
        spec=json.dumps(TEACHER_PARAMS),
        data=PREPARED,
        out=TEACHER,
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/train_teacher.log",
    benchmark:
        f"{BENCHMARKS}/train_teacher.tsv"
    shell:
        "python -m tsgf train-teacher --data {params.data} --params {params.spec:q} --out {params.out}"
        " --checkpoint {output.model}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"
