"""TSGF: video dataset distillation with temporal saliency, as a reproducible pipeline.

Each Snakemake rule is one stage of the same name, run as `python -m tsgf <stage>` (tsgf/cli.py), handled by the
function of that name in tsgf/stages/<rule file>.py. See README.md for the workflow that chains them.
"""

__version__ = "0.1.0"
