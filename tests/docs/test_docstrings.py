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


def test_shared_parameter_descriptions_are_written_once():
    # issue 37: a shared entry lives in skhier/_docs.py; a docstring names it with %(name)s
    from pathlib import Path

    from skhier._docs import DOC_PARAMS

    root = Path(__file__).resolve().parents[2] / "skhier"
    for name, entry in DOC_PARAMS.items():
        head, desc = entry.split("\n")
        pasted = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "_docs.py"
                  and f"{head}\n" in p.read_text() and desc.strip() in p.read_text()]
        assert not pasted, f"write %({name})s instead of pasting the entry in {pasted}"


def test_fill_doc_composes_the_entry_at_the_placeholder_indentation():
    from skhier._docs import fill_doc
    from skhier.metrics import depth_f1_score

    assert "%(" not in depth_f1_score.__doc__
    assert "    taxonomy : Taxonomy\n        The labels' taxonomy" in depth_f1_score.__doc__

    def f():
        """Parameters
        ----------
        %(nothing)s
        """

    import pytest

    with pytest.raises(KeyError, match="no shared parameter entry 'nothing'"):
        fill_doc(f)
