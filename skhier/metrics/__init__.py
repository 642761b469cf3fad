"""Hierarchical metrics and scorers.

Every metric takes labels in any format of :mod:`skhier.labels` (or node-score matrices
with one column per taxonomy node) and a ``taxonomy=`` keyword. Numpy inputs give Python
floats; torch tensors are computed on their own device (CUDA included) and give tensors.
"""

from ._accumulator import HierarchicalMetricAccumulator
from ._hierarchical import (
    depth_f1_score,
    depth_precision_score,
    depth_recall_score,
    hierarchical_correct_score,
    hierarchical_f1_score,
    hierarchical_precision_recall_fscore,
    hierarchical_precision_score,
    hierarchical_recall_score,
    info_f1_score,
    info_precision_score,
    info_recall_score,
    level_accuracy_score,
    path_accuracy_score,
    specificity_precision_recall_fscore,
)
from ._latent import latent_distance_correlation
from ._mistakes import (
    hierarchical_distance_at_k,
    hierarchical_precision_at_k,
    hierarchical_set_precision_at_k,
    mistake_severity,
)
from ._multilabel import hierarchy_violations, mean_average_precision, multilabel_precision_recall_f1
from ._operating_curve import (
    OperatingCurve,
    hierarchical_average_correct,
    hierarchical_average_precision,
    leaf_f1_score,
    leaf_prediction,
    leaf_top1_accuracy,
    majority_f1_score,
    majority_prediction,
    operating_curve,
    recall_at_correct,
)
from ._plot import plot_operating_curve
from ._scorer import (
    HierarchicalScorer,
    OperatingCurveScorer,
    fitted_taxonomy,
    get_hierarchical_scorer,
    get_hierarchical_scorer_names,
    make_hierarchical_scorer,
    node_scores,
)

__all__ = [
    "HierarchicalMetricAccumulator",
    "HierarchicalScorer",
    "OperatingCurve",
    "OperatingCurveScorer",
    "depth_f1_score",
    "depth_precision_score",
    "depth_recall_score",
    "get_hierarchical_scorer",
    "get_hierarchical_scorer_names",
    "hierarchical_average_correct",
    "hierarchical_average_precision",
    "hierarchical_correct_score",
    "hierarchical_distance_at_k",
    "latent_distance_correlation",
    "hierarchical_f1_score",
    "hierarchical_precision_at_k",
    "hierarchical_set_precision_at_k",
    "hierarchical_precision_recall_fscore",
    "hierarchical_precision_score",
    "hierarchical_recall_score",
    "info_f1_score",
    "info_precision_score",
    "info_recall_score",
    "leaf_f1_score",
    "leaf_prediction",
    "leaf_top1_accuracy",
    "level_accuracy_score",
    "majority_f1_score",
    "majority_prediction",
    "make_hierarchical_scorer",
    "mean_average_precision",
    "mistake_severity",
    "multilabel_precision_recall_f1",
    "hierarchy_violations",
    "node_scores",
    "fitted_taxonomy",
    "operating_curve",
    "path_accuracy_score",
    "plot_operating_curve",
    "recall_at_correct",
    "specificity_precision_recall_fscore",
]
