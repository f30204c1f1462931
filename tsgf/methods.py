"""The training sets and student augmentations the workflow knows: the one list of each (the schema's enums are
checked against them by tests/test_stages.py)."""

# Training sets, in table order: real clips picked at random or as coresets on the teacher's features, or
# synthesised (distribution matching with random networks; the bi-level baselines, trajectory matching against a
# buffer of expert trajectories, plain (MTT) or static-dynamic (VDSD); SRe2L and TSGF against the teacher).
METHODS = ("random_real", "herding", "kcenter", "dm", "mtt", "vdsd", "sre2l", "tsgf")
CORESET_METHODS = ("herding", "kcenter")
TRAJECTORY_METHODS = ("mtt", "vdsd")
DISTILLED_METHODS = {"sre2l": False, "tsgf": True}  # synthesised against the teacher; name -> TSGF_O enabled
AUGMENTATIONS = ("none", "tsgf_a")
# What a student on a training set learns from: the set's class labels, or the teacher's (SRe2L's relabelling)
LABEL_KINDS = ("hard", "soft")

__all__ = ["METHODS", "CORESET_METHODS", "TRAJECTORY_METHODS", "DISTILLED_METHODS", "AUGMENTATIONS",
           "LABEL_KINDS"]
