# evaluations -> one tidy results table per ablation ("main" is the main experiment) -> the paper-style tables and
# figures. Final outputs are marked report(...) for `snakemake --report report.html`; each caption
# (workflow/report/*.rst) says what it shows and how it was made.


# seconds of CPU on small files: run on the submit host, never queued on a cluster
localrules:
    aggregate_runs,
    make_tables,
    make_figures,


def _variants(ablation):
    """What the aggregate stage needs to tag each result: per variant its label, overrides, whether it is the
    base config's value, its teacher's metrics and how many of the listed results are its own."""
    return [{"label": v["label"], "overrides": v["overrides"], "default": v["default"],
             "teacher_metrics": f"{path_of(v['teacher'])}/metrics.json", "count": len(v["results"])}
            for v in PLAN.runs[ablation]]


rule aggregate_runs:
    input:
        runs=lambda w: PLAN.result_files(w.ablation),
        teachers=lambda w: sorted({f"{path_of(v['teacher'])}/metrics.json" for v in PLAN.runs[w.ablation]}),
        code=code("cli.py"),
    output:
        report(f"{RESULTS}/runs/{{ablation}}.csv", caption="../report/runs.rst", category="Data",
               labels={"runs": "{ablation}"}),
    params:
        variants=lambda w: as_json(_variants(w.ablation)),
    log:
        f"{LOGS}/aggregate_runs/{{ablation}}.log",
    shell:
        "python -m tsgf aggregate {input.runs} --ablation {wildcards.ablation} --variants {params.variants:q}"
        " --out {output} > {log} 2>&1"


def _reported_table(path):
    """The CSV of each table goes into the report (the .md and .tex are the same numbers for papers and READMEs)."""
    name = Path(path).stem
    if not path.endswith(".csv"):
        return path
    if name.startswith("ablation_"):
        return report(path, caption="../report/sweep_table.rst", category="Ablations", labels={"item": name})
    return report(path, caption=f"../report/{name}_table.rst", category="Tables", labels={"table": name})


# what the tables and figures say of each ablation: its title and swept keys
ABLATION_SPECS = as_json({name: {"title": spec["title"], "keys": list(spec["sweep"])}
                             for name, spec in selected_ablations(C).items()})
RUN_TABLES = [f"{RESULTS}/runs/{name}.csv" for name in ABLATIONS]


rule make_tables:
    input:
        runs=RUN_TABLES,
        motion_strength=f"{path_of(MAIN['prepared'])}/motion_strength.csv",
        code=code("tables.py"),
    output:
        [_reported_table(path) for path in TABLES],
    params:
        ablations=ABLATION_SPECS,
        out=f"{RESULTS}/tables",
    log:
        f"{LOGS}/make_tables.log",
    shell:
        "python -m tsgf tables --runs {input.runs} --ablations {params.ablations:q}"
        " --motion-strength {input.motion_strength} --out-dir {params.out} > {log} 2>&1"


def _strip_sets():
    """The clip sets drawn as frame strips: each method's set of the main experiment at its largest IPC, first
    seed."""
    ipc, seed = max(IPCS), SEEDS[0]
    return {method: set_dir(MAIN["sets"][method], ipc, seed) for method in C["experiment"]["methods"]}


def _figure(name, path):
    if name.startswith("ablation_"):
        return report(path, caption="../report/sweep_figure.rst", category="Ablations",
                      labels={"item": name + " (figure)"})
    return report(path, caption=f"../report/{name}.rst", category="Figures", labels={"figure": name})


rule make_figures:
    input:
        runs=RUN_TABLES,
        sets=[f"{d}/clips.npy" for d in _strip_sets().values()],
        code=code("figures.py", "optical_flow.py", "clip_export.py"),
    output:
        [_figure(name, path) for name, path in zip(FIGURE_NAMES, FIGURES)],
        [report(path, caption="../report/clip_gif.rst", category="Clips", labels={"method": method})
         for method, path in CLIP_GIFS.items()],
    params:
        sets=" ".join(f"{method}={d}" for method, d in _strip_sets().items()),
        saliency=as_json(C["saliency"]),
        ablations=ABLATION_SPECS,
        out=f"{RESULTS}/figures",
    log:
        f"{LOGS}/make_figures.log",
    shell:
        "python -m tsgf figures --runs {input.runs} --sets {params.sets} --saliency {params.saliency:q}"
        " --ablations {params.ablations:q} --out-dir {params.out} > {log} 2>&1"
