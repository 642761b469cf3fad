"""docs/contributing.md, followed literally: its complete tiny method (module, criterion,
estimator) runs as written, satisfies its kind's Protocol, and passes scikit-learn's
estimator checks with the same expected failures as the library's own neural methods."""

import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils.estimator_checks import check_estimator

from skhier.neural import EndDistributionModule, HierarchicalNet
from tests.conformance.test_common import _BUDGET, _NEURAL

PAGE = Path(__file__).resolve().parents[2] / "docs" / "contributing.md"


def _method():
    """The page's first python block without its last statement (the fit on the user's
    data), run as the importable module ``contributing_example`` (a user's own file),
    so that its classes pickle."""
    code = re.search(r"^```python\n(.*?)^```", PAGE.read_text(), re.S | re.M).group(1)
    definitions = code[: code.index("\nclf = ")]
    module = types.ModuleType("contributing_example")
    sys.modules[module.__name__] = module
    exec(compile(definitions, f"{PAGE.name} block 0", "exec"), module.__dict__)
    return module.__dict__


def test_the_tiny_method_fits_predicts_and_meets_its_protocol():
    ns = _method()
    clf_cls = ns["LeafSoftmaxClassifier"]
    assert issubclass(clf_cls, HierarchicalNet)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 120)]
    clf = clf_cls(max_epochs=2, random_state=0, device="cpu", backbone__hidden=(8,)).fit(X, y)
    assert isinstance(clf.module_, EndDistributionModule)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_allclose(np.asarray(clf.transform(X[:5]))[:, 0], 1.0, rtol=1e-6)  # the root


def test_the_tiny_method_passes_scikit_learns_checks():
    ns = _method()
    est = ns["LeafSoftmaxClassifier"](max_epochs=1, random_state=0, device="cpu", batch_size=16,
                                      backbone__hidden=(8,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        results = check_estimator(est, expected_failed_checks={**_NEURAL, **_BUDGET}, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) >= 40
