"""config/README.md's per-key tables, generated from the schema (workflow/schemas/config.schema.yaml).

The schema is the one place a key's default and description are written; the README shows them, next to the value
config/config.yaml gives where it changes a default, between two markers:
  python -m tsgf.config_docs --write   rewrite the tables in place
  python -m tsgf.config_docs --check   exit 1 if they are stale (tests/test_config_docs.py does the same)
Torch-free: it runs without the training stack.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tsgf.config import SCHEMA_PATH

REPO = SCHEMA_PATH.parents[2]
README_PATH = REPO / "config" / "README.md"
CONFIG_PATH = REPO / "config" / "config.yaml"
COMMAND = "python -m tsgf.config_docs --write"
BEGIN = f"<!-- BEGIN generated key tables: {COMMAND} -->"
END = "<!-- END generated key tables -->"
LONGEST_VALUE = 60  # longer defaults (the motion class list, the ablations) would swamp a table cell
TOP_LEVEL = "Top-level keys"

KeyRow = tuple[str, Any, str]  # (dotted key, schema default, description)
_ABSENT = object()


def load_yaml(path: str | Path) -> Any:
    return yaml.safe_load(Path(path).read_text())


def _resolved(schema: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with its `$ref` (into `$defs`) filled in; the referring site's own keys (default, description) win."""
    if "$ref" not in node:
        return dict(node)
    target: Any = schema
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolved(schema, target), **{k: v for k, v in node.items() if k != "$ref"}}


def key_rows(schema: Mapping[str, Any]) -> list[KeyRow]:
    """Every key of the schema's `properties` trees, parents before their children, in schema order. An object
    without `properties` (the `ablations` mapping) is one key: its entries' names are the user's."""
    rows: list[KeyRow] = []

    def walk(properties: Mapping[str, Any], prefix: str) -> None:
        for name, site in properties.items():
            node = _resolved(schema, site)
            rows.append((prefix + name, node.get("default"), str(node.get("description", "")).strip()))
            walk(node.get("properties", {}), f"{prefix}{name}.")

    walk(schema["properties"], "")
    return rows


def _compact(value: Any) -> str:
    """A value as one would write it in a YAML flow mapping: `none`, `true`, `[2, 1, 1]`, `1e-6`."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return re.sub(r"e([-+])0*(\d)", r"e\1\2", repr(value)).replace("e+", "e")
    if isinstance(value, list):
        return "[" + ", ".join(_compact(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_compact(item)}" for key, item in value.items()) + "}"
    return str(value)


def _cell(text: str) -> str:
    # one table row per key: a description's line breaks become spaces, and a `|` must not end the cell
    return " ".join(text.split()).replace("|", r"\|")


def _value_cell(value: Any, too_long: str) -> str:
    text = _compact(value)
    return too_long if len(text) > LONGEST_VALUE else _cell(f"`{text}`")


def _lookup(config: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(config, Mapping) or part not in config:
            return _ABSENT
        config = config[part]
    return config


def _table(rows: Sequence[KeyRow], parents: set[str], config: Mapping[str, Any]) -> list[str]:
    lines = ["| key | default | config/config.yaml | meaning |", "|---|---|---|---|"]
    for key, default, description in rows:
        if key in parents:  # a section of keys: its children's rows carry the values
            default_cell = config_cell = ""
        else:
            # config/config.yaml is merged over the schema defaults, so only the keys it gives can differ
            value = _lookup(config, key)
            default_cell = _value_cell(default, "see schema")
            config_cell = "" if value is _ABSENT or value == default else _value_cell(value, "see the file")
        lines.append(f"| `{key}` | {default_cell} | {config_cell} | {_cell(description)} |")
    return lines


def render_tables(schema: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """The generated block: one `###` section per top-level object (its description, then a table of the keys below
    it; a mapping without keys of its own, `ablations`, is its one row), and one table of the other top-level keys,
    placed where the first of them is."""
    rows = key_rows(schema)
    parents = {key.rpartition(".")[0] for key, _, _ in rows if "." in key}
    sections: dict[str, tuple[str, list[KeyRow]]] = {}  # heading -> (intro, rows)
    for row in rows:
        key, default, description = row
        if key in parents and "." not in key:
            sections[key] = (description, [])
        elif "." in key:
            sections[key.split(".")[0]][1].append(row)
        elif isinstance(default, dict):
            sections[key] = ("", [row])
        else:
            sections.setdefault(TOP_LEVEL, ("", []))[1].append(row)
    lines: list[str] = []
    for heading, (intro, section_rows) in sections.items():
        if intro:  # a paragraph wraps like the hand-written prose; table rows cannot
            intro = textwrap.fill(" ".join(intro.split()), 120, break_on_hyphens=False, break_long_words=False)
        lines += [f"### {heading}", ""] + ([intro, ""] if intro else [])
        lines += _table(section_rows, parents, config) + [""]
    return "\n".join(lines)


def _split(readme: str) -> tuple[str, str, str]:
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{README_PATH.relative_to(REPO)} lacks the markers '{BEGIN}' and '{END}' (in this order) "
                         "around its generated key tables")
    # the block as `render_tables` returns it: without the blank lines that set it off from the markers
    return readme[:start], readme[start + len(BEGIN):end].strip("\n") + "\n", readme[end + len(END):]


def generated_block(readme: str) -> str:
    """The text between the README's markers (what `render_tables` made when it was last written)."""
    return _split(readme)[1]


def with_tables(readme: str, tables: str) -> str:
    """The README with `tables` between its markers; the hand-written prose around them stays as it is."""
    before, _, after = _split(readme)
    body = tables.strip("\n")
    return f"{before}{BEGIN}\n\n{body}\n\n{END}{after}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tsgf.config_docs", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated key tables of config/README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if config/README.md's key tables are stale")
    args = parser.parse_args(argv)
    readme = README_PATH.read_text()
    tables = render_tables(load_yaml(SCHEMA_PATH), load_yaml(CONFIG_PATH))
    label = README_PATH.relative_to(REPO)
    if args.write:
        README_PATH.write_text(with_tables(readme, tables))
        print(f"wrote the key tables of {label}")
        return 0
    if generated_block(readme) != tables:
        print(f"{label}: its key tables are stale (the schema or config/config.yaml changed since they were "
              f"generated); run `{COMMAND}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
