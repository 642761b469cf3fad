"""The module ↔ estimator contract of skhier's neural methods.

A skhier neural module is a plain ``torch.nn.Module`` that knows the taxonomy only
through the sizes and index arrays its estimator passes to ``__init__``. Its
``forward(x, targets=None)`` returns whatever its criterion reads (``targets`` lets a
decoder use teacher forcing; the training and validation batches reach it as skorch's
dict ``{<inputs>: ..., "targets": ...}``, keyed by the name of ``forward``'s first
parameter, so the second must be called ``targets``), and one more method gives the
output that predictions are read from. Which method depends on the kind of method, and
picks the estimator base class that does all the prediction and validation plumbing:

================================  ============================  =============================
module method                     estimator base                what users get
================================  ============================  =============================
``end_log_probs(X)`` (B, N)       :class:`HierarchicalNet`      single-label ``predict``,
                                                                ``predict_proba`` over
                                                                ``classes_``, node marginals
``node_logits(X)`` (B, N)         :class:`MultiLabelHierarc…`   per-node probabilities,
                                                                label sets
``embed(X)`` (B, D)               :class:`HierarchicalEncod…`   ``transform`` = embeddings
================================  ============================  =============================

N is the number of taxonomy nodes, columns in taxonomy order. The Protocols below are
``runtime_checkable``, so ``isinstance(module, EndDistributionModule)`` checks a module;
each estimator base checks its module so at initialisation and names what is missing.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["EndDistributionModule", "NodeProbabilityModule", "EncoderModule"]


@runtime_checkable
class EndDistributionModule(Protocol):
    """A single-label model: a distribution over the node where each label path ends.

    ``end_log_probs(X)`` returns (B, n_nodes) log-probabilities that sum (in probability)
    to 1 over each row; ``-inf`` where a path cannot end (an internal node of a model
    that always reaches a leaf).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.neural import EndDistributionModule
    >>> from skhier.neural.modules import HierarchicalHeadModule
    >>> from skhier.neural.backbones import MLP
    >>> from skhier.neural.losses import FlatSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A"], ["B"]])
    >>> isinstance(HierarchicalHeadModule(MLP(4, 8), (8,), FlatSoftmaxLoss(tax)), EndDistributionModule)
    True
    """

    def forward(self, x: torch.Tensor, targets: Any = None) -> Any: ...

    def end_log_probs(self, X: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class NodeProbabilityModule(Protocol):
    """A model of independent per-node probabilities (multi-label, sigmoid losses).

    ``node_logits(X)`` returns (B, n_nodes) logits; ``sigmoid`` of column ``v`` is the
    probability that node ``v`` is in the sample's (ancestor-closed) label set.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural import NodeProbabilityModule
    >>> class M(torch.nn.Module):
    ...     def forward(self, X, targets=None): return X
    ...     def node_logits(self, X): return X
    >>> isinstance(M(), NodeProbabilityModule)
    True
    """

    def forward(self, x: torch.Tensor, targets: Any = None) -> Any: ...

    def node_logits(self, X: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class EncoderModule(Protocol):
    """A representation model: ``embed(X)`` returns (B, D) embeddings.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural import EncoderModule
    >>> isinstance(torch.nn.Linear(2, 2), EncoderModule)
    False
    """

    def forward(self, x: torch.Tensor, targets: Any = None) -> Any: ...

    def embed(self, X: torch.Tensor) -> torch.Tensor: ...
