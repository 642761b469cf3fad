"""Every public name has a numpydoc docstring with a runnable example (run as doctests)."""

import importlib
import inspect

import pytest

MODULES = ["skhier", "skhier.labels", "skhier.metrics", "skhier.inference", "skhier.neural",
           "skhier.neural.backbones", "skhier.neural.augment", "skhier.local", "skhier.datasets",
           "skhier.testing", "skhier.exceptions"]
PUBLIC = sorted({
    (m, name)
    for m in MODULES
    for name in getattr(importlib.import_module(m), "__all__", [])
    if inspect.isclass(getattr(importlib.import_module(m), name))
    or inspect.isfunction(getattr(importlib.import_module(m), name))
})


@pytest.mark.parametrize("module, name", PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_docstring(module, name):
    obj = getattr(importlib.import_module(module), name)
    doc = inspect.getdoc(obj) or ""
    assert doc.splitlines() and doc.splitlines()[0].strip(), f"{module}.{name} has no summary line"
    assert "Examples\n--------\n>>>" in doc, f"{module}.{name} has no runnable example"
    if inspect.isfunction(obj) and inspect.signature(obj).parameters:
        assert "Parameters\n----------" in doc, f"{module}.{name} documents no parameters"
