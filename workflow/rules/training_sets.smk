# teacher -> training sets at each IPC and seed, in the one clip-set format:
#   selected real clips: random (no teacher), herding and k-center coresets (on the teacher's features);
#   synthesised clips: DM (random networks, no teacher), MTT and VDSD (the expert buffer of experts.smk), SRe2L
#   (TSGF_O off) and TSGF against the teacher.
# The random real clips of a seed are exactly the clips DM, SRe2L and TSGF of that seed start from. A distilled
# set is made by independent shard jobs (distill.ipc_per_job; one when 0) and a light merge.


# picking rows and concatenating shards take seconds on the CPU: run on the submit host, never queued
localrules:
    random_real,
    select_coreset,
    merge_distilled,


rule random_real:
    input:
        data=lambda w: set_data(w.random_set),
        code=stage_code("random_real"),
    output:
        clipset_files(set_path("random_set")),
    log:
        f"{LOGS}/random_real/{{random_set}}/ipc{{ipc}}-seed{{seed}}.log",
    conda:
        "../../environment.yml"
    params:
        spec=lambda w: as_json(SETS[w.random_set]["params"]),
        data=lambda w: path_of(SETS[w.random_set]["data"]),
        out=lambda w: set_dir(w.random_set, w.ipc, w.seed),
    shell:
        "python -m tsgf random_real --data {params.data} --ipc {wildcards.ipc} --seed {wildcards.seed}"
        " --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule select_coreset:
    input:
        data=lambda w: set_data(w.coreset),
        features=lambda w: f"{path_of(SETS[w.coreset]['teacher'])}/features.npz",
        code=stage_code("select_coreset"),
    output:
        clipset_files(set_path("coreset")),
    log:
        f"{LOGS}/select_coreset/{{coreset}}/ipc{{ipc}}-seed{{seed}}.log",
    conda:
        "../../environment.yml"
    params:
        spec=lambda w: as_json(SETS[w.coreset]["params"]),
        method=lambda w: SETS[w.coreset]["method"],
        data=lambda w: path_of(SETS[w.coreset]["data"]),
        out=lambda w: set_dir(w.coreset, w.ipc, w.seed),
    shell:
        "python -m tsgf select_coreset --method {params.method} --data {params.data} --features {input.features}"
        " --ipc {wildcards.ipc} --seed {wildcards.seed} --params {params.spec:q} --out {params.out} > {log} 2>&1"


rule distribution_matching:
    input:
        data=lambda w: set_data(w.dm_set),
        code=stage_code("distribution_matching"),
    output:
        clipset_files(set_path("dm_set")),
        loss=set_path("dm_set", "loss.csv"),
    log:
        f"{LOGS}/distribution_matching/{{dm_set}}/ipc{{ipc}}-seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/distribution_matching/{{dm_set}}/ipc{{ipc}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(SETS[w.dm_set]["params"]),
        data=lambda w: path_of(SETS[w.dm_set]["data"]),
        out=lambda w: set_dir(w.dm_set, w.ipc, w.seed),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf distribution_matching --data {params.data} --ipc {wildcards.ipc} --seed {wildcards.seed}"
        " --params {params.spec:q} --out {params.out} --checkpoint {params.out}/dm.ckpt --threads {threads}"
        " --device {params.device} --precision {params.precision}"
        " --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule match_trajectories:
    input:
        data=lambda w: set_data(w.trajectory_set),
        experts=lambda w: PLAN.expert_files(w.trajectory_set),
        code=stage_code("match_trajectories"),
    output:
        clipset_files(set_path("trajectory_set")),
        loss=set_path("trajectory_set", "loss.csv"),
    log:
        f"{LOGS}/match_trajectories/{{trajectory_set}}/ipc{{ipc}}-seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/match_trajectories/{{trajectory_set}}/ipc{{ipc}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(SETS[w.trajectory_set]["params"]),
        method=lambda w: SETS[w.trajectory_set]["method"],
        data=lambda w: path_of(SETS[w.trajectory_set]["data"]),
        out=lambda w: set_dir(w.trajectory_set, w.ipc, w.seed),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf match_trajectories --method {params.method} --data {params.data} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --params {params.spec:q} --out {params.out} --checkpoint {params.out}/mtt.ckpt"
        " --threads {threads} --device {params.device} --precision {params.precision}"
        " --checkpoint-every {resources.checkpoint_seconds} {input.experts} > {log} 2>&1"


rule distill:
    input:
        data=lambda w: set_data(w.distilled_set),
        teacher=lambda w: f"{path_of(SETS[w.distilled_set]['teacher'])}/model.pt",
        code=stage_code("distill"),
    output:
        set_path("distilled_set", "shards/shard{shard}.npz"),
    log:
        f"{LOGS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-shard{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/distill/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}-shard{{shard}}.tsv"
    conda:
        "../../environment.yml"
    threads: C["threads"]
    resources:
        **GPU_JOB,
    params:
        spec=lambda w: as_json(SETS[w.distilled_set]["params"]),
        data=lambda w: path_of(SETS[w.distilled_set]["data"]),
        teacher=lambda w: path_of(SETS[w.distilled_set]["teacher"]),
        device=C["device"],
        precision=C["precision"],
    shell:
        "python -m tsgf distill --data {params.data} --teacher {params.teacher} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --shard {wildcards.shard} --params {params.spec:q} --out {output}"
        " --checkpoint {output}.ckpt --threads {threads} --device {params.device} --precision {params.precision}"
        " --checkpoint-every {resources.checkpoint_seconds} > {log} 2>&1"


rule merge_distilled:
    input:
        data=lambda w: set_data(w.distilled_set),
        shards=distill_shards,
        code=stage_code("merge_distilled"),
    output:
        clipset_files(set_path("distilled_set")),
        loss=set_path("distilled_set", "loss.csv"),
        saliency=set_path("distilled_set", "saliency.npy"),
    log:
        f"{LOGS}/merge_distilled/{{distilled_set}}/ipc{{ipc}}-seed{{seed}}.log",
    conda:
        "../../environment.yml"
    params:
        spec=lambda w: as_json(SETS[w.distilled_set]["params"]),
        data=lambda w: path_of(SETS[w.distilled_set]["data"]),
        teacher=lambda w: path_of(SETS[w.distilled_set]["teacher"]),
        out=lambda w: set_dir(w.distilled_set, w.ipc, w.seed),
    shell:
        "python -m tsgf merge_distilled --data {params.data} --teacher {params.teacher} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} --params {params.spec:q} --out {params.out} {input.shards} > {log} 2>&1"
