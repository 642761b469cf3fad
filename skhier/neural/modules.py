"""The torch building blocks of each method: its module, its own loss, its helpers.

Plain ``torch.nn.Module`` classes and functions, usable in any torch loop; the
estimators of :mod:`skhier.neural` build them from the taxonomy (``module__*``
parameters reach their constructors). Generic hierarchical losses are in
:mod:`skhier.neural.losses`.
"""

from ._chmcnn import CHMCNNModule, MaxConstraintLoss, auto_hidden
from ._cmsg import CMSGModule, cooccurrence_correlation, embedding_correlation, reweight_correlation
from ._generic import HierarchicalHeadModule, MultiLabelHeadModule
from ._hcam import HCAMCLModule, PathNLLLoss, path_tokens
from ._hccf import HCCFLoss, HCCFModule, extended_levels
from ._hmlc import HMLC_LOSSES, GMMFeatureMasks, HMLCModule, gmm_level_masks

__all__ = [
    "HierarchicalHeadModule",
    "HCAMCLModule",
    "PathNLLLoss",
    "path_tokens",
    "HCCFModule",
    "HCCFLoss",
    "extended_levels",
    "HMLCModule",
    "HMLC_LOSSES",
    "GMMFeatureMasks",
    "gmm_level_masks",
    "MultiLabelHeadModule",
    "CMSGModule",
    "cooccurrence_correlation",
    "embedding_correlation",
    "reweight_correlation",
    "CHMCNNModule",
    "MaxConstraintLoss",
    "auto_hidden",
]
