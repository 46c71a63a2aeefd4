"""The docs hold to the tree: every module of the three packages is on the layout page."""

from __future__ import annotations

from helpers import REPO

PACKAGES = ("trainables", "mixup_tune", "analysis")


def test_the_layout_page_names_every_module() -> None:
    page = (REPO / "docs" / "layout.md").read_text()
    missing = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "__init__.py" or "__pycache__" in path.parts:
                continue
            # a top-level module by its file name, a subpackage's by its stem (listed in its row)
            name = path.name if path.parent == REPO / package else path.stem
            if f"`{name}`" not in page and f"`{path.stem}`" not in page:
                missing.append(str(path.relative_to(REPO)))
    assert not missing, f"docs/layout.md does not name {missing}"


def test_the_layout_page_names_every_package() -> None:
    page = (REPO / "docs" / "layout.md").read_text()
    packages = sorted(
        str(path.parent.relative_to(REPO / package)) + "/"
        for package in PACKAGES
        for path in (REPO / package).rglob("__init__.py")
        if path.parent != REPO / package
    )
    assert all(f"`{name}`" in page for name in packages), packages
