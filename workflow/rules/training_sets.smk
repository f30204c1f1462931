# teacher -> training sets at each IPC and seed, in the one clip-set format:
#   selected real clips: random (no teacher), herding and k-center coresets (on the teacher's features);
#   synthesised clips: DM (random networks, no teacher), SRe2L (TSGF_O off) and TSGF against the teacher.
# The random real clips of a seed are exactly the clips DM, SRe2L and TSGF of that seed start from. A distilled
# set is made by independent shard jobs (distill.ipc_per_job; one when 0) and a light merge.


# picking rows and concatenating shards take seconds on the CPU: run on the submit host, never queued
localrules:
    random_real,
    select_coreset,
    merge_distilled,


def _set_data(name):
    return clipset_files(path_of(SETS[name]["data"]))


rule random_real:
    input:
        data=lambda w: _set_data(w.random_set),
        code=code("baselines.py"),
    output:
        clipset_files(set_dir("{random_set}", "{ipc}", "{seed}")),
    params:
        spec=lambda w: as_json(SETS[w.random_set]["params"]),
        data=lambda w: path_of(SETS[w.random_set]["data"]),
        out=lambda w: set_dir(w.random_set, w.ipc, w.seed),
    log:
        f"{LOGS}/random_real/{{random_set}}/ipc{{ipc}}-seed{{seed}}.log",
    shell:
        "python -m tsgf random-real --data {params.data} --ipc {wildcards.ipc} --seed {wildcards.seed}"
        " --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule select_coreset:
    input:
        data=lambda w: _set_data(w.coreset),
        features=lambda w: f"{path_of(SETS[w.coreset]['teacher'])}/features.npz",
        code=code("coresets.py"),
    output:
        clipset_files(set_dir("{coreset}", "{ipc}", "{seed}")),
    params:
        spec=lambda w: as_json(SETS[w.coreset]["params"]),
        method=lambda w: SETS[w.coreset]["method"],
        data=lambda w: path_of(SETS[w.coreset]["data"]),
        out=lambda w: set_dir(w.coreset, w.ipc, w.seed),
    log:
        f"{LOGS}/select_coreset/{{coreset}}/ipc{{ipc}}-seed{{seed}}.log",
    shell:
        "python -m tsgf select-coreset --method {params.method} --data {params.data} --features {input.features}"
        " --ipc {wildcards.ipc} --seed {wildcards.seed} --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule distribution_matching:
    input:
        data=lambda w: _set_data(w.dm_set),
        code=code("distill.py", "augment.py", "models.py", "baselines.py", "training.py"),
    output:
        clipset_files(set_dir("{dm_set}", "{ipc}", "{seed}")),
        loss=set_dir("{dm_set}", "{ipc}", "{seed}") + "/loss.csv",
    params:
        spec=lambda w: as_json(SETS[w.dm_set]["params"]),
        data=lambda w: path_of(SETS[w.dm_set]["data"]),
        out=lambda w: set_dir(w.dm_set, w.ipc, w.seed),
        device=C["device"],
        precision=C["precision"],
    threads: C["threads"]
    resources:
        **GPU_JOB,
    log:
        f"{LOGS}/distribution_matching/{{dm_set}}/ipc{{ipc}}-seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/distribution_matching/{{dm_set}}/ipc{{ipc}}-seed{{seed}}.tsv"
    shell:
        "python -m tsgf distribution-matching --data {params.data} --ipc {wildcards.ipc} --seed {wildcards.seed}"
        " --params {params.spec:q} --out {params.out} --checkpoint {params.out}/dm.ckpt " + COMPUTE_FLAGS +
        " > {log} 2>&1"


rule distill:
    input:
        data=lambda w: _set_data(w.distilled_set),
        teacher=lambda w: f"{path_of(SETS[w.distilled_set]['teacher'])}/model.pt",
        code=code("distill.py", "sharding.py", "bn_matching.py", "saliency.py", "augment.py", "models.py",
                  "baselines.py"),
    output:
        set_dir("{distilled_set}", "{ipc}", "{seed}") + "/shards/shard{shard}.npz",
    params:
        spec=lambda w: as_json(SETS[w.distilled_set]["params"]),
        data=lambda w: path_of(SETS[w.distilled_set]["data"]),
        teacher=lambda w: path_of(SETS[w.distilled_set]["teacher"]),
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
        data=lambda w: _set_data(w.distilled_set),
        shards=distill_shards,
    output:
        clipset_files(set_dir("{distilled_set}", "{ipc}", "{seed}")),
        loss=set_dir("{distilled_set}", "{ipc}", "{seed}") + "/loss.csv",
        saliency=set_dir("{distilled_set}", "{ipc}", "{seed}") + "/saliency.npy",
    params:
        spec=lambda w: as_json(SETS[w.distilled_set]["params"]),
        data=lambda w: path_of(SETS[w.distilled_set]["data"]),
        teacher=lambda w: path_of(SETS[w.distilled_set]["teacher"]),
        out=lambda w: set_dir(w.distilled_set, w.ipc, w.seed),
    log:
        f"{LOGS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-merge.log",
    shell:
        "python -m tsgf merge-distilled --data {params.data} --teacher {params.teacher} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --params {params.spec:q} --out {params.out} {input.shards} > {log} 2>&1"
