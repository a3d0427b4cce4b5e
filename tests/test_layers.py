"""Which part of the code may import which: data flows one way, front ends -> library.

The library (``restore/``) stands without its front ends: the command line (``cli/``, installed as
``restore.cli``) and the server (``restore.serve``) both use it, and it uses neither the command line
nor anything above it. Checked on the source with ``ast`` (nothing is imported), so a lazy import
inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "restore"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from .x import y`` resolved; ``y`` counted as
    ``pkg.x.y`` too, since it may be a module), plus ``importlib.import_module("...")`` with a literal."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
    return found


def _imports_any(path: Path, prefixes: tuple[str, ...], root: Path = ROOT) -> list[str]:
    return sorted(m for m in imported_modules(path, root) if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / "restore" / "serve"
    pkg.mkdir(parents=True)
    module = pkg / "x.py"
    module.write_text("def f():\n    from ..cli.sr import plan_outputs\n    from .. import cli\n")
    assert _imports_any(module, ("restore.cli",), tmp_path) == ["restore.cli", "restore.cli.sr", "restore.cli.sr.plan_outputs"]


def test_the_library_imports_nothing_from_the_command_line():
    offenders = {str(p.relative_to(ROOT)): _imports_any(p, ("restore.cli", "cli"))
                 for p in sorted(LIBRARY.rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_weights_files_have_one_home_and_no_circle():
    """registry.py and backbones.py both use weight_files.py, which uses neither (nor training)."""
    assert _imports_any(LIBRARY / "registry.py", ("restore.backbones",)) == []
    assert _imports_any(LIBRARY / "backbones.py", ("restore.registry",)) == []
    assert _imports_any(LIBRARY / "weight_files.py", ("restore.registry", "restore.backbones", "restore.training",
                                                      "restore.pipelines", "restore.archs")) == []


def test_what_trains_nothing_imports_no_training_code():
    """Tools and commands that export or read weights use restore.weight_files, not the training engine."""
    users = [*sorted((ROOT / "tools").glob("*.py")),
             *(p for p in sorted((ROOT / "cli").glob("*.py")) if not p.stem.startswith("train"))]
    offenders = {p.name: _imports_any(p, ("restore.training",)) for p in users}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_layers_beneath_the_pipelines_do_not_import_them():
    """Masks, metrics, networks, losses, io: none reaches up into restore.pipelines (the converter they
    share is restore/convert.py, beneath them all)."""
    beneath = [*sorted((LIBRARY / "inpainting").rglob("*.py")), *sorted((LIBRARY / "metrics").rglob("*.py")),
               *sorted((LIBRARY / "archs").rglob("*.py")), *sorted((LIBRARY / "losses").rglob("*.py")),
               *(LIBRARY / name for name in ("io.py", "convert.py", "device.py", "errors.py", "weight_files.py"))]
    offenders = {str(p.relative_to(ROOT)): _imports_any(p, ("restore.pipelines",)) for p in beneath}
    assert {k: v for k, v in offenders.items() if v} == {}
