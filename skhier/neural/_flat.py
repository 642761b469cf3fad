"""FlatSoftmaxClassifier: a softmax over the leaves, node probabilities by bottom-up sums.

The baseline every hierarchical paper compares against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._base import HierarchicalNet

__all__ = ["FlatSoftmaxModule", "SubtreeNLLLoss", "FlatSoftmaxClassifier"]


class FlatSoftmaxModule(nn.Module):
    """Backbone, global average pooling, dropout and a linear layer over the leaves.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch to a (B, C, H, W) feature map or (B, D) features.
    feature_shape : tuple of int
        The backbone's output shape for one sample.
    leaf_nodes : sequence of int
        Node index of every leaf (the output order).
    n_nodes : int
        Number of taxonomy nodes (width of ``end_log_probs``).
    dropout : float, default=0.2

    Examples
    --------
    >>> import torch
    >>> from skhier.neural import FlatSoftmaxModule
    >>> from skhier.neural.backbones import MLP
    >>> m = FlatSoftmaxModule(MLP(4, 8), (8,), leaf_nodes=[1, 2], n_nodes=3)
    >>> m.end_log_probs(torch.zeros(2, 4)).exp().sum(1).tolist()
    [1.0, 1.0]
    """

    def __init__(self, backbone, feature_shape, leaf_nodes, n_nodes, dropout=0.2):
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if len(feature_shape) == 3 else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(feature_shape[0]), len(leaf_nodes))
        self.register_buffer("leaf_nodes", torch.as_tensor(np.asarray(leaf_nodes), dtype=torch.long))
        self.n_nodes = int(n_nodes)

    def forward(self, x, targets=None):
        return self.head(self.dropout(self.pool(self.backbone(x)).flatten(1)))

    def end_log_probs(self, x):
        logp = torch.log_softmax(self.forward(x).float(), dim=1)
        out = logp.new_full((logp.shape[0], self.n_nodes), -float("inf"))
        out[:, self.leaf_nodes] = logp
        return out


class SubtreeNLLLoss(nn.Module):
    """Negative log-likelihood of the true node's subtree under a softmax over leaves.

    For a leaf target this is the cross-entropy; for an internal node (a sample labelled
    only down to "Shoes"), the log of the total probability of the leaves below it.

    Parameters
    ----------
    subtree_leaves : bool tensor of shape (n_nodes, n_leaves)
        ``[v, j]`` is True when leaf ``j`` is under node ``v``.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural import SubtreeNLLLoss
    >>> loss = SubtreeNLLLoss(torch.tensor([[True, True], [True, False], [False, True]]))
    >>> round(float(loss(torch.zeros(1, 2), torch.tensor([1]))), 4)
    0.6931
    """

    def __init__(self, subtree_leaves):
        super().__init__()
        self.register_buffer("subtree_leaves", torch.as_tensor(subtree_leaves, dtype=torch.bool))

    def forward(self, logits, targets):
        logp = torch.log_softmax(logits.float(), dim=1)
        mask = self.subtree_leaves[targets]
        return -torch.logsumexp(logp.masked_fill(~mask, -float("inf")), dim=1).mean()


class FlatSoftmaxClassifier(HierarchicalNet):
    """A flat softmax over the leaves, trained with skorch; the standard baseline.

    Node probabilities are bottom-up sums of the leaf softmax, so it plugs into every
    refiner and score-based metric. Samples labelled only down to an internal node are
    trained on the total probability of that node's leaves.

    Parameters
    ----------
    taxonomy : Taxonomy
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
    **kwargs
        Every parameter of :class:`~skhier.neural.HierarchicalNet` and skorch
        (``lr``, ``max_epochs``, ``batch_size``, ``device``, ``module__dropout``,
        ``backbone__width``, ``callbacks``, ...).

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        The leaves, sorted: the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
    label_format_ : LabelFormat
    module_ : FlatSoftmaxModule
    history_ : skorch History

    See Also
    --------
    HCAMCLClassifier : decodes the label path with cross-attention and an LSTM.

    Examples
    --------
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import FlatSoftmaxClassifier
    >>> X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    >>> clf = FlatSoftmaxClassifier(tax, max_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.transform(X[:2]).shape
    ((2, 4), (2, 7))
    """

    def __init__(self, taxonomy, *, module=FlatSoftmaxModule, criterion=SubtreeNLLLoss, backbone="auto", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _module_defaults(self, backbone, feat_shape):
        tax = self.taxonomy_
        return {"backbone": backbone, "feature_shape": feat_shape, "leaf_nodes": tax.leaves.tolist(), "n_nodes": tax.n_nodes}

    def _criterion_defaults(self):
        tax = self.taxonomy_
        return {"subtree_leaves": torch.as_tensor(tax.leaf_ancestor_matrix.toarray().T > 0)}
