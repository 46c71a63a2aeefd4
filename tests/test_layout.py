"""Ray's and MLflow's private APIs are named in two subpackages only: ``mixup_tune.ray_internals`` and
``mixup_tune.mlflow_internals``, each checked against the versions its docstring names, with its pin tests
beside it (tests/ray_internals, tests/mlflow_internals). A Ray or MLflow upgrade is checked there.

Read from the source's syntax tree: an import of a private module or name of either library, an import from
one of their undocumented packages, or a use of an attribute known to be private.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import REPO

PACKAGES = ("trainables", "mixup_tune", "analysis")
INTERNALS = {"ray": "mixup_tune/ray_internals", "mlflow": "mixup_tune/mlflow_internals"}
# packages of theirs that are not their documented API
UNDOCUMENTED = (
    "mlflow.utils",
    "mlflow.store",
    "mlflow.server",
    "ray.experimental",
    "ray.tune.execution",
    "ray.tune.impl",
    "ray.tune.utils",
    "ray.tune.trainable.metadata",
)
# attributes of their objects that are private, or undocumented state mixup-tune reaches into
PRIVATE_ATTRIBUTES = {
    "_tracking_client",
    "_get_source_type",
    "_system_config",
    "_global_node",
    "_fetch_trial_dataframes",
    "_checkpoint_results",
    "_latest_checkpoint_result",
    "run_metadata",
    "metric_analysis",
}


def _root(node: ast.expr) -> str:
    """The name an attribute chain starts from: ``ray`` for ``ray._private.worker``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: .{node.attr}")
            continue
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and _root(node) in INTERNALS:
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {_root(node)}...{node.attr}")
            continue
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_ATTRIBUTES:  # getattr's, a dict key
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
            continue
        else:
            continue
        for module in modules:
            library = module.split(".")[0]
            if library not in INTERNALS:
                continue
            private_module = any(part.startswith("_") for part in module.split(".")) or module.startswith(
                UNDOCUMENTED
            )
            private_names = [name for name in names if name.startswith("_")]
            if private_module or private_names:
                found.append(
                    f"{path.relative_to(REPO)}:{node.lineno}: {module} {private_names or ''}".strip()
                )
    return found


def _outside_the_internals() -> list[Path]:
    internals = [REPO / folder for folder in INTERNALS.values()]
    return [
        path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in internals)
    ]


def test_no_module_outside_the_two_internals_packages_names_a_private_ray_or_mlflow_symbol() -> None:
    outside = [use for path in _outside_the_internals() for use in _private_uses(path)]
    assert outside == [], (
        "move these into mixup_tune/ray_internals or mixup_tune/mlflow_internals:\n" + "\n".join(outside)
    )


@pytest.mark.parametrize("library", sorted(INTERNALS))
def test_the_check_sees_the_private_uses_inside_each_package(library: str) -> None:
    """The patterns are not dead: each package's own private uses are found, so a stray one would be too."""
    inside = [
        use for path in sorted((REPO / INTERNALS[library]).rglob("*.py")) for use in _private_uses(path)
    ]
    assert len(inside) >= 3, inside
    docstring = ast.get_docstring(ast.parse((REPO / INTERNALS[library] / "__init__.py").read_text())) or ""
    version = __import__(library).__version__
    assert f"Checked against **{'Ray' if library == 'ray' else 'MLflow'} {version}**" in docstring, (
        f"{INTERNALS[library]} was checked against another {library} than the {version} installed: check it "
        "against this one (its pin tests), then update its docstring"
    )
