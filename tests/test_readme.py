"""Every command the README shows is run by a test or by CI: a command added to the README without saying here
how it is exercised fails this file, and the workflow commands are dry-run exactly as written."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CI = "CI (.ci/run runs it verbatim)"
DRY_RUN = "dry-run here, as written"

# every command of the README's ```bash blocks -> what runs it: CI, a dry run here, or the named test
COMMANDS = {
    # the main job: dry-run here; the same rules run for real on the tiny config (tests/test_workflow.py)
    "python3 -m pip install -e . && snakemake --cores all": DRY_RUN,
    "python3 -m pip install -e '.[test]' && python3 -m pytest": CI,
    "snakemake --report report.html": "tests/test_workflow.py::test_the_html_report_renders_in_a_browser",
    "snakemake --cores all tables --configfile config/examples/my_experiment.yaml": DRY_RUN,
    "snakemake --cores all --config \"saliency={'floor': 0.5}\"": DRY_RUN,
    "snakemake --cores all --configfile config/paper/protocol.yaml config/paper/miniucf.yaml "
    "config/examples/my_paths.yaml": DRY_RUN,
    "snakemake --cores all prepared --configfile config/paper/protocol.yaml config/paper/miniucf.yaml "
    "config/examples/my_paths.yaml": DRY_RUN,
    "python3 scripts/prepare_throughput.py": "tests/test_scripts.py::test_the_throughput_script_prints_its_figures",
    "python scripts/gpu_timing.py && python scripts/gpu_timing.py --precision bf16":
        "tests/test_gpu_timing.py::test_the_timing_script_prints_both_figures",
    "snakemake --workflow-profile workflow/profiles/slurm":
        "tests/test_slurm.py::test_the_tiny_workflow_runs_through_slurm_and_a_cancelled_attempt_is_retried",
    "python3 -m pytest -m \"not e2e\"": "CI runs the whole suite, of which this is the part without Snakemake runs",
    "python -m tsgf.environment > environment.yml":
        "tests/test_environment.py::test_environment_yml_is_generated_from_pyproject",
    "python -m tsgf.config_docs --write":
        "tests/test_config_docs.py::test_the_key_tables_are_generated_from_the_schema",
    "python3 scripts/rule_times.py": "tests/test_scripts.py::test_rule_times_sums_each_rules_benchmarks",
    "python3 scripts/student_throughput.py":
        "tests/test_scripts.py::test_the_student_throughput_script_prints_its_figures",
    "snakemake --lint": CI,
    "CI=true bash .ci/run": CI,
}


def readme_commands() -> list[str]:
    """The lines of the README's ```bash blocks (comments and blank lines aside)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", (REPO / "README.md").read_text(), flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_every_readme_command_is_exercised():
    shown = readme_commands()
    assert set(shown) == set(COMMANDS), (f"new in the README (say here how each is run): {set(shown) - set(COMMANDS)};"
                                         f" no longer in the README: {set(COMMANDS) - set(shown)}")


@pytest.mark.parametrize("command", [c for c, how in COMMANDS.items() if "::" in how])
def test_the_test_that_runs_a_command_exists(command):
    path, name = COMMANDS[command].split("::")
    assert f"def {name}(" in (REPO / path).read_text(), f"{COMMANDS[command]} does not exist"


@pytest.mark.parametrize("command", [c for c, how in COMMANDS.items() if how == DRY_RUN])
def test_each_workflow_command_plans(command):
    """Dry-run the Snakemake part exactly as the README writes it (with -n appended)."""
    workflow = command.split("&&")[-1].strip()
    run = subprocess.run([*shlex.split(workflow), "-n", "--quiet"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]


def test_the_ci_script_runs_the_readme_test_command_verbatim():
    ci = (REPO / ".ci" / "run").read_text()
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest" in ci.splitlines()
    assert "snakemake --lint" in ci and "snakefmt --check" in ci
