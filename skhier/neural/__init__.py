"""Neural hierarchical classifiers on skorch, CUDA when present.

Every estimator here takes the :class:`~skhier.Taxonomy` first, reads ``y`` in every
label format it takes and keeps the contract of ``docs/contract.md``: a single-label
classifier's ``predict_proba`` is a distribution over its ``classes_`` and ``transform``
gives node marginals (so it can start a refiner Pipeline); ``predict`` answers in the
format of ``fit``. Three bases, one per kind of output (:mod:`._protocols`), carry the
plumbing; a method is a module, a criterion and two hooks.

This namespace holds the estimators, their bases and the module Protocols. The rest is
reached through its module: :mod:`skhier.neural.modules` (each method's torch module,
own loss and helpers), :mod:`skhier.neural.losses`, :mod:`skhier.neural.data`,
:mod:`skhier.neural.callbacks`, :mod:`skhier.neural.backbones`, :mod:`skhier.neural.text`
and :mod:`skhier.neural.augment`.
"""

import importlib
import warnings

from . import callbacks, data, losses, modules  # noqa: F401  (reached as skhier.neural.<module>)
from ._accelerate import AccelerateMixin
from ._chmcnn import CHMCNNClassifier
from ._cmsg import CMSGClassifier
from ._generic import FlatSoftmaxClassifier, HierarchicalLossClassifier, MultiLabelNodeClassifier
from ._hcam import HCAMCLClassifier
from ._hccf import HCCFClassifier
from ._hmlc import HMLCEncoder
from ._kfr import KFRClassifier
from ._kinds import HierarchicalEncoderNet, HierarchicalNet, MultiLabelHierarchicalNet
from ._protocols import EncoderModule, EndDistributionModule, NodeProbabilityModule

__all__ = [
    # estimators
    "FlatSoftmaxClassifier",
    "HierarchicalLossClassifier",
    "KFRClassifier",
    "HCAMCLClassifier",
    "HCCFClassifier",
    "HMLCEncoder",
    "MultiLabelNodeClassifier",
    "CMSGClassifier",
    "CHMCNNClassifier",
    # bases
    "HierarchicalNet",
    "MultiLabelHierarchicalNet",
    "HierarchicalEncoderNet",
    "AccelerateMixin",
    # the Protocols a module meets, one per kind of output
    "EndDistributionModule",
    "NodeProbabilityModule",
    "EncoderModule",
]

# Names this namespace exported before the layout by role; importable until the next
# release, with a DeprecationWarning naming the new place.
_MOVED = {
    **{name: "skhier.neural.modules" for name in modules.__all__},
    **{name: "skhier.neural.data" for name in (
        "HierarchicalBatchIterator", "HierarchicalValidSplit", "NodeDataset", "TensorBatchIterator",
        "auto_batch_size")},
    "HierarchicalValidScoring": "skhier.neural.callbacks",
    "ThreadBudget": "skhier.neural.callbacks",
    "resolve_device": "skhier.utils.device",
}


def __getattr__(name):
    where = _MOVED.get(name)
    if where is None:
        raise AttributeError(f"module 'skhier.neural' has no attribute {name!r}")
    warnings.warn(
        f"skhier.neural.{name} moved to {where}.{name}; the old name goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(where), name)
