"""Config validation (JSON Schema with defaults, plus checks that span keys) and parameter addressing.

Errors name the key, the value and what to do, e.g.
  config key 'distill.lrr' is not known (did you mean 'distill.lr'?)
and are raised before any job runs.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tsgf.coresets import CORESET_METHODS
from tsgf.datasets import clip_frames
from tsgf.datasets.layouts import EXPECTED_LAYOUT
from tsgf.errors import ConfigError

# Training sets, in table order: real clips picked at random or as coresets on the teacher's features, or
# synthesised (distribution matching with random networks; SRe2L and TSGF against the teacher).
METHODS = ("random_real", "herding", "kcenter", "dm", "sre2l", "tsgf")
DISTILLED_METHODS = {"sre2l": False, "tsgf": True}  # synthesised against the teacher; name -> TSGF_O enabled
AUGMENTATIONS = ("none", "tsgf_a")


def _key(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _fill_defaults(validator_class: type) -> type:
    """A validator that also writes each property's `default` into the instance (nested objects included)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _fill_defaults(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    key = _key(list(error.absolute_path))
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        parts = []
        for name in unknown:
            full = _key(list(error.absolute_path) + [name])
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{_key(list(error.absolute_path) + [close[0]])}'?)" if close else ""
            parts.append(f"{source}: config key '{full}' is not known{hint}; known keys here: {', '.join(known)}")
        return "\n".join(parts)
    value = json.dumps(error.instance)
    if error.validator == "type":
        return f"{source}: config key '{key}' must be of type {error.validator_value}, got {value}"
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return (f"{source}: config key '{key}' must be {relation[error.validator]} {error.validator_value}, "
                f"got {value}")
    if error.validator == "enum":
        choices = ", ".join(json.dumps(c) for c in error.validator_value)
        return f"{source}: config key '{key}' must be one of {choices}, got {value}"
    if error.validator == "required":
        return f"{source}: config section '{key}' lacks a required key: {error.message}"
    return f"{source}: config key '{key}' is invalid ({error.message}), got {value}"


def _check_relations(config: dict[str, Any], source: str) -> list[str]:
    """Checks JSON Schema cannot express: values that must agree with each other."""
    problems = []
    dataset = config["dataset"]
    frames = clip_frames(dataset)
    window = config["saliency"]["window"]
    if window >= frames:
        problems.append(f"{source}: config key 'saliency.window' (k = {window}) must be smaller than the clip "
                        f"length ({frames} frames)")
    for role in ("student", "teacher"):
        network = config[role]["network"]
        if len(network["spatial_strides"]) != network["depth"]:
            problems.append(f"{source}: config key '{role}.network.spatial_strides' has "
                            f"{len(network['spatial_strides'])} entries but '{role}.network.depth' is "
                            f"{network['depth']}: give one stride per block")
    if dataset["layout"] == "motion":
        train_per_class = dataset["motion"]["train_per_class"]
        if config["holdout"] == "val":
            train_per_class -= max(1, round(config["val_fraction"] * train_per_class))
        asked = {"experiment.ipcs": config["experiment"]["ipcs"]}
        asked.update({f"ablations.{name}.ipcs": spec["ipcs"] for name, spec in config.get("ablations", {}).items()})
        for key, ipcs in asked.items():
            for ipc in ipcs:
                if ipc > train_per_class:
                    problems.append(f"{source}: config key '{key}' holds {ipc}, more than the {train_per_class} "
                                    f"training clips per class: lower it or generate more clips")
    else:
        problems += _check_real_dataset(dataset, source)
    for key in ("crop_scale", "erase_area"):
        pair = config["evaluation"]["tsgf_a"][key]
        if pair[0] > pair[1]:
            problems.append(f"{source}: config key 'evaluation.tsgf_a.{key}' must be [low, high], got {pair}")
    crop = config["distill"]["augment"]["crop_scale"]
    if crop[0] > crop[1]:
        problems.append(f"{source}: config key 'distill.augment.crop_scale' must be [low, high], got {crop}")
    return problems


def _check_real_dataset(dataset: dict[str, Any], source: str) -> list[str]:
    layout, problems = dataset["layout"], []
    if not dataset["root"]:
        problems.append(f"{source}: config key 'dataset.root' is required for dataset.layout '{layout}': set it to "
                        f"the folder holding {EXPECTED_LAYOUT[layout]}")
    if dataset["classes"] == "miniucf" and layout != "ucf101":
        problems.append(f"{source}: config key 'dataset.classes' is 'miniucf', a subset of UCF101, but "
                        f"dataset.layout is '{layout}': use layout ucf101 or another class list")
    clip = dataset["clip"]
    if clip["crop"] is not None and clip["crop"] > min(clip["resize"]):
        problems.append(f"{source}: config key 'dataset.clip.crop' ({clip['crop']}) is larger than the resized "
                        f"frame dataset.clip.resize = {clip['resize']}")
    return problems


def validate_config(config: dict[str, Any], schema_path: str | Path, source: str = "config") -> dict[str, Any]:
    """Validate `config` against the schema and fill in defaults; returns the completed copy.

    Raises ConfigError listing every problem found, each naming its key.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    completed = copy.deepcopy(dict(config))
    errors = sorted(_Validator(schema).iter_errors(completed), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(error, source) for error in errors]
    if not problems:
        problems = _check_relations(completed, source)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join("\n".join(problems).splitlines()))
    return completed


def stage_hash(*parts: Any) -> str:
    """A short, stable address for the parameters that make an output (8 hex digits of SHA-1)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


__all__ = ["METHODS", "CORESET_METHODS", "DISTILLED_METHODS", "AUGMENTATIONS", "validate_config", "stage_hash"]
