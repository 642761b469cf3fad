"""scikit-learn's estimator checks on every estimator that can take plain (X, y)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skhier.local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode


@parametrize_with_checks([LocalClassifierPerNode(), LocalClassifierPerParentNode(), LocalClassifierPerLevel()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
