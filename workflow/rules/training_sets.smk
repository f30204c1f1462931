# teacher -> training sets at each IPC and seed: random real clips, and the distilled sets (SRe2L = TSGF_O off,
# TSGF = TSGF_O on). The random real clips of a seed are exactly the clips its distillation starts from.
# A distilled set is made by independent shard jobs (distill.ipc_per_job; one when 0) and a light merge.


# picking rows and concatenating shards take seconds on the CPU: run on the submit host, never queued
localrules:
    random_real,
    merge_distilled,


rule random_real:
    input:
        data=clipset_files(PREPARED),
        code=code("baselines.py"),
    output:
        clipset_files(set_dir(SET_NAMES["random_real"], "{ipc}", "{seed}")),
    params:
        spec=json.dumps(SET_PARAMS["random_real"]),
        data=PREPARED,
        out=lambda w: set_dir(SET_NAMES["random_real"], w.ipc, w.seed),
    log:
        f"{LOGS}/random_real/ipc{{ipc}}-seed{{seed}}.log",
    shell:
        "python -m tsgf random-real --data {params.data} --ipc {wildcards.ipc} --seed {wildcards.seed}"
        " --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule distill:
    input:
        data=clipset_files(PREPARED),
        teacher=f"{TEACHER}/model.pt",
        code=code("distill.py", "sharding.py", "bn_matching.py", "saliency.py", "augment.py", "models.py",
                  "baselines.py"),
    output:
        set_dir("{distilled_set}", "{ipc}", "{seed}") + "/shards/shard{shard}.npz",
    params:
        spec=lambda w: json.dumps(SET_PARAMS[METHOD_OF_SET[w.distilled_set]]),
        data=PREPARED,
        teacher=TEACHER,
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-shard{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-shard{{shard}}.tsv"
    shell:
        "python -m tsgf distill --data {params.data} --teacher {params.teacher} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --shard {wildcards.shard} --params {params.spec:q} --out {output}"
        " --checkpoint {output}.ckpt " + COMPUTE_FLAGS + " > {log} 2>&1"


rule merge_distilled:
    input:
        data=clipset_files(PREPARED),
        shards=distill_shards,
    output:
        clipset_files(set_dir("{distilled_set}", "{ipc}", "{seed}")),
        loss=set_dir("{distilled_set}", "{ipc}", "{seed}") + "/loss.csv",
        saliency=set_dir("{distilled_set}", "{ipc}", "{seed}") + "/saliency.npy",
    params:
        spec=lambda w: json.dumps(SET_PARAMS[METHOD_OF_SET[w.distilled_set]]),
        data=PREPARED,
        teacher=TEACHER,
        out=lambda w: set_dir(w.distilled_set, w.ipc, w.seed),
    log:
        f"{LOGS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-merge.log",
    shell:
        "python -m tsgf merge-distilled --data {params.data} --teacher {params.teacher} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --params {params.spec:q} --out {params.out} {input.shards} > {log} 2>&1"
