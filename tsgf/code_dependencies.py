"""The package modules a stage's output depends on, computed from the imports of its handler (no module is
imported: the walk reads the source with `ast`, so planning the workflow stays torch-free).

Snakemake reruns a job when one of its inputs changes, not when the code it imports changes, so each rule lists
its code as inputs. The list is computed here: the stage's module (it writes the outputs), every package module
the handler reaches, through the module-level names and helper functions it uses and the imports inside it, and
everything those modules import in turn (module level and inside functions), with the packages' __init__ files.
Starting from the handler rather than its whole module keeps a rule from rerunning when another stage of the same
module changes its imports.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def module_file(module: str) -> Path | None:
    """The source file of a module of this package (None for other modules, or one that does not exist)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(statements: list[ast.stmt], importer: str) -> dict[str, str]:
    """Package modules imported by these import statements (others are skipped): the local name each binds ->
    the module it comes from (`from tsgf import figures` binds the module tsgf.figures)."""
    bound = {}
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                # `import tsgf.x` binds `tsgf` and loads tsgf.x; `import tsgf.x as y` binds y to tsgf.x
                bound[alias.asname or alias.name] = alias.name
        elif isinstance(statement, ast.ImportFrom):
            if statement.level:  # relative import: resolve against the importing module's package
                package = importer.split(".")[: -statement.level]
                base = ".".join(package + ([statement.module] if statement.module else []))
            else:
                base = statement.module or ""
            for alias in statement.names:
                submodule = f"{base}.{alias.name}"
                bound[alias.asname or alias.name] = submodule if module_file(submodule) else base
    return {name: module for name, module in bound.items() if module_file(module)}


@functools.cache
def _parsed(module: str) -> ast.Module:
    return ast.parse(module_file(module).read_text(), filename=str(module_file(module)))


def _packages_of(module: str) -> list[str]:
    """The packages whose __init__ runs when `module` is imported: tsgf, tsgf.datasets, ..."""
    parts = module.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts))]


@functools.cache
def module_closure(module: str) -> frozenset[str]:
    """`module`, its packages and every package module it imports anywhere (functions included), transitively."""
    seen, pending = set(), [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending += _packages_of(current)
        pending += [found for found in _all_imports(current) if found not in seen]
    return frozenset(seen)


def _all_imports(module: str) -> set[str]:
    statements = [node for node in ast.walk(_parsed(module)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    return set(_imported_modules(statements, module).values())


def _handler_modules(module: str, function: str) -> set[str]:
    """Package modules that `function` of `module` reaches: imports inside it, module-level imports it names,
    and recursively the module-level functions, classes and constants of `module` it names."""
    tree = _parsed(module)
    top_level = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top_level[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        top_level[name.id] = node
    module_imports = _imported_modules(tree.body, module)
    if function not in top_level:
        raise KeyError(f"{module_file(module)} defines no '{function}'")
    reached, seen, pending = set(), set(), [function]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        node = top_level[name]
        imports = [nested for nested in ast.walk(node) if isinstance(nested, (ast.Import, ast.ImportFrom))]
        reached.update(_imported_modules(imports, module).values())
        for used in ast.walk(node):
            if isinstance(used, ast.Name):
                if used.id in module_imports:
                    reached.add(module_imports[used.id])
                elif used.id in top_level and used.id not in seen:
                    pending.append(used.id)
    return reached


def stage_modules(stage: str) -> list[str]:
    """Every package module the stage's output depends on, sorted (the stage module first)."""
    from tsgf.stages import STAGES

    module = f"{PACKAGE}.stages.{STAGES[stage]}"
    modules = set(_packages_of(module))
    for reached in _handler_modules(module, stage):
        modules |= module_closure(reached)
    modules.discard(module)
    return [module, *sorted(modules)]


def stage_code(stage: str) -> list[str]:
    """The source files of `stage_modules(stage)`: what the rule of that name lists as its code inputs."""
    return [str(module_file(module)) for module in stage_modules(stage)]


__all__ = ["module_file", "module_closure", "stage_modules", "stage_code"]
