# evaluations -> one tidy results table per ablation ("main" is the main experiment) -> the paper-style tables and
# figures. Final outputs are marked report(...) for `snakemake --report report.html`; each caption
# (workflow/report/*.rst) says what it shows and how it was made.


# seconds of CPU on small files: run on the submit host, never queued on a cluster
localrules:
    aggregate_runs,
    make_tables,
    make_figures,


rule aggregate_runs:
    input:
        runs=lambda w: PLAN.result_files(w.ablation),
        teachers=lambda w: sorted({f"{path_of(v['teacher'])}/metrics.json" for v in PLAN.runs[w.ablation]}),
        code=stage_code("aggregate_runs"),
    output:
        report(
            f"{RESULTS}/runs/{{ablation}}.csv",
            caption="../report/runs.rst",
            category="Data",
            labels={"runs": "{ablation}"},
        ),
    log:
        f"{LOGS}/aggregate_runs/{{ablation}}.log",
    conda:
        "../../environment.yml"
    params:
        variants=lambda w: as_json(aggregate_variants(w.ablation)),
    shell:
        "python -m tsgf aggregate_runs {input.runs} --ablation {wildcards.ablation} --variants {params.variants:q}"
        " --out {output} > {log} 2>&1"


rule make_tables:
    input:
        runs=RUN_TABLES,
        motion_strength=f"{path_of(MAIN['prepared'])}/motion_strength.csv",
        order_blind=ORDER_BLIND,
        cited=CITED_RESULTS,
        code=stage_code("make_tables"),
    output:
        [reported_table(path) for path in TABLES],
    log:
        f"{LOGS}/make_tables.log",
    conda:
        "../../environment.yml"
    params:
        ablations=ABLATION_SPECS,
        order_blind=lambda w, input: f"--order-blind {input.order_blind}" if input.order_blind else "",
        out=subpath(output[0], parent=True),
    shell:
        "python -m tsgf make_tables --runs {input.runs} --ablations {params.ablations:q}"
        " --motion-strength {input.motion_strength} {params.order_blind} --out-dir {params.out} > {log} 2>&1"


rule make_figures:
    input:
        runs=RUN_TABLES,
        sets=[f"{d}/clips.npy" for d in strip_sets().values()],
        scaling=[f"{point['set']}/meta.json" for point in PLAN.scaling],
        code=stage_code("make_figures"),
    output:
        [reported_figure(name, path) for name, path in zip(FIGURE_NAMES, FIGURES)],
        [
            report(path, caption="../report/clip_gif.rst", category="Clips", labels={"method": method})
            for method, path in CLIP_GIFS.items()
        ],
        # the cost-scaling figure's numbers
        [f"{RESULTS}/figures/cost_scaling.csv"] if PLAN.scaling else [],
    log:
        f"{LOGS}/make_figures.log",
    conda:
        "../../environment.yml"
    params:
        sets=" ".join(f"{method}={d}" for method, d in strip_sets().items()),
        saliency=as_json(C["saliency"]),
        ablations=ABLATION_SPECS,
        scaling=as_json(PLAN.scaling),
        out=subpath(output[0], parent=True),
    shell:
        "python -m tsgf make_figures --runs {input.runs} --sets {params.sets} --saliency {params.saliency:q}"
        " --ablations {params.ablations:q} --scaling {params.scaling:q} --out-dir {params.out} > {log} 2>&1"
