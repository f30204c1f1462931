# evaluations -> one tidy results table -> the paper-style tables and figures.


# seconds of CPU on small files: run on the submit host, never queued on a cluster
localrules:
    aggregate_runs,
    make_tables,
    make_figures,


rule aggregate_runs:
    input:
        runs=evaluation_results(),
        teacher=f"{TEACHER}/metrics.json",
    output:
        f"{RESULTS}/runs.csv",
    log:
        f"{LOGS}/aggregate_runs.log",
    shell:
        "python -m tsgf aggregate {input.runs} --teacher-metrics {input.teacher} --out {output} > {log} 2>&1"


rule make_tables:
    input:
        runs=f"{RESULTS}/runs.csv",
        code=code("tables.py"),
    output:
        TABLES,
    params:
        out=f"{RESULTS}/tables",
    log:
        f"{LOGS}/make_tables.log",
    shell:
        "python -m tsgf tables --runs {input.runs} --out-dir {params.out} > {log} 2>&1"


def _strip_sets():
    """The clip sets drawn as frame strips: each method's set at the largest IPC, first seed."""
    ipc, seed = max(IPCS), SEEDS[0]
    return {method: set_dir(SET_NAMES[method], ipc, seed) for method in C["experiment"]["methods"]}


rule make_figures:
    input:
        runs=f"{RESULTS}/runs.csv",
        sets=[f"{d}/clips.npy" for d in _strip_sets().values()],
        code=code("figures.py"),
    output:
        FIGURES,
    params:
        sets=" ".join(f"{method}={d}" for method, d in _strip_sets().items()),
        saliency=json.dumps(C["saliency"]),
        out=f"{RESULTS}/figures",
    log:
        f"{LOGS}/make_figures.log",
    shell:
        "python -m tsgf figures --runs {input.runs} --sets {params.sets} --saliency {params.saliency:q}"
        " --out-dir {params.out} > {log} 2>&1"
