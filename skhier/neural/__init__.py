"""Neural hierarchical classifiers on skorch, CUDA when present.

Every estimator here takes the :class:`~skhier.Taxonomy` first, reads ``y`` in every
label format, returns node probabilities from ``predict_proba`` / ``transform`` (so it can
start a refiner Pipeline) and answers ``predict`` in the format it was fitted on.
"""

from ._base import HierarchicalNet, HierarchicalValidScoring, resolve_device
from ._data import HierarchicalValidSplit, NodeDataset, TensorBatchIterator
from ._flat import FlatSoftmaxClassifier, FlatSoftmaxModule, SubtreeNLLLoss
from ._hcam import HCAMCLClassifier, HCAMCLModule, PathNLLLoss, path_tokens

__all__ = [
    "FlatSoftmaxClassifier",
    "FlatSoftmaxModule",
    "HCAMCLClassifier",
    "HCAMCLModule",
    "PathNLLLoss",
    "HierarchicalNet",
    "HierarchicalValidScoring",
    "HierarchicalValidSplit",
    "NodeDataset",
    "SubtreeNLLLoss",
    "TensorBatchIterator",
    "path_tokens",
    "resolve_device",
]
