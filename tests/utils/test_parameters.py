"""Every numeric parameter of every public estimator is checked at the start of ``fit``:
a bad value fails with a ``ValueError`` (or ``TypeError``) that names the parameter, before
any training (parametrized over ``get_params()``, so a new parameter is covered the day it lands)."""

import math
import numbers

import numpy as np
import pytest
import skorch
import torch
from sklearn.linear_model import LogisticRegression

from skhier import FlatClassifier
from skhier.datasets import make_hierarchical_classification
from skhier.inference import (
    BottomUpRefiner,
    CoherenceRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    TopDownRefiner,
)
from skhier.local import (
    LocalClassifierPerLevel,
    LocalClassifierPerNode,
    LocalClassifierPerParentNode,
    MultiLabelLocalClassifierPerNode,
)
from skhier.neural import (
    CHMCNNClassifier,
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HierarchicalLossClassifier,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelNodeClassifier,
)

X, y, TAX = make_hierarchical_classification(40, 4, n_levels=2, branching=2, random_state=0)
Y = TAX.ancestor_matrix[[TAX.index(v) for v in y]].toarray()
S = np.asarray(FlatClassifier(LogisticRegression(), TAX).fit(X, y).transform(X))
TINY = dict(max_epochs=1, device="cpu", random_state=0)

#: (estimator factory, what its fit reads): "y" single-label, "Y" node sets, "S" node scores
ESTIMATORS = {
    "LocalClassifierPerNode": (lambda: LocalClassifierPerNode(taxonomy=TAX), "y"),
    "LocalClassifierPerParentNode": (lambda: LocalClassifierPerParentNode(taxonomy=TAX), "y"),
    "LocalClassifierPerLevel": (lambda: LocalClassifierPerLevel(taxonomy=TAX), "y"),
    "MultiLabelLocalClassifierPerNode": (lambda: MultiLabelLocalClassifierPerNode(taxonomy=TAX), "Y"),
    "FlatClassifier": (lambda: FlatClassifier(LogisticRegression(), TAX), "y"),
    "FlatSoftmaxClassifier": (lambda: FlatSoftmaxClassifier(TAX, **TINY), "y"),
    "HierarchicalLossClassifier": (lambda: HierarchicalLossClassifier(TAX, **TINY), "y"),
    "KFRClassifier": (lambda: KFRClassifier(TAX, **TINY), "y"),
    "HCAMCLClassifier": (lambda: HCAMCLClassifier(TAX, **TINY), "y"),
    "HCCFClassifier": (lambda: HCCFClassifier(TAX, text_encoder="learned", **TINY), "y"),
    "HMLCEncoder": (lambda: HMLCEncoder(TAX, **TINY), "y"),
    "MultiLabelNodeClassifier": (lambda: MultiLabelNodeClassifier(TAX, **TINY), "Y"),
    "CMSGClassifier": (lambda: CMSGClassifier(TAX, correlation="cooccurrence", **TINY), "Y"),
    "CHMCNNClassifier": (lambda: CHMCNNClassifier(TAX, **TINY), "Y"),
    "TopDownRefiner": (lambda: TopDownRefiner(TAX), "S"),
    "BottomUpRefiner": (lambda: BottomUpRefiner(TAX), "S"),
    "DiffusionRefiner": (lambda: DiffusionRefiner(TAX), "S"),
    "CoherenceRefiner": (lambda: CoherenceRefiner(TAX), "S"),
    "DifferentiableDiffusionRefiner": (lambda: DifferentiableDiffusionRefiner(TAX, max_epochs=1), "S"),
}

#: parameters that are numbers but not the estimator's to check: skorch reads them as it passes them on
_NOT_NUMERIC = {"device", "taxonomy"}


def _numeric_params(name):
    make, _ = ESTIMATORS[name]
    est = make()
    for key, value in est.get_params(deep=False).items():
        numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if key in _NOT_NUMERIC or not (numeric or key == "random_state"):
            continue
        yield key


CASES = [(name, key) for name in ESTIMATORS for key in _numeric_params(name)]


def _fit(est, reads):
    if reads == "S":
        return est.fit(S, y)
    return est.fit(X, Y if reads == "Y" else y)


@pytest.mark.parametrize("name, param", CASES, ids=[f"{n}-{p}" for n, p in CASES])
@pytest.mark.parametrize("bad", ["abc", math.nan, -1.5], ids=["str", "nan", "negative-float"])
def test_a_bad_numeric_parameter_fails_at_fit_naming_it(name, param, bad, monkeypatch):
    make, reads = ESTIMATORS[name]
    est = make().set_params(**{param: bad})
    if bad == -1.5 and _accepts(est, param, bad):
        pytest.skip(f"{param}={bad} is a valid value of {name}")
    trained = []
    monkeypatch.setattr(skorch.NeuralNet, "fit_loop", lambda *a, **k: trained.append(1))
    with pytest.raises((ValueError, TypeError), match=rf"\b{param}\b") as info:
        _fit(est, reads)
    assert param in str(info.value)
    assert not trained  # refused before skorch's training loop


def _accepts(est, param, value):
    """The declared rule accepts ``value`` (e.g. a threshold that may be any real)."""
    from skhier.utils.validation import parameter_rules

    rule = parameter_rules(type(est)).get(param)
    if rule is None:
        return False
    try:
        (rule.check if hasattr(rule, "check") else rule)(value, param)
    except (TypeError, ValueError):
        return False
    return True


def test_the_cases_cover_skorch_parameters_and_refiner_thresholds():
    names = {(n, p) for n, p in CASES}
    for net in ("FlatSoftmaxClassifier", "CHMCNNClassifier", "HMLCEncoder"):
        assert {(net, p) for p in ("lr", "max_epochs", "random_state")} <= names
    assert ("DiffusionRefiner", "threshold") in names and ("BottomUpRefiner", "threshold") in names
    print(f"{len(CASES)} numeric parameters over {len(ESTIMATORS)} estimators, 3 bad values each")


@pytest.mark.parametrize("make", [lambda: DiffusionRefiner(TAX, decision="threshold", threshold=2),
                                  lambda: BottomUpRefiner(TAX, threshold=5),
                                  lambda: TopDownRefiner(TAX, threshold=-0.5)])
def test_refiner_thresholds_have_the_local_classifiers_range(make):
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
        make().fit(S, y)


def test_random_state_takes_a_numpy_random_state_like_scikit_learn():
    a = FlatSoftmaxClassifier(TAX, max_epochs=1, device="cpu", random_state=np.random.RandomState(0)).fit(X, y)
    b = FlatSoftmaxClassifier(TAX, max_epochs=1, device="cpu", random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("make, reads", [ESTIMATORS[k] for k in ESTIMATORS if k not in (
    "LocalClassifierPerNode", "LocalClassifierPerParentNode", "LocalClassifierPerLevel",
    "MultiLabelLocalClassifierPerNode", "FlatClassifier")], ids=lambda v: getattr(v, "__name__", str(v)))
def test_fit_leaves_the_global_torch_generator_untouched(make, reads):
    before = torch.get_rng_state()
    est = make()
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    _fit(est, reads)
    assert torch.equal(before, torch.get_rng_state()), type(est).__name__


class _Opaque:
    """A value no rule accepts: not a number, string, bool, type, callable or estimator."""

    def __repr__(self):
        return "<opaque>"


ALL_PARAMS = [(name, key) for name, (make, _) in ESTIMATORS.items()
              for key in sorted(make().get_params(deep=False)) if "__" not in key]


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_parameter_has_a_declared_rule(name):
    # issue 37: the declared rules cover get_params() exactly, so a new parameter without a rule fails here
    from skhier.utils.validation import parameter_rules

    est = ESTIMATORS[name][0]()
    params = {k for k in est.get_params(deep=False) if "__" not in k}
    missing = sorted(params - set(parameter_rules(type(est))))
    assert not missing, f"{name} declares no rule for {missing}"


def test_the_label_encoder_declares_a_rule_for_every_parameter():
    from skhier.labels import HierarchicalLabelEncoder
    from skhier.utils.validation import parameter_rules

    assert set(HierarchicalLabelEncoder(TAX).get_params()) <= set(parameter_rules(HierarchicalLabelEncoder))
    with pytest.raises(ValueError, match="format must be one of"):
        HierarchicalLabelEncoder(TAX, format="leafs").fit(y)
    with pytest.raises(ValueError, match="format must be one of"):  # regression: fit_transform checked nothing
        HierarchicalLabelEncoder(TAX, format="leafs").fit_transform(y)


@pytest.mark.parametrize("name, param", ALL_PARAMS, ids=[f"{n}-{p}" for n, p in ALL_PARAMS])
def test_any_parameter_set_to_an_opaque_object_fails_at_fit_naming_it(name, param, monkeypatch):
    make, reads = ESTIMATORS[name]
    est = make().set_params(**{param: _Opaque()})
    trained = []
    monkeypatch.setattr(skorch.NeuralNet, "fit_loop", lambda *a, **k: trained.append(1))
    with pytest.raises((ValueError, TypeError), match=rf"^{param}\b"):
        _fit(est, reads)
    assert not trained
