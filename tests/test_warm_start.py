"""The warm server of a local run (tsgf/warm_start.py): a compute stage run in one of its children writes the bits
a fresh process writes, a killed job takes its child with it, no server means the job runs in its own process,
and the server leaves with the process that started it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_resume import EVALUATE, students, workspace  # noqa: F401 - the tiny data set, teacher and set
from tsgf.warm_start import SERVER_VARIABLE, start_server, stop_server

CHILD_LINE = re.compile(r"running in child (\d+) of the warm server")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("warm")
    path = Path(f"/tmp/tsgf-test-{os.getpid()}.sock")  # a socket path must stay under ~100 characters
    pid = start_server(path, directory / "server.log", wait_seconds=60)
    yield path
    stop_server(pid)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie left for its parent to reap does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def student_command(workspace: Path, out: Path, epochs: int = 40) -> list[str]:
    params = {**EVALUATE, "train": {**EVALUATE["train"], "epochs": epochs}}
    return [sys.executable, "-m", "tsgf", "evaluate_set", "--data", str(workspace / "data"), "--train-sets",
            str(workspace / "set"), "--seeds", "4", "--method", "random_real", "--augmentation", "tsgf_a",
            "--params", json.dumps(params), "--out", str(out), "--device", "cpu", "--threads", "1"]


def run_with(server_path: Path | None, command: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != SERVER_VARIABLE}
    if server_path is not None:
        env[SERVER_VARIABLE] = str(server_path)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_stage_run_by_the_warm_server_writes_the_bits_of_a_fresh_process(workspace, server, tmp_path):  # noqa: F811
    fresh = run_with(None, student_command(workspace, tmp_path / "fresh.json"))
    warm = run_with(server, student_command(workspace, tmp_path / "warm.json"))
    assert not CHILD_LINE.search(fresh.stderr) and CHILD_LINE.search(warm.stderr)
    # the child logs into the job's own stream, start-up line included, counted from the job's process start
    assert "start-up to first step" in warm.stderr
    expected, result = students(tmp_path / "fresh.json")[4], students(tmp_path / "warm.json")[4]
    for key in ("accuracy", "pair_accuracy", "per_class_accuracy", "final_train_loss", "final_train_accuracy"):
        assert expected[key] == result[key], key


def test_a_failing_stage_reports_its_error_and_status_through_the_server(server, tmp_path):
    command = [sys.executable, "-m", "tsgf", "evaluate_full_data", "--data", str(tmp_path / "missing"), "--seeds",
               "0", "--params", "{}", "--out", str(tmp_path / "out.json"), "--device", "cpu"]
    env = {**os.environ, SERVER_VARIABLE: str(server)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert CHILD_LINE.search(done.stderr)
    assert done.returncode == 2 and "tsgf evaluate_full_data: error:" in done.stderr and "missing" in done.stderr


def test_a_killed_job_takes_its_child_with_it(workspace, server, tmp_path):  # noqa: F811
    log = tmp_path / "job.log"
    env = {**os.environ, SERVER_VARIABLE: str(server)}
    with log.open("w") as stream:
        job = subprocess.Popen(student_command(workspace, tmp_path / "never.json", epochs=100_000), stdout=stream,
                               stderr=stream, env=env)
    deadline = time.monotonic() + 60
    while not (found := CHILD_LINE.search(log.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found, log.read_text()[-2000:]
    child = int(found.group(1))
    job.send_signal(signal.SIGKILL)
    job.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the server left the killed job's child running"
    assert not (tmp_path / "never.json").exists()


def test_without_a_server_the_job_runs_in_its_own_process(workspace, tmp_path):  # noqa: F811
    """A server named but not there (it left, or a cluster node without one): the job runs itself."""
    job = run_with(tmp_path / "no-such.sock", student_command(workspace, tmp_path / "alone.json", epochs=2))
    assert not CHILD_LINE.search(job.stderr) and (tmp_path / "alone.json").exists()


def test_the_server_leaves_with_the_process_that_started_it(tmp_path):
    starter = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from tsgf.warm_start import start_server; "
         f"print(start_server(Path('/tmp/tsgf-test-{os.getpid()}-b.sock'), Path(sys.argv[1]), 60))",
         str(tmp_path / "server.log")], capture_output=True, text=True, timeout=120)
    assert starter.returncode == 0, starter.stderr[-2000:]
    pid = int(starter.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the server outlived the process that started it"
    assert not Path(f"/tmp/tsgf-test-{os.getpid()}-b.sock").exists()
