"""The package's layout holds (issue 37): checkers defined and imported in one place, one
edge storage for trees and DAGs, no module-level import circle, no oversized module."""

import ast
from pathlib import Path

import pytest

import skhier.utils.validation as validation

PKG = Path(validation.__file__).resolve().parents[1]
MODULES = sorted(PKG.rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names."""
    if node.level == 0:
        return node.module or ""
    here = _name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    base = here[: len(here) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


CHECKERS = {name for name in validation.__all__ if name.startswith("check_")} | {"is_tensor"}


def test_the_checkers_are_defined_in_skhier_utils_validation_only():
    assert not (PKG / "_validation.py").exists()
    for path in MODULES:
        if path == Path(validation.__file__).resolve():
            continue
        tree = ast.parse(path.read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} & CHECKERS
        assert not defined, f"{path.relative_to(PKG.parent)} defines {defined}: checkers live in utils/validation.py"


def test_every_module_imports_the_checkers_from_skhier_utils_validation():
    wrong = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names} & CHECKERS
                if names and _resolve(path, node) != "skhier.utils.validation":
                    wrong.append(f"{_name(path)}: {sorted(names)} from {_resolve(path, node)}")
    assert not wrong, wrong


def test_tree_or_dag_is_decided_by_the_storage():
    # the parent arrays live in _taxonomy/_storage.py; elsewhere at most 3 branches on is_tree
    storage = PKG / "_taxonomy" / "_storage.py"
    branches = 0
    for path in sorted((PKG / "_taxonomy").glob("*.py")):
        if path == storage:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("_parent", "_pptr", "_pidx", "single", "ptr", "idx"):
                pytest.fail(f"{path.name}:{node.lineno} reads the storage's arrays ({node.attr})")
            if isinstance(node, (ast.If, ast.IfExp)) and "is_tree" in ast.unparse(node.test):
                branches += 1
    assert branches <= 3, branches
    for path in MODULES:
        assert "._parent is None" not in path.read_text(), path


def _module_level_imports():
    """Module -> the skhier modules it imports when it is imported (function bodies left out)."""
    known = {_name(p) for p in MODULES}
    graph = {}
    for path in MODULES:
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(sub, ast.ImportFrom):
                    target = _resolve(path, sub)
                    for alias in sub.names:
                        deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
                elif isinstance(sub, ast.Import):
                    deps.update(a.name for a in sub.names)
        graph[_name(path)] = {d for d in deps if d in known and d != _name(path)}
    return graph


def test_no_module_level_import_circle_below_the_packages():
    # a package's __init__ gathers its submodules; a circle among the modules themselves is a layering bug
    graph = {m: {d for d in deps if not _is_package(d)} for m, deps in _module_level_imports().items()
             if not _is_package(m)}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                pytest.fail("import circle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _is_package(name):
    return (PKG.parent / Path(*name.split(".")) / "__init__.py").exists()


def test_the_taxonomy_and_key_layers_import_nothing_above_them():
    graph = _module_level_imports()
    for m in ("skhier._keys", "skhier._taxonomy._storage", "skhier._taxonomy._build", "skhier._taxonomy._core"):
        above = {d for d in graph[m]
                 if not d.startswith(("skhier._taxonomy", "skhier._keys", "skhier.exceptions", "skhier._docs"))}
        assert not above, (m, above)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG.parent)))
def test_no_module_is_above_900_lines(path):
    assert len(path.read_text().splitlines()) <= 900, "split it: each file one idea"


@pytest.mark.parametrize("module, name, home", [
    ("skhier.neural", "NodeDataset", "skhier.neural.data"),
    ("skhier.neural", "auto_batch_size", "skhier.neural.data"),
    ("skhier.neural", "ThreadBudget", "skhier.neural.callbacks"),
    ("skhier.neural", "CHMCNNModule", "skhier.neural.modules"),
    ("skhier.neural", "resolve_device", "skhier.utils.device"),
    ("skhier.labels", "check_node_indices", "skhier.utils.validation"),
    ("skhier.labels", "check_node_scores", "skhier.utils.validation"),
])
def test_names_moved_by_the_layout_still_import_with_a_deprecation_warning(module, name, home):
    import importlib

    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} moved to {home}\.{name}"):
        old = getattr(importlib.import_module(module), name)
    assert old is getattr(importlib.import_module(home), name)


def test_an_unknown_name_is_still_an_attribute_error():
    import skhier.labels
    import skhier.neural

    for module in (skhier.neural, skhier.labels):
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            module.Nope  # noqa: B018


def test_a_method_file_imports_no_other_method_file():
    # neural/ by role: a method builds on the base, the kinds, the generic estimators, data,
    # callbacks, losses and text, never on another method
    methods = {p.stem for p in (PKG / "neural").glob("_*.py")} - {
        "__init__", "_base", "_kinds", "_generic", "_protocols", "_accelerate"}
    graph = _module_level_imports()
    for stem in sorted(methods):
        deps = {d.rsplit(".", 1)[-1] for d in graph[f"skhier.neural.{stem}"] if d.startswith("skhier.neural.")}
        assert not deps & methods, (stem, deps & methods)
