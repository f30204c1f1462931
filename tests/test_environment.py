"""environment.yml agrees with pyproject.toml (it is generated from it)."""

import yaml

from conftest import REPO
from tsgf.environment import render_environment


def test_environment_yml_is_generated_from_pyproject():
    committed = (REPO / "environment.yml").read_text()
    assert committed == render_environment(), "regenerate: python -m tsgf.environment > environment.yml"
    pip = yaml.safe_load(committed)["dependencies"][-1]["pip"]
    assert "torch==2.14.1" in pip and any(d.startswith("snakemake[reports]>=9") for d in pip)
