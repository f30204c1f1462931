"""environment.yml is generated from pyproject.toml, the single source of dependencies:
`python -m tsgf.environment > environment.yml`. A test checks the committed file is what this renders."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def render_environment(pyproject: Path = PYPROJECT) -> str:
    """A conda environment: Python and pip from conda-forge, every project dependency through pip (torch's pinned
    builds and the Snakemake plugins are pip packages)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    python = project["requires-python"].removeprefix(">=")
    lines = [
        "# Generated from pyproject.toml by `python -m tsgf.environment > environment.yml`; do not edit by hand.",
        "name: tsgf",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
        *(f'      - "{dependency}"' for dependency in project["dependencies"]),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_environment())
