# raw -> prepared clips (the one clip-set format). The embedded motion dataset is generated from its seed; a real
# dataset is read from dataset.root (tsgf/datasets/layouts.py) and decoded in a resumable stream (prepare.py).


rule prepare_dataset:
    input:
        code=code("datasets/motion.py", "clipset.py") if C["dataset"]["layout"] == "motion"
        else code("datasets/layouts.py", "datasets/video.py", "datasets/prepare.py", "clipset.py"),
    output:
        clipset_files(PREPARED),
    params:
        spec=json.dumps(DATASET_PARAMS),
        out=PREPARED,
    threads: C["threads"]
    log:
        f"{LOGS}/prepare_dataset.log",
    benchmark:
        f"{BENCHMARKS}/prepare_dataset.tsv"
    shell:
        "python -m tsgf prepare --params {params.spec:q} --out {params.out} --threads {threads} > {log} 2>&1"
