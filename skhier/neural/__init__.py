"""Neural hierarchical classifiers on skorch, CUDA when present.

Every estimator here takes the :class:`~skhier.Taxonomy` first, reads ``y`` in every
label format it takes and keeps the contract of ``docs/contract.md``: a single-label
classifier's ``predict_proba`` is a distribution over its ``classes_`` and ``transform``
gives node marginals (so it can start a refiner Pipeline); ``predict`` answers in the
format of ``fit``. Three bases, one per kind of output (:mod:`._protocols`), carry the
plumbing; a method is a module, a criterion and two hooks.
"""

from . import losses
from ._accelerate import AccelerateMixin
from ._base import (
    HierarchicalEncoderNet,
    HierarchicalNet,
    HierarchicalValidScoring,
    MultiLabelHierarchicalNet,
    ThreadBudget,
    auto_batch_size,
    resolve_device,
)
from ._chmcnn import CHMCNNClassifier, CHMCNNModule, MaxConstraintLoss
from ._cmsg import (
    CMSGClassifier,
    CMSGModule,
    MultiLabelHeadModule,
    MultiLabelNodeClassifier,
    cooccurrence_correlation,
    embedding_correlation,
    reweight_correlation,
)
from ._data import HierarchicalBatchIterator, HierarchicalValidSplit, NodeDataset, TensorBatchIterator
from ._flat import FlatSoftmaxClassifier, HierarchicalHeadModule, HierarchicalLossClassifier, KFRClassifier
from ._hcam import HCAMCLClassifier, HCAMCLModule, PathNLLLoss, path_tokens
from ._hccf import HCCFClassifier, HCCFLoss, HCCFModule, extended_levels
from ._hmlc import HMLC_LOSSES, GMMFeatureMasks, HMLCEncoder, HMLCModule, gmm_level_masks
from ._protocols import EncoderModule, EndDistributionModule, NodeProbabilityModule

__all__ = [
    "AccelerateMixin",
    "GMMFeatureMasks",
    "HMLCEncoder",
    "HMLCModule",
    "HMLC_LOSSES",
    "gmm_level_masks",
    "CHMCNNClassifier",
    "CHMCNNModule",
    "CMSGClassifier",
    "CMSGModule",
    "MaxConstraintLoss",
    "MultiLabelHeadModule",
    "MultiLabelNodeClassifier",
    "cooccurrence_correlation",
    "embedding_correlation",
    "reweight_correlation",
    "EncoderModule",
    "EndDistributionModule",
    "HierarchicalEncoderNet",
    "MultiLabelHierarchicalNet",
    "NodeProbabilityModule",
    "auto_batch_size",
    "FlatSoftmaxClassifier",
    "HierarchicalHeadModule",
    "HierarchicalLossClassifier",
    "KFRClassifier",
    "HCAMCLClassifier",
    "HCCFClassifier",
    "HCCFLoss",
    "HCCFModule",
    "extended_levels",
    "HCAMCLModule",
    "PathNLLLoss",
    "HierarchicalNet",
    "HierarchicalValidScoring",
    "ThreadBudget",
    "HierarchicalBatchIterator",
    "HierarchicalValidSplit",
    "NodeDataset",
    "TensorBatchIterator",
    "losses",
    "path_tokens",
    "resolve_device",
]
