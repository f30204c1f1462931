# raw -> prepared clips (the one clip-set format). The embedded motion dataset is generated from its seed; a real
# dataset is read from dataset.root (tsgf/datasets/layouts.py) and decoded in a resumable stream (prepare.py).
# One prepared set per distinct dataset recipe: ablations of the data (frames, camera motion, noise) add their own.


# generating the embedded dataset takes seconds of CPU: run on the submit host, never queued on a cluster
localrules:
    generate_motion_dataset,
    class_motion_strength,


rule generate_motion_dataset:
    input:
        code=stage_code("generate_motion_dataset"),
    output:
        clipset_files(f"{RESULTS}/{{motion_data}}"),
    log:
        f"{LOGS}/generate_motion_dataset/{{motion_data}}.log",
    benchmark:
        f"{BENCHMARKS}/generate_motion_dataset/{{motion_data}}.tsv"
    conda:
        "../../environment.yml"
    params:
        spec=lambda w: as_json(DATASETS[w.motion_data]),
        out=subpath(output[0], parent=True),
    shell:
        "python -m tsgf generate_motion_dataset --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule prepare_dataset:
    input:
        code=stage_code("prepare_dataset"),
    output:
        clipset_files(f"{RESULTS}/{{video_data}}"),
    log:
        f"{LOGS}/prepare_dataset/{{video_data}}.log",
    benchmark:
        f"{BENCHMARKS}/prepare_dataset/{{video_data}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    params:
        spec=lambda w: as_json(DATASETS[w.video_data]),
        out=subpath(output[0], parent=True),
    shell:
        "python -m tsgf prepare_dataset --params {params.spec:q} --out {params.out} --threads {threads} > {log} 2>&1"


# prepared clips -> how much each class moves (mean inter-frame difference of its training clips), for the
# failure analysis by motion strength (the paper's Table 7); seconds of CPU, so never queued on a cluster
rule class_motion_strength:
    input:
        data=clipset_files(f"{RESULTS}/{{prepared}}"),
        code=stage_code("class_motion_strength"),
    output:
        f"{RESULTS}/{{prepared}}/motion_strength.csv",
    log:
        f"{LOGS}/class_motion_strength/{{prepared}}.log",
    conda:
        "../../environment.yml"
    params:
        data=lambda w: path_of(w.prepared),
        split=as_json({"holdout": C["holdout"], "val_fraction": C["val_fraction"]}),
    shell:
        "python -m tsgf class_motion_strength --data {params.data} --params {params.split:q} --out {output}"
        " > {log} 2>&1"
