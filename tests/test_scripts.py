"""The measurement scripts of scripts/ run and print their figures (they assert nothing themselves)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_rule_times_sums_each_rules_benchmarks(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rule, job, seconds, rss in (("distill", "a", 2.0, 100.0), ("distill", "b", 4.0, 300.0),
                                    ("evaluate_set", "c", 1.5, 50.0)):
        path = tmp_path / rule / "set" / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t0\t0\t0\t0\t0\t0\t{seconds}\n")
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "rule_times.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    distill = next(line for line in run.stdout.splitlines() if line.startswith("| distill"))
    assert [cell.strip() for cell in distill.strip("|").split("|")][:6] == ["distill", "2", "6", "3", "4", "300"]
    assert "3 benchmarked jobs, 8 s of job time" in run.stdout  # 2 + 4 + 1.5, rounded


def test_the_throughput_script_prints_its_figures(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_throughput.py"), "--videos", "8",
                          "--scale", "2", "--work", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "clips/s" in run.stdout and "peak RSS" in run.stdout, run.stdout
