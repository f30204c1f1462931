"""The house: each rule is a CLI stage and a handler of the same name in the stage module of its rule file, each
rule's code inputs are computed from its handler's imports, and planning and light stages never import torch."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tsgf.cli import build_parser
from tsgf.code_dependencies import module_file, stage_code, stage_modules
from tsgf.methods import AUGMENTATIONS, LABEL_KINDS, METHODS
from tsgf.stages import STAGES

REPO = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def _rules() -> dict[str, tuple[str, str]]:
    """Every rule of the rule files: name -> (rule file stem, the rule's text)."""
    rules = {}
    for path in RULE_FILES:
        blocks = re.split(r"^(?=rule \w+:)", path.read_text(), flags=re.M)
        for block in blocks[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            rules[name] = (path.stem, block)
    return rules


def test_each_rule_is_the_stage_and_handler_of_the_same_name_in_its_rule_files_module():
    rules = _rules()
    assert set(rules) == set(STAGES)
    for name, (rule_file, text) in rules.items():
        assert STAGES[name] == rule_file, (f"rule {name} is in {rule_file}.smk but its stage in "
                                           f"tsgf/stages/{STAGES[name]}.py")
        assert f'"python -m tsgf {name} ' in text, f"rule {name} does not call its own stage"
        assert f'code=stage_code("{name}")' in text, f"rule {name} does not list its computed code inputs"
        assert callable(getattr(importlib.import_module(f"tsgf.stages.{STAGES[name]}"), name))


def test_the_cli_offers_exactly_the_stages():
    subcommands = next(action for action in build_parser()._actions if action.dest == "stage").choices
    assert list(subcommands) == list(STAGES)


def _direct_imports(module: str) -> set[str]:
    """Package modules named by any import statement of `module` (an independent, textual reading)."""
    text = module_file(module).read_text()
    found = set()
    for base, names in re.findall(r"^\s*from (tsgf[\w.]*) import \(?([\w, \n]+)\)?", text, flags=re.M):
        found.add(base)
        found.update(f"{base}.{name.strip().split(' as ')[0]}" for name in names.split(",") if name.strip())
    found.update(re.findall(r"^\s*import (tsgf[\w.]*)", text, flags=re.M))
    return {name for name in found if module_file(name)}


@pytest.mark.parametrize("stage", list(STAGES))
def test_code_inputs_hold_the_stage_module_and_everything_it_reaches(stage):
    modules = stage_modules(stage)
    assert modules[0] == f"tsgf.stages.{STAGES[stage]}", "the module that writes the outputs comes first"
    assert "tsgf.cli" not in modules, "the CLI only parses: editing a help text must rerun nothing"
    for module in modules[1:]:  # the stage module's other handlers may import more: only its own reach counts
        missing = _direct_imports(module) - set(modules)
        assert not missing, f"{stage}: {module} imports {missing}, not in the rule's code inputs"
    assert stage_code(stage) == [str(module_file(module)) for module in modules]


def test_code_inputs_follow_the_handler_not_its_whole_module():
    """Known answers: the modules the issue found missing are there, and a sibling handler's imports are not."""
    assert {"tsgf.stages.evaluate", "tsgf.stages.torch_common", "tsgf.training", "tsgf.models", "tsgf.augment",
            "tsgf.saliency"} <= set(stage_modules("evaluate_set"))
    full_data = set(stage_modules("evaluate_full_data"))  # the base crop, through a helper, but never TSGF_A
    assert "tsgf.augment" in full_data and "tsgf.saliency" not in full_data
    assert {"tsgf.figures", "tsgf.tables", "tsgf.saliency", "tsgf.optical_flow", "tsgf.clip_export"} <= set(
        stage_modules("make_figures"))
    random_real = set(stage_modules("random_real"))
    assert {"tsgf.stages.training_sets", "tsgf.stages.common", "tsgf.baselines"} <= random_real
    assert not {"tsgf.distill", "tsgf.coresets", "tsgf.stages.torch_common"} & random_real
    assert "tsgf.tables" not in stage_modules("aggregate_runs")
    assert "tsgf.datasets.prepare" not in stage_modules("generate_motion_dataset")
    assert "tsgf.datasets.motion" not in stage_modules("prepare_dataset")


# torch blocked: `import torch` raises, so anything that reaches it fails loudly
_NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def test_planning_the_workflow_never_imports_torch():
    script = _NO_TORCH + ("from snakemake.cli import main\n"
                          "main(['-n', '--quiet', 'all', '--cores', '2'])\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]


def test_light_stages_never_import_torch(tmp_path):
    """Generate a tiny dataset, pick random real clips and aggregate a result, with torch unimportable."""
    data, random_set = tmp_path / "data", tmp_path / "random"
    motion = {"seed": 0, "classes": ["move_right", "move_left"], "frames": 4, "size": 16, "train_per_class": 3,
              "test_per_class": 1, "object_scale": [0.2, 0.3], "speed": [0.05, 0.08], "active_fraction": [0.5, 1.0],
              "noise_std": 0.0, "distractors": 0, "camera_motion": 0.0}
    split = {"holdout": "test", "val_fraction": 0.2}
    teacher = tmp_path / "metrics.json"
    teacher.write_text(json.dumps({"accuracy": 0.5, "train_seconds": 1.0}))
    result = tmp_path / "seeds0.json"
    result.write_text(json.dumps({"students": [{"method": "random_real", "seed": 0, "accuracy": 0.5,
                                                "per_class_accuracy": {"a": 0.5}}]}))
    variants = [{"label": "", "overrides": {}, "default": True, "teacher_metrics": str(teacher),
                 "results": [[str(result), 0]]}]
    script = _NO_TORCH + "from tsgf.cli import main\n" + "\n".join(
        f"assert main({argv!r}) == 0" for argv in (
            ["generate_motion_dataset", "--params", json.dumps({"name": "tiny", "motion": motion}), "--out", str(data)],
            ["random_real", "--data", str(data), "--ipc", "1", "--seed", "0", "--params", json.dumps(split),
             "--out", str(random_set)],
            ["aggregate_runs", str(result), "--ablation", "main", "--variants", json.dumps(variants),
             "--out", str(tmp_path / "runs.csv")]))
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (random_set / "clips.npy").exists() and (tmp_path / "runs.csv").exists()


def test_the_schema_offers_exactly_the_packages_methods_and_augmentations():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert tuple(schema["$defs"]["methods"]["items"]["enum"]) == METHODS
    assert tuple(schema["$defs"]["augmentations"]["items"]["enum"]) == AUGMENTATIONS
    assert tuple(schema["$defs"]["labels"]["items"]["enum"]) == LABEL_KINDS


def test_aggregate_reads_each_student_from_its_cell_and_names_a_seed_the_cell_lacks(tmp_path, capsys):
    """A variant's students are [cell file, seed]: the main experiment's cell holds seeds 0-2, a sweep reads seed 0
    of it; a seed a cell does not hold is an error naming the file and the seeds it has."""
    from tsgf.cli import main

    teacher = tmp_path / "metrics.json"
    teacher.write_text(json.dumps({"accuracy": 0.9, "train_seconds": 1.0}))
    cell = tmp_path / "seeds0-1-2.json"
    cell.write_text(json.dumps({"students": [{"method": "tsgf", "seed": seed, "accuracy": seed / 10,
                                              "per_class_accuracy": {"a": seed / 10}} for seed in range(3)]}))

    def variants(*seeds: int) -> str:
        return json.dumps([{"label": "", "overrides": {}, "default": True, "teacher_metrics": str(teacher),
                            "results": [[str(cell), seed] for seed in seeds]}])

    out = tmp_path / "runs.csv"
    assert main(["aggregate_runs", str(cell), "--ablation", "floor", "--variants", variants(2, 0), "--out",
                 str(out)]) == 0
    import pandas as pd

    runs = pd.read_csv(out)
    assert runs["seed"].tolist() == [2, 0] and runs["accuracy"].tolist() == [0.2, 0.0]
    assert main(["aggregate_runs", str(cell), "--ablation", "floor", "--variants", variants(3), "--out",
                 str(out)]) == 2
    assert f"{cell} holds no student of seed 3 (it has seeds 0, 1, 2)" in capsys.readouterr().err
