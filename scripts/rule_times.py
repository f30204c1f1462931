"""Time per rule of a finished run, from Snakemake's benchmark files (benchmarks/<dataset>/<rule>/...tsv).

  python scripts/rule_times.py [benchmarks/motion]

Prints one row per rule: jobs, total and mean wall seconds, the longest job, and the largest peak RSS that the
benchmark recorded (unreliable under some sandboxes: the jobs log their own peak memory too). Light rules that run
on the submit host have no benchmark file and are not listed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def rule_times(benchmarks: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        rule = path.relative_to(benchmarks).parts[0].removesuffix(".tsv")  # benchmarks/<rule>/...
        figures = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "seconds": figures["s"].iloc[0],
                     "max_rss_mb": figures["max_rss"].iloc[0]})
    jobs = pd.DataFrame(rows, columns=["rule", "seconds", "max_rss_mb"])
    table = jobs.groupby("rule").agg(jobs=("seconds", "size"), total_s=("seconds", "sum"),
                                     mean_s=("seconds", "mean"), longest_s=("seconds", "max"),
                                     max_rss_mb=("max_rss_mb", "max"))
    return table.sort_values("total_s", ascending=False)


def main() -> None:
    benchmarks = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/motion")
    if not benchmarks.is_dir():
        sys.exit(f"{benchmarks} does not exist: run the workflow first, or name the benchmarks folder of a dataset")
    table = rule_times(benchmarks)
    print(table.round(1).to_markdown())
    print(f"\n{int(table['jobs'].sum())} benchmarked jobs, {table['total_s'].sum():.0f} s of job time in all")


if __name__ == "__main__":
    main()
