"""The import-layer contract, checked on the source (every import statement, lazy ones in
functions included), so CI fails the moment a layer reaches the wrong way:

- the library (`schemas`, `verifiers`, `factory`, `pipelines`, `cluster`, minus the command-line
  modules) never imports the command line (`factory.cli`, `factory.cli_common`, `*_cli`,
  `cluster.cli`): the CLI sits on top and may be swapped or skipped (Ray workers, notebooks);
- `schemas` imports nothing from the project: it is the contract every stage and every
  training job reads;
- `verifiers` imports neither `pipelines` nor `cluster`: a verifier is a pure function of
  (problem, text), usable without the pipeline around it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "verifiers", "factory", "pipelines", "cluster")


def is_cli(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last.startswith("cli") or last.endswith("_cli") or last == "cli"


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, module: str) -> set[str]:
    """Every module an import statement in the file names (`from a import b` names a and a.b)."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def project(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


MODULES = modules()
LIBRARY = {m: p for m, p in MODULES.items() if not is_cli(m)}


def violations(rule) -> list[str]:
    found = []
    for module, path in sorted(MODULES.items()):
        for name in sorted(imports(path, module)):
            if project(name) and rule(module, name):
                found.append(f"{path.relative_to(ROOT)}: {module} imports {name}")
    return found


def test_the_scan_sees_the_cli_modules_and_lazy_imports():
    assert {"factory.cli", "factory.cli_common", "cluster.cli"} <= {m for m in MODULES if is_cli(m)}
    assert "factory.query" in LIBRARY and "pipelines.sample" in LIBRARY
    assert "factory.store" in imports(MODULES["factory.query"], "factory.query")
    assert "pipelines.sample" in imports(MODULES["factory.cli"], "factory.cli")  # inside a function


def test_the_library_never_imports_the_command_line():
    assert violations(lambda module, name: module in LIBRARY and is_cli(name)) == []


def test_schemas_import_nothing_from_the_project():
    assert violations(lambda module, name: module.startswith("schemas") and not name.startswith("schemas")) == []


@pytest.mark.parametrize("layer", ["pipelines", "cluster"])
def test_verifiers_do_not_import_pipelines_or_cluster(layer):
    assert violations(lambda module, name: module.startswith("verifiers") and name.split(".")[0] == layer) == []
