"""TSGF: video dataset distillation with temporal saliency, as a reproducible pipeline.

Stages (one CLI each, `python -m tsgf <stage>`): prepare, train-teacher, random-real, distill, evaluate,
aggregate, tables, figures. See README.md for the workflow that chains them.
"""

__version__ = "0.1.0"
