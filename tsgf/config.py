"""Config validation (JSON Schema with defaults, plus checks that span keys) and parameter addressing.

The schema (workflow/schemas/config.schema.yaml) is the one place a default is written: `schema_defaults()` is the
config every key of which takes it. The workflow validates the config as Snakemake merged it from its sources
(`validate_config_sources`), and every error starts with the source of the key it is about, e.g.
  my.yaml: config key 'distill.lrr' is not known (did you mean 'distill.lr'?)
  the command line (--config): config key 'saliency.floor' must be of type number, got "x"
and is raised before any job runs.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tsgf.datasets.layouts import EXPECTED_LAYOUT
from tsgf.errors import ConfigError
from tsgf.methods import AUGMENTATIONS, CORESET_METHODS, DISTILLED_METHODS, LABEL_KINDS, METHODS

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
COMMAND_LINE = "the command line (--config)"
SCHEMA_DEFAULT = "schema default"

KeyPath = tuple[Any, ...]  # ("distill", "augment", "flip"); list positions are ints
SourceOf = Callable[[Sequence[Any]], str]  # key path -> the source error messages name for it


def _key(path: Sequence[Any]) -> str:
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


# -- where each key came from -----------------------------------------------------------------------------------

@dataclass
class Provenance:
    """Which source set each key of a merged config. `values` holds every key a source gave a value that is not a
    mapping (a list counts as one value); `sections` the mappings a source created (a later source merging into one
    leaves its creator in place). A key's source is its section's creator when the key is that section, else the
    source of its longest prefix in `values`, else the schema's default."""

    values: dict[KeyPath, str] = field(default_factory=dict)
    sections: dict[KeyPath, str] = field(default_factory=dict)

    def source_of(self, path: Sequence[Any]) -> str:
        path = tuple(path)
        if path in self.sections:
            return self.sections[path]
        for end in range(len(path), 0, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return SCHEMA_DEFAULT

    def sources_within(self, path: Sequence[Any]) -> list[str]:
        """Every source that set `path` or a key below it, in the order they were merged."""
        path = tuple(path)
        found = [label for records in (self.sections, self.values) for key, label in records.items()
                 if key[:len(path)] == path]
        return list(dict.fromkeys(found)) or [self.source_of(path)]

    def forget(self, path: KeyPath) -> None:
        """A source replaced the value at `path`: what earlier sources set there, or below it, is gone."""
        for records in (self.values, self.sections):
            for key in [key for key in records if key[:len(path)] == path]:
                del records[key]


class ValidatedConfig(dict):
    """A completed config (the mapping the rules read) that remembers which source set each of its keys."""

    def __init__(self, values: Mapping[str, Any], provenance: Provenance) -> None:
        super().__init__(values)
        self.provenance = provenance


def config_sources(config: Mapping[str, Any], *path: str) -> str:
    """The sources of `path` and the keys below it in a validated config, joined by ' + ' (for error messages
    about something derived from them, e.g. an ablation's variants); "config" when the config carries none."""
    if isinstance(config, ValidatedConfig):
        return " + ".join(config.provenance.sources_within(path))
    return "config"


def config_file_label(path: str | Path) -> str:
    """A config file as error messages name it: relative to the working directory when it lies below it (as it
    was given on the command line), else absolute."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _yaml_scalar(text: str) -> Any:
    """`text` typed as YAML types a plain scalar: "0.5" -> 0.5, "true" -> True, "null" -> None, "l1" stays."""
    loader = yaml.SafeLoader("")
    tag = loader.resolve(yaml.ScalarNode, text, (True, False))
    return loader.construct_object(yaml.ScalarNode(tag, text))


def _typed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {name: _typed(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return _yaml_scalar(value) if isinstance(value, str) else value


def typed_command_line(values: Mapping[str, Any]) -> dict[str, Any]:
    """--config values typed like a config file's. Snakemake types a top-level value itself (`threads=2` is 2) but
    parses a nested one (`saliency={'floor':0.5}`) with YAML's BaseLoader, which leaves every scalar inside it a
    string; those strings are typed here as YAML would type them in a file."""
    return {name: _typed(value) if isinstance(value, (Mapping, list)) else value for name, value in values.items()}


def _merge_into(target: dict[str, Any], values: Mapping[str, Any], prefix: KeyPath, label: str,
                provenance: Provenance) -> None:
    for name, value in values.items():
        path = prefix + (name,)
        if isinstance(value, Mapping):
            if not isinstance(target.get(name), dict):
                if name in target and not value:
                    continue  # update_config leaves a value that an empty mapping would replace as it is
                target[name] = {}
                provenance.forget(path)
                provenance.sections[path] = label
            _merge_into(target[name], value, path, label, provenance)
        else:
            target[name] = copy.deepcopy(value)
            provenance.forget(path)
            provenance.values[path] = label


def merge_config_sources(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[dict[str, Any], Provenance]:
    """Merge (label, mapping) sources, later ones over earlier ones, as snakemake.utils.update_config does
    (mappings merged key by key, everything else, lists included, replaced whole); returns the merged config and
    which source set each key."""
    merged: dict[str, Any] = {}
    provenance = Provenance()
    for label, values in sources:
        _merge_into(merged, values, (), label, provenance)
    return merged, provenance


# -- validation -------------------------------------------------------------------------------------------------

def _describe(error: jsonschema.ValidationError, source_of: SourceOf) -> str:
    path = list(error.absolute_path)
    key, source = _key(path), source_of(path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{_key(path + [close[0]])}'?)" if close else ""
            parts.append(f"{source_of(path + [name])}: config key '{_key(path + [name])}' is not known{hint}; "
                         f"known keys here: {', '.join(known)}")
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


class _Relations:
    """Messages of the checks that span keys: each starts with the source of the key it is about and says where
    the other keys involved came from when that is somewhere else."""

    def __init__(self, source_of: SourceOf) -> None:
        self.source_of = source_of
        self.problems: list[str] = []

    def source(self, key: str) -> str:
        return self.source_of(key.split("."))

    def add(self, key: str, text: str, *others: str) -> None:
        primary = self.source(key)
        elsewhere = [f"'{other}' " + ("is the schema default" if self.source(other) == SCHEMA_DEFAULT
                                      else f"comes from {self.source(other)}")
                     for other in others if self.source(other) != primary]
        where = f" ({'; '.join(elsewhere)})" if elsewhere else ""
        self.problems.append(f"{primary}: config key '{key}' {text}{where}")


def _check_relations(config: dict[str, Any], source_of: SourceOf) -> list[str]:
    """Checks JSON Schema cannot express: values that must agree with each other."""
    relations = _Relations(source_of)
    dataset = config["dataset"]
    frames_key = "dataset.motion.frames" if dataset["layout"] == "motion" else "dataset.clip.frames"
    frames, window = _get(config, frames_key), config["saliency"]["window"]
    if window >= frames:
        relations.add("saliency.window", f"(k = {window}) must be smaller than the clip length ({frames} frames)",
                      frames_key)
    for role in ("student", "teacher"):
        network = config[role]["network"]
        if len(network["spatial_strides"]) != network["depth"]:
            relations.add(f"{role}.network.spatial_strides",
                          f"has {len(network['spatial_strides'])} entries but '{role}.network.depth' is "
                          f"{network['depth']}: give one stride per block", f"{role}.network.depth")
    if dataset["layout"] == "motion":
        train_per_class = dataset["motion"]["train_per_class"]
        split_keys = ["dataset.motion.train_per_class"]
        if config["holdout"] == "val":
            train_per_class -= max(1, round(config["val_fraction"] * train_per_class))
            split_keys += ["holdout", "val_fraction"]
        asked = {"experiment.ipcs": config["experiment"]["ipcs"],
                 "experiment.scaling.ipcs": config["experiment"]["scaling"]["ipcs"]}
        asked.update({f"ablations.{name}.ipcs": spec["ipcs"] for name, spec in config.get("ablations", {}).items()})
        for key, ipcs in asked.items():
            for ipc in ipcs:
                if ipc > train_per_class:
                    relations.add(key, f"holds {ipc}, more than the {train_per_class} training clips per class: "
                                       f"lower it or generate more clips", *split_keys)
    else:
        _check_real_dataset(dataset, relations)
    for key in ("crop_scale", "erase_area"):
        pair = config["evaluation"]["tsgf_a"][key]
        if pair[0] > pair[1]:
            relations.add(f"evaluation.tsgf_a.{key}", f"must be [low, high], got {pair}")
    crop = config["distill"]["augment"]["crop_scale"]
    if crop[0] > crop[1]:
        relations.add("distill.augment.crop_scale", f"must be [low, high], got {crop}")
    mtt, expert_epochs = config["mtt"], config["experts"]["train"]["epochs"]
    if mtt["max_start_epoch"] + mtt["expert_epochs"] > expert_epochs:
        relations.add("mtt.max_start_epoch", f"({mtt['max_start_epoch']}) + 'mtt.expert_epochs' "
                                             f"({mtt['expert_epochs']}) exceed the {expert_epochs} epochs of an expert "
                                             f"('experts.train.epochs'): lower them or train the experts longer",
                      "mtt.expert_epochs", "experts.train.epochs")
    return relations.problems


def _check_real_dataset(dataset: dict[str, Any], relations: _Relations) -> None:
    layout = dataset["layout"]
    if not dataset["root"]:
        relations.add("dataset.root", f"is required for dataset.layout '{layout}': set it to the folder holding "
                                      f"{EXPECTED_LAYOUT[layout]}", "dataset.layout")
    if dataset["classes"] == "miniucf" and layout != "ucf101":
        relations.add("dataset.classes", f"is 'miniucf', a subset of UCF101, but dataset.layout is '{layout}': use "
                                         f"layout ucf101 or another class list", "dataset.layout")
    clip = dataset["clip"]
    if clip["crop"] is not None and clip["crop"] > min(clip["resize"]):
        relations.add("dataset.clip.crop", f"({clip['crop']}) is larger than the resized frame dataset.clip.resize "
                                           f"= {clip['resize']}", "dataset.clip.resize")


def _get(config: dict[str, Any], key: str) -> Any:
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def _completed(config: Mapping[str, Any], schema_path: str | Path, source_of: SourceOf) -> dict[str, Any]:
    schema = yaml.safe_load(Path(schema_path).read_text())
    completed = copy.deepcopy(dict(config))
    errors = sorted(_Validator(schema).iter_errors(completed), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(error, source_of) for error in errors]
    if not problems:
        problems = _check_relations(completed, source_of)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join("\n".join(problems).splitlines()))
    return completed


def validate_config(config: Mapping[str, Any], schema_path: str | Path, source: str = "config") -> dict[str, Any]:
    """Validate `config` (all of it from `source`) against the schema and fill in defaults; returns the completed
    copy. Raises ConfigError listing every problem found, each naming its key."""
    return _completed(config, schema_path, lambda path: source)


def validate_config_sources(files: Sequence[tuple[str, Mapping[str, Any]]], command_line: Mapping[str, Any],
                            schema_path: str | Path) -> ValidatedConfig:
    """The config Snakemake runs with, validated and completed: the config files (label, mapping), in the order
    they are merged, then the command line's --config mapping (typed like a file's, `typed_command_line`), merged
    as Snakemake merges them. Raises ConfigError listing every problem, each starting with the source of its key
    (a file's label, COMMAND_LINE, or SCHEMA_DEFAULT for a key no source set)."""
    merged, provenance = merge_config_sources([*files, (COMMAND_LINE, typed_command_line(command_line))])
    return ValidatedConfig(_completed(merged, schema_path, provenance.source_of), provenance)


@functools.cache
def _schema_defaults() -> dict[str, Any]:
    return validate_config({}, SCHEMA_PATH, source=SCHEMA_DEFAULT)


def schema_defaults() -> dict[str, Any]:
    """The config every key of which takes the schema's default (a fresh copy each call)."""
    return copy.deepcopy(_schema_defaults())


def stage_hash(*parts: Any) -> str:
    """A short, stable address for the parameters that make an output (8 hex digits of SHA-1)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


__all__ = ["METHODS", "CORESET_METHODS", "DISTILLED_METHODS", "AUGMENTATIONS", "LABEL_KINDS", "SCHEMA_PATH",
           "COMMAND_LINE", "SCHEMA_DEFAULT", "Provenance", "ValidatedConfig", "config_sources", "config_file_label",
           "typed_command_line", "merge_config_sources", "validate_config", "validate_config_sources",
           "schema_defaults", "stage_hash"]
