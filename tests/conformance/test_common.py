"""scikit-learn's estimator checks over every public estimator.

The local classifiers take plain (X, y) with no taxonomy and pass every check.
``FlatClassifier`` needs a taxonomy that names the labels the checks use (0..3); the few
checks that feed labels outside any fixed taxonomy are expected to fail, each with its
reason. The neural estimators run with ``taxonomy=None`` (inferred from ``y``, as the
local classifiers do), one epoch and tiny widths; the refiners with ``taxonomy=None``
too, which is how they sit in a Pipeline. Every expected failure is listed below with
its reason; a listed check that passes is reported as XPASS, not hidden.
"""

import warnings

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhier import FlatClassifier, Taxonomy
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
    HierarchicalNet,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelHierarchicalNet,
    MultiLabelNodeClassifier,
)

TAX = Taxonomy.from_parent_mapping({0: "A", 1: "A", 2: "B", 3: "B", "A": "root", "B": "root"})

_FLAT_EXPECTED = {
    "check_complex_data": "complex y is refused as an unknown label before X is read",
    "check_classifiers_classes": "the check's labels ('one', 'two', ...) are not nodes of the fixed taxonomy",
    "check_supervised_y_2d": "a 2-D y is a path array: [[0]] is no path of the taxonomy (0 sits under 'A')",
}

_NEURAL = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, initialized_ and keeps "
                                       "module__* / backbone__* parameters as attributes (skorch's design)",
    "check_supervised_y_2d": "a 2-D y of one column is a path array (one level), not a column vector to ravel",
}
_BUDGET = {
    "check_classifiers_train": "accuracy ≥ 0.83 is out of reach in the one epoch of a tiny net these checks "
                               "get (accuracy claims live in benchmarks/)",
}
_NODE_SETS = {
    "check_classifiers_classes": "classes_ are every taxonomy node, the root '<root>' included: a per-node "
                                 "model answers single-label y by greedy descent and may stop above the leaves",
    "check_classifiers_one_label": "one class gives a root and one leaf; a per-node model may predict the root",
    "check_classifiers_train": "predictions mix the root '<root>' with the integer labels the check compares",
    "check_classifier_data_not_an_array": "predictions may mix the root '<root>' with integer labels",
    "check_methods_sample_order_invariance": "predictions may mix the root '<root>' with integer labels",
    "check_methods_subset_invariance": "predictions may mix the root '<root>' with integer labels (CMSG: "
                                       "float32 attention differs in the last bits with the batch's size)",
    "check_fit_idempotent": "predictions may mix the root '<root>' with integer labels",
    "check_estimator_sparse_array": "sparse X is taken; predict_proba has a column per node, the root included, "
                                    "not one per integer class as the check expects",
    "check_estimator_sparse_matrix": "sparse X is taken; predict_proba has a column per node, the root included, "
                                     "not one per integer class as the check expects",
    "check_estimators_pickle": "predictions may mix the root '<root>' with integer labels",
}
_FLOAT32 = {
    "check_methods_subset_invariance": "float32 matrix products differ in the last bits (2e-7) with the "
                                       "batch's size",
}

# the refiners read node scores: X must carry its taxonomy (NodeScores) or taxonomy= be given
_NOT_NODE_SCORES = "plain X carries no taxonomy: a refiner with taxonomy=None reads NodeScores from the step before"
_REFINER = {name: _NOT_NODE_SCORES for name in (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimator_sparse_tag",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_classifier_data_not_an_array", "check_classifiers_one_label",
    "check_classifiers_classes", "check_classifiers_train", "check_classifiers_regression_target",
    "check_supervised_y_2d", "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
    "check_non_transformer_estimators_n_iter", "check_transformer_n_iter",
    "check_complex_data", "check_estimators_empty_data_messages",
)}

# node sets need a taxonomy (they do not determine one) and the checks feed 1-D labels
_NODE_SETS_ONLY = "it learns node sets only: the checks' 1-D y is no node-indicator matrix, and with " \
                  "taxonomy=None (node sets do not determine a taxonomy) every fit is refused"
_MULTILABEL_LOCAL = {name: _NODE_SETS_ONLY for name in (
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_one_label",
    "check_classifiers_regression_target", "check_classifiers_train", "check_dict_unchanged",
    "check_dont_overwrite_parameters", "check_dtype_object", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimator_sparse_tag", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_requires_y_none", "check_supervised_y_2d",
    "check_transformer_data_not_an_array", "check_transformer_general", "check_transformer_preserve_dtypes",
)}

TINY = dict(max_epochs=1, random_state=0, device="cpu", batch_size=16)
MLP = dict(backbone__hidden=(8,))
NEURAL = [
    FlatSoftmaxClassifier(**MLP, **TINY),
    HierarchicalLossClassifier(**MLP, **TINY),
    KFRClassifier(**MLP, **TINY),
    HCAMCLClassifier(**MLP, **TINY),
    HCCFClassifier(text_encoder="learned", embed_dim=8, **MLP, **TINY),
    HMLCEncoder(embed_dim=4, **MLP, **TINY),
    MultiLabelNodeClassifier(**MLP, **TINY),
    CMSGClassifier(correlation="cooccurrence", module__dim=8, module__heads=2, **MLP, **TINY),
    CHMCNNClassifier(module__hidden=8, **TINY),
]
REFINERS = [TopDownRefiner(), BottomUpRefiner(), DiffusionRefiner(), CoherenceRefiner(),
            DifferentiableDiffusionRefiner(max_epochs=1)]


def _expected_failures(estimator):
    if isinstance(estimator, FlatClassifier):
        return _FLAT_EXPECTED
    if isinstance(estimator, MultiLabelLocalClassifierPerNode):
        return _MULTILABEL_LOCAL
    if estimator in REFINERS:
        return _REFINER
    if isinstance(estimator, MultiLabelHierarchicalNet):
        return {**_NEURAL, **_NODE_SETS}
    if isinstance(estimator, HCCFClassifier):
        return {**_NEURAL, **_BUDGET, **_FLOAT32}
    if isinstance(estimator, HierarchicalNet):
        return {**_NEURAL, **_BUDGET}
    if estimator in NEURAL:
        return _NEURAL
    return {}


@parametrize_with_checks(
    [LocalClassifierPerNode(), LocalClassifierPerParentNode(), LocalClassifierPerLevel(),
     MultiLabelLocalClassifierPerNode(), FlatClassifier(LogisticRegression(), TAX), *NEURAL, *REFINERS],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny nets on the checks' data
        check(estimator)
