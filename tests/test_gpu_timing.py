"""The GPU timing script runs (here on the CPU, at a toy scale) and prints its figures."""

import re
import subprocess
import sys

from conftest import REPO


def test_the_timing_script_prints_both_figures():
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_timing.py"), "--device", "cpu", "--threads", "1",
                          "--classes", "3", "--frames", "4", "--size", "16", "--iterations", "2", "--epochs", "1",
                          "--ipc", "1", "--batch-size", "4", "--test-clips", "6", "--warmup", "1"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"distillation shard: 3 clips x 2 iterations in [\d.]+ s \([\d.]+ ms/iteration", run.stdout)
    assert re.search(r"student evaluation: IPC 1 \(3 clips\), 1 epochs in [\d.]+ s", run.stdout)
    assert "device: cpu" in run.stdout
