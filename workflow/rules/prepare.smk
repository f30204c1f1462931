# raw -> prepared clips (the one clip-set format). The embedded motion dataset is generated from its seed; a real
# dataset is read from dataset.root (tsgf/datasets/layouts.py) and decoded in a resumable stream (prepare.py).
# One prepared set per distinct dataset recipe: ablations of the data (frames, camera motion, noise) add their own.


rule prepare_dataset:
    input:
        code=lambda w: code("datasets/motion.py", "clipset.py") if DATASETS[w.prepared]["layout"] == "motion"
        else code("datasets/layouts.py", "datasets/video.py", "datasets/prepare.py", "clipset.py"),
    output:
        clipset_files(f"{RESULTS}/{{prepared}}"),
    params:
        spec=lambda w: as_json(DATASETS[w.prepared]),
        out=lambda w: path_of(w.prepared),
    threads: C["threads"]
    log:
        f"{LOGS}/prepare_dataset/{{prepared}}.log",
    benchmark:
        f"{BENCHMARKS}/prepare_dataset/{{prepared}}.tsv"
    shell:
        "python -m tsgf prepare --params {params.spec:q} --out {params.out} --threads {threads} > {log} 2>&1"


# prepared clips -> how much each class moves (mean inter-frame difference of its training clips), for the
# failure analysis by motion strength (the paper's Table 7); seconds of CPU, so never queued on a cluster
localrules:
    class_motion_strength,


rule class_motion_strength:
    input:
        data=clipset_files(f"{RESULTS}/{{prepared}}"),
        code=code("saliency.py"),
    output:
        f"{RESULTS}/{{prepared}}/motion_strength.csv",
    params:
        data=lambda w: path_of(w.prepared),
        split=as_json({"holdout": C["holdout"], "val_fraction": C["val_fraction"]}),
    log:
        f"{LOGS}/class_motion_strength/{{prepared}}.log",
    shell:
        "python -m tsgf motion-strength --data {params.data} --params {params.split:q} --out {output} > {log} 2>&1"
