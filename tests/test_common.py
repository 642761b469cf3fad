"""scikit-learn's estimator checks.

The local classifiers take plain (X, y) with no taxonomy and pass every check.
``FlatClassifier`` needs a taxonomy that names the labels the checks use (0..3); the few
checks that feed labels outside any fixed taxonomy are expected to fail, each with its
reason. The neural estimators and the refiners are held to the same contract by
``tests/test_contract.py`` and ``tests/test_neural_base.py`` (scikit-learn's checks feed
refiners arbitrary X, which is not node scores, and cost many neural fits).
"""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhier import FlatClassifier, Taxonomy
from skhier.local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode

TAX = Taxonomy.from_parent_mapping({0: "A", 1: "A", 2: "B", 3: "B", "A": "root", "B": "root"})

_FLAT_EXPECTED = {
    "check_complex_data": "complex y is refused as an unknown label before X is read",
    "check_classifiers_classes": "the check's labels ('one', 'two', ...) are not nodes of the fixed taxonomy",
    "check_supervised_y_2d": "a 2-D y is a path array: [[0]] is no path of the taxonomy (0 sits under 'A')",
}


def _expected_failures(estimator):
    return _FLAT_EXPECTED if isinstance(estimator, FlatClassifier) else {}


@parametrize_with_checks(
    [LocalClassifierPerNode(), LocalClassifierPerParentNode(), LocalClassifierPerLevel(),
     FlatClassifier(LogisticRegression(), TAX)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
