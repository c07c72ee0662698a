"""The import direction between the folders, so the layering cannot decay silently.

Every ``import`` and ``from ... import`` in the project's code is read with ``ast``, those inside
functions included (the kiosk imports its engines lazily). A package may import its own
modules and those of lower layers, never a higher or a sibling one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

# Lowest first. The libraries below ``kiosk`` never import it; ``kiosk`` (its version) and
# ``kiosk.errors`` are the application's own bottom.
LAYERS = (
    ("text", "kiosk", "kiosk.errors"),
    ("asr", "mt", "tts"),
    ("kiosk.store", "kiosk.audio"),
    ("kiosk.turn", "kiosk.staff"),
    ("kiosk.ui", "kiosk.measure"),
    ("kiosk.cli",),
    ("kiosk.__main__",),
)
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}
ROOTS = ("text", "asr", "mt", "tts", "kiosk")
QT_PACKAGES = ("PySide6", "shiboken6")


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "kiosk" or len(parts) == 1:
        return parts[0]
    return f"kiosk.{parts[1]}" if f"kiosk.{parts[1]}" in LAYER else "kiosk"


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every absolute import in a file; ``from kiosk import x`` names kiosk.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "kiosk":
                found += [(node.lineno, f"kiosk.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def project_files():
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            yield path, ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_every_package_has_a_layer():
    packages = {package_of(module) for _, module in project_files()}
    assert packages <= set(LAYER), packages - set(LAYER)


def test_imports_point_down_the_layers():
    wrong = []
    for path, module in project_files():
        here = package_of(module)
        for line, target in imports(path):
            if target.split(".")[0] not in ROOTS:
                continue
            there = package_of(target)
            if there != here and LAYER[there] >= LAYER[here]:
                wrong.append(f"{path.relative_to(REPO)}:{line} ({here}, layer {LAYER[here]}) imports {target} "
                             f"({there}, layer {LAYER[there]})")
    assert not wrong, "\n".join(wrong)


def test_only_the_ui_imports_qt():
    wrong = [f"{path.relative_to(REPO)}:{line} imports {target}"
             for path, module in project_files() if package_of(module) != "kiosk.ui"
             for line, target in imports(path) if target.split(".")[0] in QT_PACKAGES]
    assert not wrong, "\n".join(wrong)


def test_each_folder_says_what_lives_there_and_what_it_may_import():
    missing = []
    for package in LAYER:
        if package in ("kiosk.errors", "kiosk.__main__"):
            continue
        init = REPO.joinpath(*package.split("."), "__init__.py")
        doc = ast.get_docstring(ast.parse(init.read_text())) if init.is_file() else None
        if not doc or "import" not in doc.lower():
            missing.append(package)
    assert not missing, f"these packages need a docstring naming what they hold and may import: {missing}"
