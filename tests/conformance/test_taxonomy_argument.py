"""One convention for the ``taxonomy`` argument: it comes right after the estimator a class
wraps, positional or keyword — first for the neural estimators and the refiners, second for
``FlatClassifier`` and the local classifiers (after the scikit-learn estimator, as
``OneVsRestClassifier(estimator)`` has it) — and every public estimator takes it by keyword."""

import inspect

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

import skhier
import skhier.inference
import skhier.local
import skhier.neural
from skhier.datasets import make_hierarchical_classification

WRAPS = ("estimator", "local_classifier")  # the parameter that holds a wrapped scikit-learn estimator

ESTIMATORS = sorted({
    getattr(mod, name) for mod in (skhier, skhier.neural, skhier.inference, skhier.local) for name in mod.__all__
    if inspect.isclass(getattr(mod, name)) and issubclass(getattr(mod, name), BaseEstimator)
    and "taxonomy" in inspect.signature(getattr(mod, name).__init__).parameters
}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_taxonomy_comes_right_after_the_wrapped_estimator(cls):
    params = [p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"]
    names = [p.name for p in params]
    where = 1 if names[0] in WRAPS else 0
    assert names[where] == "taxonomy", (cls.__name__, names[:3])
    assert params[where].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


X, y, TAX = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)


@pytest.mark.parametrize("cls", [skhier.local.LocalClassifierPerNode, skhier.local.LocalClassifierPerParentNode,
                                 skhier.local.LocalClassifierPerLevel, skhier.FlatClassifier],
                         ids=lambda c: c.__name__)
def test_positional_and_keyword_taxonomy_give_the_same_model(cls):
    by_position = cls(LogisticRegression(), TAX).fit(X, y)
    by_keyword = cls(LogisticRegression(), taxonomy=TAX).fit(X, y)
    assert by_position.taxonomy_ == by_keyword.taxonomy_ == TAX
    np.testing.assert_array_equal(by_position.predict_proba(X), by_keyword.predict_proba(X))


def test_every_public_estimator_takes_the_taxonomy_by_keyword():
    for cls in ESTIMATORS:
        kwargs = {"text_encoder": "learned"} if cls.__name__ == "HCCFClassifier" else {}
        if cls.__name__ in ("HierarchicalNet", "MultiLabelHierarchicalNet", "HierarchicalEncoderNet"):
            continue  # the kind bases need a module and a criterion as well
        first = next(iter(inspect.signature(cls.__init__).parameters.keys() - {"self"} & set(WRAPS)), None)
        if first:
            kwargs[first] = LogisticRegression()
        assert cls(taxonomy=TAX, **kwargs).get_params()["taxonomy"] is TAX, cls.__name__
