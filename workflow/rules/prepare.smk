# raw -> prepared clips (the one clip-set format). The embedded motion dataset is generated from its seed.


rule prepare_dataset:
    input:
        code=code("datasets/motion.py", "clipset.py"),
    output:
        clipset_files(PREPARED),
    params:
        spec=json.dumps(C["dataset"]),
        out=PREPARED,
    log:
        f"{LOGS}/prepare_dataset.log",
    benchmark:
        f"{BENCHMARKS}/prepare_dataset.tsv"
    shell:
        "python -m tsgf prepare --params {params.spec:q} --out {params.out} > {log} 2>&1"
