"""Config validation: every bad input stops before any job runs, with a message naming the key."""

import subprocess
import sys

import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, SCHEMA
from tsgf.config import (COMMAND_LINE, config_sources, stage_hash, typed_command_line, validate_config,
                         validate_config_sources)
from tsgf.errors import ConfigError


def test_an_empty_config_is_completed_with_defaults():
    config = validate_config({}, SCHEMA)
    assert config["experiment"]["ipcs"] == [1, 5] and config["saliency"]["window"] == 1
    assert config["teacher"]["network"]["arch"] == "convnet3d"


def test_the_shipped_configs_are_valid():
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_config(base, SCHEMA)
    # Snakemake merges a --configfile over the Snakefile's config/config.yaml key by key
    update_config(base, yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    validate_config(base, SCHEMA)


@pytest.mark.parametrize("bad, message", [
    ({"distill": {"lrr": 0.1}}, r"'distill\.lrr' is not known \(did you mean 'distill\.lr'\?\)"),
    ({"distil": {}}, r"'distil' is not known \(did you mean 'distill'\?\)"),
    ({"distill": {"iterations": "many"}}, r"'distill\.iterations' must be of type integer, got \"many\""),
    ({"experiment": {"ipcs": [0, 1]}}, r"'experiment\.ipcs\[0\]' must be >= 1, got 0"),
    ({"distill": {"lr": -0.1}}, r"'distill\.lr' must be > 0, got -0\.1"),
    ({"evaluation": {"train": {"lr": 0}}}, r"'evaluation\.train\.lr' must be > 0, got 0"),
    ({"saliency": {"window": 8}}, r"'saliency\.window' \(k = 8\) must be smaller than the clip length"),
    ({"saliency": {"weights": "gauss"}}, r"'saliency\.weights' must be one of \"uniform\", \"gaussian\""),
    ({"experiment": {"ipcs": [61]}}, r"'experiment\.ipcs' holds 61, more than the 60 training clips"),
    ({"student": {"network": {"depth": 2}}}, r"'student\.network\.spatial_strides' has 3 entries"),
    ({"mtt": {"max_start_epoch": 19}}, r"'mtt\.max_start_epoch' \(19\) \+ 'mtt\.expert_epochs' \(2\) exceed the 20 "
                                       r"epochs of an expert \('experts\.train\.epochs'\)"),
])
def test_bad_values_name_their_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(bad, SCHEMA, source="my.yaml")


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        validate_config({"distill": {"lrr": 1, "iterations": 0}}, SCHEMA)
    assert "distill.lrr" in str(caught.value) and "distill.iterations" in str(caught.value)


def test_addresses_change_with_parameters_only():
    assert stage_hash({"a": 1, "b": 2}) == stage_hash({"b": 2, "a": 1})
    assert stage_hash({"a": 1}) != stage_hash({"a": 2})


def test_snakemake_stops_before_any_job_on_a_bad_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("distill:\n  lrr: 0.1\nexperiment:\n  ipcs: [0]\n")
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(bad),
                          "--directory", str(tmp_path), "--cores", "1"], capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    # each error names the file it came from, relative to the working directory (--directory) below which it lies
    assert "bad.yaml: config key 'distill.lrr' is not known (did you mean 'distill.lr'?)" in output
    assert "bad.yaml: config key 'experiment.ipcs[0]' must be >= 1, got 0" in output
    assert not (tmp_path / "results").exists()


def test_command_line_values_are_typed_as_yaml_types_them_in_a_file():
    # Snakemake hands nested --config values over as strings (YAML's BaseLoader)
    typed = typed_command_line({"threads": 2, "saliency": {"floor": "0.5", "alignment": "central"},
                                "distill": {"augment": {"flip": "true", "crop_scale": ["0.7", "1"]}}})
    assert typed == {"threads": 2, "saliency": {"floor": 0.5, "alignment": "central"},
                     "distill": {"augment": {"flip": True, "crop_scale": [0.7, 1]}}}


def test_each_error_names_the_source_of_its_value():
    files = [("config/config.yaml", {"distill": {"iterations": 200}}), ("mine.yaml", {"distill": {"lr": -1}})]
    with pytest.raises(ConfigError) as caught:
        validate_config_sources(files, {"saliency": {"floor": "x"}}, SCHEMA)
    message = str(caught.value)
    assert "mine.yaml: config key 'distill.lr' must be > 0, got -1" in message
    assert f"{COMMAND_LINE}: config key 'saliency.floor' must be of type number, got \"x\"" in message
    config = validate_config_sources(files[:1], {"saliency": {"floor": "0.5"}}, SCHEMA)
    assert config["saliency"]["floor"] == 0.5 and config["distill"]["iterations"] == 200
    assert config_sources(config, "saliency") == COMMAND_LINE
    assert config_sources(config, "distill") == "config/config.yaml"


def planned_outputs(tmp_path, *args: str) -> set[str]:
    """The outputs a dry run of the default config (plus args) plans, in an empty working directory."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "-n", "all", *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {line.strip() for line in run.stdout.splitlines() if line.strip().startswith("output:")}


def test_a_nested_command_line_override_is_validated_and_reaches_only_what_it_changes(tmp_path):
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "-n", "--config", "saliency={'floor': 'x'}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "the command line (--config): config key 'saliency.floor' must be of type number" in run.stdout + run.stderr
    default, floor = planned_outputs(tmp_path), planned_outputs(tmp_path, "--config", "saliency={'floor': 0.5}")
    changed = {path for line in default ^ floor for path in line.removeprefix("output: ").split(", ")}
    # the floor reaches TSGF's sets and what is made from them, never the data, the teacher or SRe2L's sets
    assert any("/sets/tsgf-" in path for path in changed)
    assert not any(part in path for path in changed for part in ("/prepared-", "/teacher-", "/sets/sre2l-"))
