"""The generic neural estimators: one backbone and one head, read out by a loss.

:class:`HierarchicalLossClassifier` trains a backbone and a linear head under whichever
:class:`~skhier.neural.losses.HierarchicalLoss` ``criterion`` names; the head's width
and the read-out of its probabilities follow the loss, so every loss gives the same
estimator contract (``predict_proba``, node marginals for refiners, metrics).
:class:`FlatSoftmaxClassifier` is the same estimator under its usual name.
:class:`MultiLabelNodeClassifier` is the multi-label counterpart: an independent sigmoid
per node (or any multi-label criterion). The methods (``_kfr.py``, ``_cmsg.py``,
``_chmcnn.py``, ...) build on these.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._docs import fill_doc
from ._kinds import HierarchicalNet, MultiLabelHierarchicalNet
from .losses import LOSSES, HierarchicalLoss, get_criterion

__all__ = [
    "HierarchicalHeadModule",
    "HierarchicalLossClassifier",
    "FlatSoftmaxClassifier",
    "MultiLabelHeadModule",
    "MultiLabelNodeClassifier",
]

#: The root's logit in ``node_logits``: every label set holds the root (σ(40) is 1.0).
ROOT_LOGIT = 40.0


def _with_root(logits: torch.Tensor) -> torch.Tensor:
    """(B, n_nodes - 1) label logits → (B, n_nodes) node logits, the root's constant first."""
    return torch.cat([logits.new_full((logits.shape[0], 1), ROOT_LOGIT), logits], dim=1)


class HierarchicalHeadModule(nn.Module):
    """Backbone, global average pooling, dropout and one linear head read out by a loss.

    ``forward`` returns ``(logits, features)``: what the loss reads (the features only
    matter to losses with ``uses_features``, such as KFR's). ``end_log_probs`` is the
    loss's read-out of the logits, so the module is an
    :class:`~skhier.neural.EndDistributionModule`; ``embed`` gives the pooled features.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch to a (B, C, H, W) feature map or (B, D) features.
    feature_shape : tuple of int
        The backbone's output shape for one sample.
    readout : HierarchicalLoss
        Fixes the head's width (``readout.n_outputs``) and reads its logits out.
    dropout : float, default=0.2
        Dropout probability.

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.modules import HierarchicalHeadModule
    >>> from skhier.neural.backbones import MLP
    >>> from skhier.neural.losses import ConditionalSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> m = HierarchicalHeadModule(MLP(4, 8), (8,), ConditionalSoftmaxLoss(tax))
    >>> m.head.out_features, m.end_log_probs(torch.zeros(2, 4)).exp().sum(1).round(decimals=5).tolist()
    (6, [1.0, 1.0])
    """

    def __init__(self, backbone, feature_shape, readout, dropout=0.2):
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if len(feature_shape) == 3 else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(feature_shape[0]), readout.n_outputs)
        self.readout = readout

    def embed(self, x):
        return self.pool(self.backbone(x)).flatten(1)

    def forward(self, x, targets=None):
        z = self.embed(x)
        return self.head(self.dropout(z)), z

    def end_log_probs(self, x):
        return self.readout.end_log_probs(self.forward(x)[0].float())


class HierarchicalLossClassifier(HierarchicalNet):
    """A backbone and a linear head trained under any hierarchical loss, chosen by name.

    ``criterion`` picks the loss (see :mod:`skhier.neural.losses`): the flat softmax,
    Valmadre's losses (conditional softmax and sigmoid, multi-label sigmoid,
    soft-max-descendant, soft-max-margin, PS softmax), Bertinetto et al.'s HXE and soft
    labels, or KFR's quantitative relativity; its parameters are ``criterion__*``
    (``criterion__alpha``, ``criterion__tau``, ...), so a loss is a hyper-parameter of
    :class:`~sklearn.model_selection.GridSearchCV` like any other. The head is over the
    leaves or over all nodes as the loss needs, and the loss's read-out gives the
    distribution over end nodes behind ``predict``, ``predict_proba`` (over
    ``classes_``) and ``transform`` (node marginals, for refiners and metrics).

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    criterion : str, HierarchicalLoss subclass or instance, default="flat_softmax"
        A name of :data:`skhier.neural.losses.LOSSES`, a loss class (built with the
        taxonomy and the ``criterion__*`` parameters) or a built loss (used as is; it
        must be of the same taxonomy).
    module : class, default=HierarchicalHeadModule
        Backbone, pooling and a linear head read out through the loss (``module__*``).
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    **kwargs
        Every parameter of :class:`~skhier.neural.HierarchicalNet` and skorch
        (``lr``, ``max_epochs``, ``batch_size``, ``device``, ``module__dropout``,
        ``backbone__width``, ``criterion__*``, ``callbacks``, ...).

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Where the loss's distribution can end, sorted: the leaves, or every node for the
        losses with a softmax over all nodes (soft-max-margin, soft-max-descendant).
    class_nodes_ : ndarray of int
    label_format_ : LabelFormat
    module_ : HierarchicalHeadModule
    criterion_ : HierarchicalLoss
    history_ : skorch History

    See Also
    --------
    skhier.neural.losses : the losses and their formulas.
    KFRClassifier : the shortcut for KFR.

    Examples
    --------
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import HierarchicalLossClassifier
    >>> X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    >>> clf = HierarchicalLossClassifier(tax, criterion="soft_max_margin", criterion__tau=1.0,
    ...                                  max_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.transform(X[:2]).shape
    ((2, 7), (2, 7))
    """

    def __init__(
        self, taxonomy=None, *, criterion="flat_softmax", module=HierarchicalHeadModule, backbone="auto", **kwargs
    ):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _criterion_defaults(self):
        if isinstance(self.criterion, nn.Module):
            return {}
        return {"taxonomy": self.taxonomy_}

    def _build_loss(self) -> HierarchicalLoss:
        """A loss instance of ``criterion`` and the ``criterion__*`` parameters (the module's
        read-out and the end nodes come from it)."""
        spec = get_criterion(self.criterion, "end")
        if not isinstance(spec, HierarchicalLoss) and not (
            isinstance(spec, type) and issubclass(spec, HierarchicalLoss)
        ):
            raise TypeError(
                f"{type(self).__name__} reads its head out through the loss: criterion must be a loss name "
                f"({sorted(LOSSES)}), a HierarchicalLoss subclass or instance, got {self.criterion!r}"
            )
        return self._make_criterion()

    def _module_defaults(self, backbone, feat_shape):
        return {"backbone": backbone, "feature_shape": feat_shape, "readout": self._build_loss()}

    def _end_nodes(self):
        return np.asarray(self._build_loss().end_nodes)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, features = y_pred
        if self.criterion_.uses_features:
            return self.criterion_(logits.float(), y_true, features=features.float())
        return self.criterion_(logits.float(), y_true)

    @fill_doc
    def embed(self, X):
        """The pooled backbone features of ``X`` (the latent vectors KFR aligns).

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features)
            The embeddings.
        """
        return self._collect(X, "embed").double().cpu().numpy()


class FlatSoftmaxClassifier(HierarchicalLossClassifier):
    """A flat softmax over the leaves, trained with skorch; the standard baseline.

    :class:`HierarchicalLossClassifier` under the name users look for:
    ``criterion="flat_softmax"`` by default, any other loss by name. Node probabilities
    are bottom-up sums of the leaf softmax, so it plugs into every refiner and
    score-based metric. Samples labelled only down to an internal node are trained on
    the total probability of that node's leaves.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    criterion : str, HierarchicalLoss subclass or instance, default="flat_softmax"
        Any loss of :class:`HierarchicalLossClassifier` (the flat softmax by default).
    module : class, default=HierarchicalHeadModule
        Backbone, pooling and a linear head read out through the loss (``module__*``).
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    **kwargs
        Every parameter of :class:`HierarchicalLossClassifier`.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        The leaves, sorted: the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
    label_format_ : LabelFormat
    module_ : HierarchicalHeadModule
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


class MultiLabelHeadModule(nn.Module):
    """Backbone, global average pooling, dropout and a linear layer: one logit per label.

    The multi-label baseline's module (per-node sigmoid); ``node_logits`` prepends the
    root's constant logit.

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    feature_shape : tuple of int
        Shape of the backbone's output for one sample.
    n_labels : int
        Number of outputs: the taxonomy's non-root nodes.
    dropout : float, default=0.2
        Dropout probability.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.modules import MultiLabelHeadModule
    >>> from skhier.neural.backbones import MLP
    >>> MultiLabelHeadModule(MLP(4, 8), (8,), 5).node_logits(torch.zeros(2, 4)).shape
    torch.Size([2, 6])
    """

    def __init__(self, backbone, feature_shape, n_labels, dropout=0.2):
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if len(feature_shape) == 3 else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(feature_shape[0]), int(n_labels))

    def forward(self, x, targets=None):
        return self.head(self.dropout(self.pool(self.backbone(x)).flatten(1)))

    def node_logits(self, x):
        return _with_root(self.forward(x))


class MultiLabelNodeClassifier(MultiLabelHierarchicalNet):
    """Multi-label baseline: one sigmoid per taxonomy node on a pooled backbone.

    Learns node sets (a node-indicator ``y``, dense or scipy sparse, ancestors implied)
    with binary cross-entropy (``criterion="bce"``) or the asymmetric loss
    (``criterion="asl"``) over the non-root nodes. ``predict`` returns the node sets
    scoring at least ``threshold``, closed under ancestors (``consistency``);
    ``predict_proba`` / ``transform`` the per-node probabilities. The baseline of
    :class:`CMSGClassifier`'s ablation.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    criterion : {"bce", "asl"}, loss class or module, default="bce"
        A class gets the ``criterion__*`` parameters (``criterion__gamma_neg``, ...).
    module : class, default=MultiLabelHeadModule
        ``module__dropout`` reaches it.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.
    consistency : {"fill", "prune"}, default="fill"
        How predicted node sets are made coherent: ``"fill"`` adds the missing ancestors
        of every predicted node, ``"prune"`` drops the nodes under an unpredicted one.
    **kwargs
        Every parameter of :class:`~skhier.neural.MultiLabelHierarchicalNet` and skorch.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Every taxonomy node (the indicator's columns).
    label_format_ : LabelFormat
    module_ : MultiLabelHeadModule
    criterion_ : nn.Module
    history_ : skorch History

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.labels import fill_ancestors
    >>> from skhier.neural import MultiLabelNodeClassifier
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> rng = np.random.default_rng(0)
    >>> Y = np.zeros((60, tax.n_nodes), dtype=int)
    >>> Y[np.arange(60), rng.choice([tax.index("A1"), tax.index("B1")], 60)] = 1
    >>> Y = fill_ancestors(Y, tax)  # node sets closed under ancestors (scipy CSR)
    >>> X = Y.toarray()[:, 1:] + rng.normal(scale=0.1, size=(60, tax.n_nodes - 1))
    >>> clf = MultiLabelNodeClassifier(tax, max_epochs=2, device="cpu", random_state=0).fit(X, Y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 6)
    """

    def __init__(self, taxonomy=None, *, criterion="bce", module=MultiLabelHeadModule, backbone="auto", threshold=0.5,
                 consistency="fill", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, threshold=threshold, consistency=consistency,
                         **kwargs)

    def _module_defaults(self, backbone, feat_shape):
        return {"backbone": backbone, "feature_shape": feat_shape, "n_labels": self.taxonomy_.n_nodes - 1}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # the root is in every label set: the loss sees the other nodes only
        return self.criterion_(y_pred.float(), y_true[:, 1:].to(torch.float32))
