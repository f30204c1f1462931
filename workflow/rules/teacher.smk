# prepared clips -> the BatchNorm teacher, trained on the full train split (its BN statistics drive synthesis),
# and its features of every training clip (the coresets are picked on them); the order-blind probe, the teacher's
# network and recipe on frame-shuffled clips (the floor of the temporal score).


rule train_teacher:
    input:
        data=lambda w: clipset_files(path_of(TEACHERS[w.teacher]["data"])),
        code=stage_code("train_teacher"),
    output:
        model=f"{RESULTS}/{{teacher}}/model.pt",
        metrics=f"{RESULTS}/{{teacher}}/metrics.json",
        curve=f"{RESULTS}/{{teacher}}/curve.csv",
    log:
        f"{LOGS}/train_teacher/{{teacher}}.log",
    benchmark:
        f"{BENCHMARKS}/train_teacher/{{teacher}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(TEACHERS[w.teacher]["params"]),
        data=lambda w: path_of(TEACHERS[w.teacher]["data"]),
        out=subpath(output.model, parent=True),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf train_teacher --data {params.data} --params {params.spec:q} --out {params.out}"
        " --checkpoint {output.model}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule order_blind_probe:
    input:
        data=lambda w: clipset_files(path_of(TEACHERS[w.teacher]["data"])),
        code=stage_code("order_blind_probe"),
    output:
        f"{RESULTS}/{{teacher}}/order_blind.json",
    log:
        f"{LOGS}/order_blind_probe/{{teacher}}.log",
    benchmark:
        f"{BENCHMARKS}/order_blind_probe/{{teacher}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(TEACHERS[w.teacher]["params"]),
        data=lambda w: path_of(TEACHERS[w.teacher]["data"]),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf order_blind_probe --data {params.data} --params {params.spec:q} --out {output}"
        " --checkpoint {output}.ckpt --threads {threads} --device {params.device}"
        " --precision {params.precision} --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule teacher_features:
    input:
        data=lambda w: clipset_files(path_of(TEACHERS[w.teacher]["data"])),
        teacher=f"{RESULTS}/{{teacher}}/model.pt",
        code=stage_code("teacher_features"),
    output:
        f"{RESULTS}/{{teacher}}/features.npz",
    log:
        f"{LOGS}/teacher_features/{{teacher}}.log",
    benchmark:
        f"{BENCHMARKS}/teacher_features/{{teacher}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        gpu=_gpus_per_job,
    params:
        spec=lambda w: as_json(TEACHERS[w.teacher]["params"]),
        data=lambda w: path_of(TEACHERS[w.teacher]["data"]),
        teacher=lambda w: path_of(w.teacher),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf teacher_features --data {params.data} --teacher {params.teacher} --params {params.spec:q}"
        " --out {output} --threads {threads} --device {params.device} --precision {params.precision} > {log} 2>&1"
