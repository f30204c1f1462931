# evaluations -> one tidy results table -> the paper-style tables and figures. Final outputs are marked report(...)
# for `snakemake --report report.html`; each caption (workflow/report/*.rst) says what it shows and how it was made.


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
        report(f"{RESULTS}/runs.csv", caption="../report/runs.rst", category="Data"),
    log:
        f"{LOGS}/aggregate_runs.log",
    shell:
        "python -m tsgf aggregate {input.runs} --teacher-metrics {input.teacher} --out {output} > {log} 2>&1"


def _reported_table(path):
    """The CSV of each table goes into the report (the .md and .tex are the same numbers for papers and READMEs)."""
    name = Path(path).stem
    if not path.endswith(".csv"):
        return path
    return report(path, caption=f"../report/{name}_table.rst", category="Tables", labels={"table": name})


rule make_tables:
    input:
        runs=f"{RESULTS}/runs.csv",
        code=code("tables.py"),
    output:
        [_reported_table(path) for path in TABLES],
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
        code=code("figures.py", "optical_flow.py", "clip_export.py"),
    output:
        [report(path, caption=f"../report/{name}.rst", category="Figures", labels={"figure": name})
         for name, path in zip(FIGURE_NAMES, FIGURES)],
        [report(path, caption="../report/clip_gif.rst", category="Clips", labels={"method": method})
         for method, path in CLIP_GIFS.items()],
    params:
        sets=" ".join(f"{method}={d}" for method, d in _strip_sets().items()),
        saliency=json.dumps(C["saliency"]),
        out=f"{RESULTS}/figures",
    log:
        f"{LOGS}/make_figures.log",
    shell:
        "python -m tsgf figures --runs {input.runs} --sets {params.sets} --saliency {params.saliency:q}"
        " --out-dir {params.out} > {log} 2>&1"
