"""The import structure: no cycles between files or packages, and each package imports only what
sits below it (``jepa_vqa`` is the base, ``cli`` the entry package on top).

Every ``.py`` file of the project's packages is parsed with ``ast``; every import counts, also one
inside a function (a lazy import still ties the two files together).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())
BASE = "jepa_vqa"
ENTRY = "cli"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the project's packages."""
    return {_module_name(f): f for pkg in PACKAGES for f in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = _modules()


def _imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(parts + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _file_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name resolves to its longest module prefix)."""
    graph = {}
    for name, path in MODULES.items():
        deps = set()
        for imported in _imported_names(name, path):
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def _package_graph(files: dict[str, set[str]]) -> dict[str, set[str]]:
    """Top-level package -> the other top-level packages its files import."""
    graph: dict[str, set[str]] = {pkg: set() for pkg in PACKAGES}
    for name, deps in files.items():
        top = name.split(".")[0]
        graph[top].update(d.split(".")[0] for d in deps if d.split(".")[0] != top)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


FILES = _file_graph()
PACKAGE_GRAPH = _package_graph(FILES)


def _importers_of(package: str, allowed: set[str]) -> list[str]:
    """``file -> module`` lines for each import of ``package``'s files outside ``allowed``."""
    return sorted(
        f"{name} -> {dep}"
        for name, deps in FILES.items()
        if name.split(".")[0] == package
        for dep in deps
        if dep.split(".")[0] not in allowed | {package}
    )


def test_graph_sees_the_project():
    assert {BASE, ENTRY, "vlm", "encoder", "worlds", "app"} <= set(PACKAGES)
    assert "vlm.persistence" in FILES["vlm.model"]  # a module-level import
    assert "encoder.video" in FILES["vlm.model"]  # an import inside a method counts too


def test_cycle_detection_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_between_files():
    assert _cycles(FILES) == []


def test_no_cycle_between_packages():
    assert _cycles(PACKAGE_GRAPH) == []


def test_base_imports_no_product_package():
    assert _importers_of(BASE, set()) == []


def test_nothing_imports_the_entry_package():
    assert [pkg for pkg, deps in PACKAGE_GRAPH.items() if ENTRY in deps] == []


def test_worlds_imports_only_the_base():
    assert _importers_of("worlds", {BASE}) == []


def test_app_imports_only_vlm_and_the_base():
    assert _importers_of("app", {BASE, "vlm"}) == []


def test_lazy_exports_serve_names_from_their_modules():
    import json

    from jepa_vqa.lazy import lazy_exports

    getattr_, all_ = lazy_exports("pkg", {"dumps": "json"})
    assert all_ == ["dumps"] and getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        getattr_("loads")
