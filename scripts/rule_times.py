"""Time per rule of a finished run, from Snakemake's benchmark files (benchmarks/<dataset>/<rule>/...tsv).

  python scripts/rule_times.py [benchmarks/motion]

Prints one row per rule: jobs, total and mean wall seconds, the longest job, the largest peak RSS that the
benchmark recorded (unreliable under some sandboxes, and in a local run with the warm server only the job's thin
client process: the jobs log their own peak memory, which the cost table reports), and each job's
start-up: the mean seconds from process start to its first training or optimisation step, and that start-up's share
of the rule's job time (read from the line tsgf.startup writes in each job's log, logs/<dataset>/<rule>/...log
beside benchmarks/<dataset>/<rule>/...tsv; empty for rules that take no step). Light rules that run on the submit
host have no benchmark file and are not listed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tsgf.startup import logged_startup_seconds  # noqa: E402  (torch-free)


def job_startup(log: Path) -> float:
    """The start-up seconds a job's log reports; NaN without a log or its line."""
    seconds = logged_startup_seconds(log.read_text(errors="replace")) if log.is_file() else None
    return np.nan if seconds is None else seconds


def rule_times(benchmarks: Path, logs: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        relative = path.relative_to(benchmarks)
        rule = relative.parts[0].removesuffix(".tsv")  # benchmarks/<rule>/...
        figures = pd.read_csv(path, sep="\t")
        startup = job_startup(logs / relative.with_suffix(".log"))  # benchmark and log share a relative path
        rows.append({"rule": rule, "seconds": figures["s"].iloc[0], "max_rss_mb": figures["max_rss"].iloc[0],
                     "startup_s": startup, "stepped_s": np.nan if np.isnan(startup) else figures["s"].iloc[0]})
    jobs = pd.DataFrame(rows, columns=["rule", "seconds", "max_rss_mb", "startup_s", "stepped_s"])
    table = jobs.groupby("rule").agg(jobs=("seconds", "size"), total_s=("seconds", "sum"),
                                     mean_s=("seconds", "mean"), longest_s=("seconds", "max"),
                                     max_rss_mb=("max_rss_mb", "max"), startup_s=("startup_s", "mean"),
                                     startup_sum=("startup_s", "sum"), stepped_sum=("stepped_s", "sum"))
    reported = table["startup_s"].notna()
    table["startup_total_s"] = table.pop("startup_sum").where(reported)
    # the share over the jobs that reported a start-up, so a missing log does not dilute it
    table["startup_share"] = (table["startup_total_s"] / table.pop("stepped_sum")).where(reported)
    return table.sort_values("total_s", ascending=False)


def main() -> None:
    benchmarks = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/motion")
    if not benchmarks.is_dir():
        sys.exit(f"{benchmarks} does not exist: run the workflow first, or name the benchmarks folder of a dataset")
    logs = benchmarks.parent.parent / "logs" / benchmarks.name  # <root>/benchmarks/<dataset> -> <root>/logs/<dataset>
    table = rule_times(benchmarks, logs)
    shown = table.round({"total_s": 1, "mean_s": 1, "longest_s": 1, "max_rss_mb": 1, "startup_s": 2,
                         "startup_total_s": 1, "startup_share": 3})
    print(shown.astype(object).where(shown.notna(), None).to_markdown(missingval=""))
    startup = table["startup_total_s"].sum()
    print(f"\n{int(table['jobs'].sum())} benchmarked jobs, {table['total_s'].sum():.0f} s of job time in all"
          f"{f', of which {startup:.0f} s start-up before the first step' if startup else ''}")


if __name__ == "__main__":
    main()
