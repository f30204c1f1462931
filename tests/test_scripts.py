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
        path = tmp_path / "benchmarks" / "motion" / rule / "set" / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t0\t0\t0\t0\t0\t0\t{seconds}\n")
    # the jobs' logs: distill a and b report their start-up, evaluate_set c has a log without the line
    for rule, job, text in (("distill", "a", "x INFO start-up to first step: 1.00 s\n"),
                            ("distill", "b", "x INFO start-up to first step: 2.00 s\n"),
                            ("evaluate_set", "c", "x INFO student done\n")):
        log = tmp_path / "logs" / "motion" / rule / "set" / f"{job}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text)
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "rule_times.py"),
                          str(tmp_path / "benchmarks" / "motion")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    distill = next(line for line in run.stdout.splitlines() if line.startswith("| distill"))
    # jobs, total, mean, longest, peak RSS; start-up mean 1.5 s, 3 s in all, a share 3 / 6 of the job time
    assert [cell.strip() for cell in distill.strip("|").split("|")] == ["distill", "2", "6", "3", "4", "300", "1.5",
                                                                        "3", "0.5"]
    student = next(line for line in run.stdout.splitlines() if line.startswith("| evaluate_set"))
    assert [cell.strip() for cell in student.strip("|").split("|")][6:] == ["", "", ""]
    assert "3 benchmarked jobs, 8 s of job time in all, of which 3 s start-up" in run.stdout  # 2 + 4 + 1.5


def test_the_throughput_script_prints_its_figures(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_throughput.py"), "--videos", "8",
                          "--scale", "2", "--work", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "clips/s" in run.stdout and "peak RSS" in run.stdout, run.stdout


def test_the_student_throughput_script_prints_its_figures(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "student_throughput.py"), "--students", "2",
                          "--epochs", "2", "--work", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert any(line.startswith("1. one student per process") and "start-up" in line for line in lines), run.stdout
    assert any(line.startswith("2. 2 students in one process") for line in lines), run.stdout
    assert any(line.startswith("3. one epoch") and "bare loop" in line for line in lines), run.stdout
    assert any(line.startswith("4. one epoch of 2 students: vectorised ensemble") for line in lines), run.stdout

