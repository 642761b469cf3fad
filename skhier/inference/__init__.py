"""Inference refiners: node scores in, refined node scores and decisions out.

A *score producer* is any estimator whose ``transform(X)`` returns node scores of shape
(n_samples, n_nodes), columns in taxonomy order (:class:`FlatClassifier`, the local
classifiers, the neural estimators). Refiners are transformers *and* classifiers, so they
chain in a ``Pipeline`` after a producer and decide with ``predict``.
"""

from ._base import DECISIONS, BaseRefiner, NodeScores, decide
from ._diffusion import DiffusionRefiner, diffuse, diffusion_operator
from ._flat import FlatClassifier
from ._learned import DifferentiableDiffusionRefiner, EdgeDiffusionMap, LinearScoreMap
from ._simple import BottomUpRefiner, CoherenceRefiner, TopDownRefiner

__all__ = [
    "DECISIONS",
    "BaseRefiner",
    "BottomUpRefiner",
    "CoherenceRefiner",
    "DifferentiableDiffusionRefiner",
    "DiffusionRefiner",
    "EdgeDiffusionMap",
    "FlatClassifier",
    "LinearScoreMap",
    "NodeScores",
    "TopDownRefiner",
    "decide",
    "diffuse",
    "diffusion_operator",
]
