"""config/README.md's key tables are generated from the schema (tsgf/config_docs.py), and every key is described."""

from __future__ import annotations

import yaml

from conftest import REPO, SCHEMA
from tsgf.config_docs import BEGIN, END, generated_block, key_rows, render_tables, with_tables


def test_the_key_tables_are_generated_from_the_schema():
    readme = (REPO / "config" / "README.md").read_text()
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    fresh = render_tables(yaml.safe_load(SCHEMA.read_text()), config)
    assert generated_block(readme) == fresh, (
        "config/README.md's key tables are stale (the schema or config/config.yaml changed): "
        "run `python -m tsgf.config_docs --write`")


def test_every_key_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())
    # the ablation entries' keys are not config keys (key_rows skips them) but are documented all the same
    entry = schema["properties"]["ablations"]["additionalProperties"]["properties"]
    keys = [(key, description) for key, _, description in key_rows(schema)]
    keys += [(f"ablations.<name>.{name}", node.get("description", "")) for name, node in entry.items()]
    missing = [key for key, description in keys if not str(description).strip()]
    assert not missing, f"keys without a description in {SCHEMA.relative_to(REPO)}: {', '.join(missing)}"


def test_the_renderer_follows_refs_escapes_pipes_and_shows_what_the_config_changes():
    schema = {
        "$defs": {"net": {"type": "object", "default": {}, "properties": {
            "width": {"type": "integer", "default": 16, "description": "channels\nof the first block"}}}},
        "properties": {
            "threads": {"type": "integer", "default": 1, "description": "CPU threads"},
            "model": {"type": "object", "default": {}, "description": "the model. Reaches: everything.", "properties": {
                "net": {"$ref": "#/$defs/net", "default": {}, "description": "its network"},
                "split": {"type": ["string", "null"], "default": None, "description": "`train|test` lines"}}}},
    }
    assert key_rows(schema) == [("threads", 1, "CPU threads"), ("model", {}, "the model. Reaches: everything."),
                                ("model.net", {}, "its network"),
                                ("model.net.width", 16, "channels\nof the first block"),
                                ("model.split", None, "`train|test` lines")]
    tables = render_tables(schema, {"model": {"net": {"width": 32}, "split": None}})
    assert "### Top-level keys" in tables and "### model\n\nthe model. Reaches: everything.\n" in tables
    rows = [line for line in tables.splitlines() if line.startswith("| `")]
    assert rows == ["| `threads` | `1` |  | CPU threads |",
                    "| `model.net` |  |  | its network |",
                    "| `model.net.width` | `16` | `32` | channels of the first block |",
                    r"| `model.split` | `none` |  | `train\|test` lines |"]  # same as the default: no config value
    readme = f"intro\n\n{BEGIN}\nold tables\n{END}\n\nprose\n"
    assert with_tables(readme, tables) == f"intro\n\n{BEGIN}\n\n{tables.strip()}\n\n{END}\n\nprose\n"
    assert generated_block(with_tables(readme, tables)) == tables
