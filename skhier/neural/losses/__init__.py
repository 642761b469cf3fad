"""Hierarchical training losses: plain torch modules that know the taxonomy.

Every loss here is a :class:`HierarchicalLoss`: built from a :class:`~skhier.Taxonomy`,
called as ``loss(logits, targets)`` with the labels' node indices, usable in any torch
loop, and able to read its own head out as an end-node distribution
(``end_log_probs``), which is how skhier's estimators turn any of them into
``predict_proba``, node marginals for refiners, and metrics. Pick one by name in an
estimator (``criterion="soft_max_margin"``) or in a grid search.

=========================  ==================================  ======  =====================
name                       class                               head    from
=========================  ==================================  ======  =====================
``flat_softmax``           :class:`FlatSoftmaxLoss`            leaves  (baseline)
``ps_softmax``             :class:`ParameterSharingSoftmaxLoss` nodes  Valmadre 2022
``conditional_softmax``    :class:`ConditionalSoftmaxLoss`     nodes   Redmon & Farhadi 2017
``conditional_sigmoid``    :class:`ConditionalSigmoidLoss`     nodes   Brust & Denzler 2019
``multilabel_sigmoid``     :class:`MultiLabelSigmoidLoss`      nodes   (BCE over all nodes)
``soft_max_descendant``    :class:`SoftMaxDescendantLoss`      nodes   Valmadre 2022
``soft_max_margin``        :class:`SoftMaxMarginLoss`          nodes   Valmadre 2022
``hxe``                    :class:`HierarchicalCrossEntropyLoss` leaves Bertinetto et al. 2020
``soft_labels``            :class:`SoftLabelsLoss`             leaves  Bertinetto et al. 2020
``quantitative_relativity`` :class:`QuantitativeRelativityLoss` leaves KFR (+ features)
=========================  ==================================  ======  =====================

Losses of other shapes, reusable the same way: :class:`AsymmetricLoss` (Ridnik et al.
2021) scores multi-label logits against 0/1 targets (CMSG's loss); :class:`SupConLoss`
(Khosla et al. 2020) and :class:`HMCELoss` (Zhang et al. 2022) contrast normalised
features of several views (HMLC's losses).
"""

from ._base import HierarchicalLoss
from ._bertinetto import HierarchicalCrossEntropyLoss, SoftLabelsLoss
from ._contrastive import LAYER_PENALTIES, HMCELoss, SupConLoss
from ._multilabel import AsymmetricLoss
from ._kfr import QuantitativeRelativityLoss, normalized_l1_distance, sample_triplets
from ._valmadre import (
    ConditionalSigmoidLoss,
    ConditionalSoftmaxLoss,
    FlatSoftmaxLoss,
    MultiLabelSigmoidLoss,
    ParameterSharingSoftmaxLoss,
    SoftMaxDescendantLoss,
    SoftMaxMarginLoss,
)

#: Every loss by the name estimators accept in ``criterion=``.
LOSSES = {
    "flat_softmax": FlatSoftmaxLoss,
    "ps_softmax": ParameterSharingSoftmaxLoss,
    "conditional_softmax": ConditionalSoftmaxLoss,
    "conditional_sigmoid": ConditionalSigmoidLoss,
    "multilabel_sigmoid": MultiLabelSigmoidLoss,
    "soft_max_descendant": SoftMaxDescendantLoss,
    "soft_max_margin": SoftMaxMarginLoss,
    "hxe": HierarchicalCrossEntropyLoss,
    "soft_labels": SoftLabelsLoss,
    "quantitative_relativity": QuantitativeRelativityLoss,
}


def get_loss(criterion):
    """The loss class named ``criterion`` (or ``criterion`` itself when it is one).

    Parameters
    ----------
    criterion : str or HierarchicalLoss subclass or instance

    Returns
    -------
    loss : HierarchicalLoss subclass or instance

    Examples
    --------
    >>> from skhier.neural.losses import get_loss
    >>> get_loss("soft_max_margin").__name__
    'SoftMaxMarginLoss'
    """
    if isinstance(criterion, str):
        try:
            return LOSSES[criterion]
        except KeyError:
            raise ValueError(f"criterion must be one of {sorted(LOSSES)} or a HierarchicalLoss, got {criterion!r}") from None
    if isinstance(criterion, HierarchicalLoss) or (isinstance(criterion, type) and issubclass(criterion, HierarchicalLoss)):
        return criterion
    raise TypeError(
        f"criterion must be a loss name ({sorted(LOSSES)}), a HierarchicalLoss subclass or instance, "
        f"got {criterion!r}"
    )


__all__ = [
    "LOSSES",
    "LAYER_PENALTIES",
    "AsymmetricLoss",
    "HMCELoss",
    "SupConLoss",
    "ConditionalSigmoidLoss",
    "ConditionalSoftmaxLoss",
    "FlatSoftmaxLoss",
    "HierarchicalCrossEntropyLoss",
    "HierarchicalLoss",
    "MultiLabelSigmoidLoss",
    "ParameterSharingSoftmaxLoss",
    "QuantitativeRelativityLoss",
    "SoftLabelsLoss",
    "SoftMaxDescendantLoss",
    "SoftMaxMarginLoss",
    "get_loss",
    "normalized_l1_distance",
    "sample_triplets",
]
