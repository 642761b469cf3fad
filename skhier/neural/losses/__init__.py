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

import warnings

import torch

from ._base import HierarchicalLoss
from ._bertinetto import HierarchicalCrossEntropyLoss, SoftLabelsLoss
from ._contrastive import LAYER_PENALTIES, HMCELoss, SupConLoss
from ._kfr import QuantitativeRelativityLoss, normalized_l1_distance, sample_triplets
from ._multilabel import AsymmetricLoss
from ._valmadre import (
    ConditionalSigmoidLoss,
    ConditionalSoftmaxLoss,
    FlatSoftmaxLoss,
    MultiLabelSigmoidLoss,
    ParameterSharingSoftmaxLoss,
    SoftMaxDescendantLoss,
    SoftMaxMarginLoss,
)

#: The single-label hierarchical losses by the name estimators accept in ``criterion=``.
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

#: The one registry of named criteria, by the kind of estimator that takes them:
#: ``"end"`` (single-label, an end-node distribution: :data:`LOSSES`), ``"multilabel"``
#: (per-node logits against 0/1 targets) and ``"encoder"`` (contrastive, several views;
#: ``"g-hmlc"`` and ``"a-hmlc"`` are HMCE with HMLC's hard or attention feature masks).
CRITERIA = {
    "end": LOSSES,
    "multilabel": {"bce": torch.nn.BCEWithLogitsLoss, "asl": AsymmetricLoss},
    "encoder": {"supcon": SupConLoss, "hmce": HMCELoss, "g-hmlc": HMCELoss, "a-hmlc": HMCELoss},
}


def get_criterion(criterion, kind="end"):
    """The loss class named ``criterion`` for estimators of ``kind`` (or ``criterion``
    itself when it is a class or a module already).

    Parameters
    ----------
    criterion : str, loss class or ``torch.nn.Module`` instance
        A name of :data:`CRITERIA` (under ``kind``), a loss class or a module.
    kind : {"end", "multilabel", "encoder"}, default="end"
        Which estimators will use it (see :data:`CRITERIA`).

    Returns
    -------
    loss : class or module
        The criterion: a class to build from the taxonomy, or the module given.

    Examples
    --------
    >>> from skhier.neural.losses import get_criterion
    >>> get_criterion("soft_max_margin").__name__
    'SoftMaxMarginLoss'
    >>> get_criterion("asl", kind="multilabel").__name__
    'AsymmetricLoss'
    """
    if kind not in CRITERIA:
        raise ValueError(f"kind must be one of {sorted(CRITERIA)}, got {kind!r}")
    names = CRITERIA[kind]
    if isinstance(criterion, str):
        if criterion in names:
            return names[criterion]
        other = [k for k, v in CRITERIA.items() if criterion in v]
        hint = f" ({criterion!r} is a criterion of {other[0]!r} estimators)" if other else ""
        raise ValueError(f"criterion must be one of {sorted(names)}, a loss class or module, got {criterion!r}{hint}")
    if isinstance(criterion, torch.nn.Module) or (
        isinstance(criterion, type) and issubclass(criterion, torch.nn.Module)
    ):
        return criterion
    raise TypeError(f"criterion must be a loss name ({sorted(names)}), a loss class or module, got {criterion!r}")


def get_loss(criterion):
    """Deprecated alias of :func:`get_criterion` (its name shadowed skorch's
    ``NeuralNet.get_loss``); takes only single-label hierarchical losses.

    Parameters
    ----------
    criterion : str or HierarchicalLoss subclass or instance
        A name of :data:`LOSSES`, a HierarchicalLoss class or instance.

    Returns
    -------
    loss : HierarchicalLoss subclass or instance
        The loss class registered under that name, or the instance given.

    Examples
    --------
    >>> import warnings
    >>> from skhier.neural.losses import get_loss
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     get_loss("soft_max_margin").__name__
    'SoftMaxMarginLoss'
    """
    warnings.warn("skhier.neural.losses.get_loss is deprecated: use get_criterion", FutureWarning, stacklevel=2)
    if not isinstance(criterion, str) and not (
        isinstance(criterion, HierarchicalLoss)
        or (isinstance(criterion, type) and issubclass(criterion, HierarchicalLoss))
    ):
        raise TypeError(
            f"criterion must be a loss name ({sorted(LOSSES)}), a HierarchicalLoss subclass or instance, "
            f"got {criterion!r}"
        )
    return get_criterion(criterion, "end")


__all__ = [
    "LOSSES",
    "CRITERIA",
    "get_criterion",
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
