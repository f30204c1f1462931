# prepared clips -> MTT's expert buffer: networks of the student's architecture trained on the real train split,
# their parameters recorded after every epoch, a few experts per job (`experts.per_job`) so that a cluster trains
# the buffer in parallel. MTT and VDSD sets match these trajectories (training_sets.smk).


rule expert_trajectories:
    input:
        data=lambda w: clipset_files(path_of(EXPERTS[w.experts]["data"])),
        code=stage_code("expert_trajectories"),
    output:
        f"{RESULTS}/{{experts}}/experts{{first}}-{{last}}.pt",
    log:
        f"{LOGS}/expert_trajectories/{{experts}}/experts{{first}}-{{last}}.log",
    benchmark:
        f"{BENCHMARKS}/expert_trajectories/{{experts}}/experts{{first}}-{{last}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(EXPERTS[w.experts]["params"]),
        data=lambda w: path_of(EXPERTS[w.experts]["data"]),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf expert_trajectories --data {params.data} --first {wildcards.first} --last {wildcards.last}"
        " --params {params.spec:q} --out {output} --checkpoint {output}.ckpt --threads {threads}"
        " --device {params.device} --precision {params.precision}"
        " --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"
