"""HMLC: hierarchical contrastive representation learning as a scikit-learn transformer.

:class:`HMLCEncoder` trains a backbone and a projection head with a supervised
contrastive loss that knows the taxonomy, then ``transform`` gives the backbone's
embeddings, so ``make_pipeline(HMLCEncoder(tax), LogisticRegression())`` is the linear
evaluation protocol. Four losses:

- ``"supcon"``: :class:`~skhier.neural.losses.SupConLoss` on the labels (flat baseline);
- ``"hmce"``: :class:`~skhier.neural.losses.HMCELoss` (Zhang et al., CVPR 2022);
- ``"g-hmlc"``: HMCE on per-level hard feature masks assigned by a Gaussian mixture;
- ``"a-hmlc"``: HMCE on per-level soft masks from a learned attention gate.

G-HMLC and A-HMLC are from Ott et al., "Feature Identification for Hierarchical
Contrastive Learning" (arXiv 2510.00837), of which only the abstract is public: "hard
masking for G-HMLC and soft masking for A-HMLC" of "hierarchy-specific features". How
the masks are computed and applied here is therefore ours, stated in
:class:`HMLCModule` and :func:`gmm_level_masks`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from skorch.callbacks import Callback
from torch import nn

from ..utils.validation import HasMethods, Interval, OneOf, Options
from ._kinds import HierarchicalEncoderNet
from .augment import RandomCropFlip, RandomFeatureNoise
from .data import HierarchicalBatchIterator, _base_and_indices
from .losses import HMCELoss, SupConLoss, get_criterion

__all__ = ["HMLCEncoder", "HMLCModule", "GMMFeatureMasks", "gmm_level_masks", "HMLC_LOSSES"]

#: The losses of :class:`HMLCEncoder` and the feature masks each uses.
HMLC_LOSSES = {"supcon": None, "hmce": None, "g-hmlc": "hard", "a-hmlc": "attention"}


class HMLCModule(nn.Module):
    """Backbone, pooling and a projection head, with optional per-level feature masks.

    ``embed(x)`` is the pooled backbone output (what ``transform`` returns and a linear
    classifier reads); ``project(x)`` the projection ``z`` (Linear-ReLU-Linear, as in
    SimCLR / SupCon); ``forward`` the L2-normalised features the loss contrasts:

    - ``masks=None``: ``normalize(z)``, shape (B, D);
    - ``masks="attention"`` (A-HMLC, our reading of "soft masks"): for every level h a
      gate ``m_h = σ(W_h z + b_h)`` over the D dimensions, features
      ``normalize(z ⊙ m_h)``, shape (B, L, D);
    - ``masks="hard"`` (G-HMLC): fixed 0/1 masks ``M_h`` (the ``level_masks`` buffer,
      all ones until :class:`GMMFeatureMasks` assigns them), features
      ``normalize(z ⊙ M_h)``, shape (B, L, D).

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    feature_shape : tuple of int
        Shape of the backbone's output for one sample.
    n_levels : int
        Depth L of the taxonomy.
    embed_dim : int, default=128
        Width D of the projection.
    masks : {None, "attention", "hard"}, default=None
    hidden : int, default=None
        Width of the projection's hidden layer (the backbone's width by default).

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.modules import HMLCModule
    >>> from skhier.neural.backbones import MLP
    >>> m = HMLCModule(MLP(6, 16), (16,), n_levels=3, embed_dim=8, masks="attention")
    >>> m(torch.zeros(4, 6)).shape, m.embed(torch.zeros(4, 6)).shape
    (torch.Size([4, 3, 8]), torch.Size([4, 16]))
    """

    def __init__(self, backbone, feature_shape, n_levels, embed_dim=128, masks=None, hidden=None):
        super().__init__()
        if masks not in (None, "attention", "hard"):
            raise ValueError(f"masks must be None, 'attention' or 'hard', got {masks!r}")
        width = int(feature_shape[0])
        hidden = width if hidden is None else int(hidden)
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if len(feature_shape) == 3 else nn.Identity()
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, embed_dim))
        self.masks = masks
        self.n_levels = int(n_levels)
        self.gates = nn.Linear(embed_dim, self.n_levels * embed_dim) if masks == "attention" else None
        self.register_buffer("level_masks", torch.ones(self.n_levels, embed_dim) if masks == "hard" else None)

    def embed(self, x):
        return self.pool(self.backbone(x)).flatten(1)

    def project(self, x):
        return self.head(self.embed(x))

    def level_weights(self, z):
        """Per-level feature masks of the projections.

        Parameters
        ----------
        z : tensor of shape (B, D)
            Projections (:meth:`project`).

        Returns
        -------
        masks : tensor of shape (B, L, D)
            Feature masks.
        """
        if self.masks == "attention":
            return torch.sigmoid(self.gates(z)).view(z.shape[0], self.n_levels, -1)
        return self.level_masks.to(z.dtype).expand(z.shape[0], -1, -1)

    def forward(self, x, targets=None):
        z = self.project(x)
        if self.masks is None:
            return nn.functional.normalize(z, dim=-1)
        return nn.functional.normalize(z[:, None, :] * self.level_weights(z), dim=-1)


def _fisher_ratios(Z: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Between-class over within-class sum of squares of every column of ``Z`` (D,)."""
    classes, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    sums = np.zeros((classes.size, Z.shape[1]))
    np.add.at(sums, inverse, Z)
    means = sums / counts[:, None]
    grand = Z.mean(axis=0)
    between = (counts[:, None] * (means - grand) ** 2).sum(axis=0)
    within = ((Z - means[inverse]) ** 2).sum(axis=0)
    return between / np.maximum(within, 1e-12)


def gmm_level_masks(Z, level_labels, *, random_state=None) -> np.ndarray:
    """G-HMLC's hard masks: every embedding dimension assigned to the level it separates.

    Our reading of "a Gaussian Mixture Model captures hierarchy-specific features":

    1. for every level h and dimension j, the Fisher ratio ``F[h, j]`` (between-class
       over within-class sum of squares of ``Z[:, j]`` for the level-h classes; samples
       shallower than h left out), on a log scale, standardised over the dimensions of
       each level so that levels compare;
    2. a Gaussian mixture with L diagonal components over the D points ``F[:, j]``;
    3. components matched one-to-one to levels (Hungarian matching on the components'
       mean statistic per level), and dimension ``j`` given to the level of its most
       probable component; a level left without a dimension gets its best-separating
       one (so masks may then share it).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_dims)
        Projections of a sample of the training data.
    level_labels : array-like of shape (n_samples, n_levels)
        Level-h ancestor (any id) of every sample, -1 below its depth.
    random_state : int or None, default=None
        Seeds the mixture.

    Returns
    -------
    masks : ndarray of bool, shape (n_levels, n_dims)
        Every dimension in at least one mask, every mask non-empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier.neural.modules import gmm_level_masks
    >>> rng = np.random.default_rng(0)
    >>> coarse, fine = rng.integers(0, 2, 400), rng.integers(0, 4, 400)
    >>> Z = rng.normal(size=(400, 6))
    >>> Z[:, :3] += 4 * coarse[:, None]; Z[:, 3:] += 4 * fine[:, None]
    >>> gmm_level_masks(Z, np.stack([coarse, coarse * 4 + fine], 1), random_state=0).astype(int)
    array([[1, 1, 1, 0, 0, 0],
           [0, 0, 0, 1, 1, 1]])
    """
    from sklearn.mixture import GaussianMixture

    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(level_labels)
    if Z.ndim != 2 or labels.ndim != 2 or labels.shape[0] != Z.shape[0]:
        raise ValueError(f"Z (n, D) and level_labels (n, L) must share n, got shapes {Z.shape} and {labels.shape}")
    n_levels, n_dims = labels.shape[1], Z.shape[1]
    if n_dims < n_levels:
        raise ValueError(f"G-HMLC needs at least one embedding dimension per level: {n_dims} dims < {n_levels} levels")
    if n_levels == 1:
        return np.ones((1, n_dims), dtype=bool)
    stats = np.zeros((n_levels, n_dims))
    for h in range(n_levels):
        rows = labels[:, h] >= 0
        if np.unique(labels[rows, h]).size >= 2:
            stats[h] = np.log(_fisher_ratios(Z[rows], labels[rows, h]) + 1e-12)
    stats = (stats - stats.mean(axis=1, keepdims=True)) / np.maximum(stats.std(axis=1, keepdims=True), 1e-12)
    gmm = GaussianMixture(n_levels, covariance_type="diag", reg_covar=1e-3, random_state=random_state).fit(stats.T)
    _, level_of_component = linear_sum_assignment(-gmm.means_)  # component c → level
    level = level_of_component[gmm.predict(stats.T)]
    masks = level[None, :] == np.arange(n_levels)[:, None]
    for h in np.flatnonzero(~masks.any(axis=1)):
        masks[h, np.argmax(stats[h])] = True
    return masks


class GMMFeatureMasks(Callback):
    """Re-assign G-HMLC's hard masks every ``every`` epochs (:func:`gmm_level_masks`).

    At the end of epochs ``every``, ``2·every``, ... projects up to ``max_samples``
    training samples (evaluation mode, no gradient), computes the masks and writes them
    into the module's ``level_masks``; the history records ``level_mask_dims`` (the
    number of dimensions of each level). Until the first refresh the masks are all ones
    (HMCE), a warm-up that gives the statistics something to measure.

    Parameters
    ----------
    every : int, default=1
        Refresh the masks every ``every`` epochs.
    max_samples : int, default=4096
        The most training samples projected for one refresh.

    Examples
    --------
    >>> from skhier.neural.modules import GMMFeatureMasks
    >>> GMMFeatureMasks(every=2).every
    2
    """

    def __init__(self, every=1, max_samples=4096):
        self.every = every
        self.max_samples = max_samples

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        epoch = len(net.history)
        if dataset_train is None or epoch % int(self.every):
            return
        base, idx = _base_and_indices(dataset_train)
        rows = np.arange(len(dataset_train)) if idx is None else idx.numpy()
        rng = np.random.default_rng(None if net._seed() is None else net._seed() + epoch)
        if rows.size > self.max_samples:
            rows = rng.choice(rows, self.max_samples, replace=False)
        Z = net._collect(base.X[torch.as_tensor(rows)], "project").double().cpu().numpy()
        nodes = base.strata[rows]
        levels = np.asarray(net.taxonomy_.path_indices)[nodes][:, 1:]
        masks = gmm_level_masks(Z, levels, random_state=rng.integers(2**31))
        buf = net._plain_module().level_masks
        buf.copy_(torch.as_tensor(masks, dtype=buf.dtype))
        net.history.record("level_mask_dims", masks.sum(axis=1).tolist())


class HMLCEncoder(HierarchicalEncoderNet):
    """Hierarchical contrastive representation learning (SupCon, HMCE, G-HMLC, A-HMLC).

    A transformer: ``fit(X, y)`` trains a backbone with a projection head under a
    supervised contrastive loss that uses every level of the taxonomy, on ``n_views``
    augmented views of every image (augmented on the device), in batches from
    :class:`~skhier.neural.data.HierarchicalBatchIterator` so that every level has positives;
    ``transform(X)`` returns the backbone's embeddings. Linear evaluation is a
    Pipeline: ``make_pipeline(HMLCEncoder(tax), LogisticRegression())``.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    criterion : {"hmce", "a-hmlc", "g-hmlc", "supcon"}, loss class or module, default="hmce"
        ``"hmce"``: HMCE, the published loss with public equations and code (Zhang et
        al., the default); ``"supcon"``: SupCon on the labels (the flat baseline);
        ``"g-hmlc"`` / ``"a-hmlc"``: HMCE on per-level hard (Gaussian-mixture) or soft
        (attention) feature masks (see :class:`HMLCModule`) — our construction from Ott
        et al.'s abstract, whose equations are not public. The names are the
        ``"encoder"`` part of :data:`skhier.neural.losses.CRITERIA`; a class or module of
        your own trains without feature masks.
    module : class, default=HMLCModule
        Backbone, projection head and feature masks (``module__*`` reach it).
    loss : str, default="deprecated"
        Deprecated (0.1) name of ``criterion``, removed in 0.3: ``criterion="g-hmlc"`` still
        works, with a ``FutureWarning``.
    temperature : float, default=0.07
        Softmax temperature of the similarities.
    layer_penalty : {"exp", "pow2"} or callable, default="exp"
        HMCE's level weights λ_l (ignored by ``"supcon"``).
    embed_dim : int, default=128
        Width of the projection (the contrasted features; ``transform`` returns the
        backbone's width). G-HMLC needs at least one dimension per level.
    n_views : int, default=2
        Augmented views of every training sample per step.
    mask_refresh : int, default=1
        G-HMLC: re-assign the hard masks every ``mask_refresh`` epochs.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    train_transform : callable, "auto" or None, default="auto"
        The view augmentation: ``"auto"`` takes
        :class:`~skhier.neural.augment.RandomCropFlip` for images and
        :class:`~skhier.neural.augment.RandomFeatureNoise` for feature vectors.
    iterator_train : class, default=HierarchicalBatchIterator
        ``TensorBatchIterator`` gives plain random batches.
    **kwargs
        Every parameter of :class:`~skhier.neural.HierarchicalEncoderNet` and skorch
        (``lr``, ``max_epochs``, ``batch_size``, ``device``, ``criterion__*``,
        ``module__hidden``, ``callbacks``, ...).

    Attributes
    ----------
    taxonomy_ : Taxonomy
    label_format_ : LabelFormat
    input_shape_ : tuple of int
    n_features_out_ : int
        Width of the embeddings (after ``transform``).
    train_transform_ : callable or None
        The view augmentation used (``train_transform`` resolved).
    module_ : HMLCModule
    criterion_ : SupConLoss or HMCELoss
    history_ : skorch History

    References
    ----------
    Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020; Zhang et al., "Use
    All The Labels: A Hierarchical Multi-Label Contrastive Learning Framework", CVPR
    2022; Ott et al., "Feature Identification for Hierarchical Contrastive Learning",
    arXiv 2510.00837.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import HMLCEncoder
    >>> X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    >>> pipe = make_pipeline(HMLCEncoder(tax, criterion="hmce", max_epochs=2, device="cpu", random_state=0,
    ...                                  backbone__hidden=(32,)), LogisticRegression())
    >>> pipe.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        taxonomy=None,
        *,
        criterion="hmce",
        temperature=0.07,
        layer_penalty="exp",
        embed_dim=128,
        n_views=2,
        mask_refresh=1,
        loss="deprecated",
        module=HMLCModule,
        backbone="auto",
        train_transform="auto",
        iterator_train=HierarchicalBatchIterator,
        **kwargs,
    ):
        super().__init__(taxonomy, module, criterion, backbone=backbone, train_transform=train_transform,
                         iterator_train=iterator_train, **kwargs)
        self.loss = loss
        self.temperature = temperature
        self.layer_penalty = layer_penalty
        self.embed_dim = embed_dim
        self.n_views = n_views
        self.mask_refresh = mask_refresh

    # ------------------------------------------------------------ checks and construction
    _parameter_rules = {
        "temperature": Interval(0, low_open=True),
        "n_views": Interval(1, integer=True),
        "embed_dim": Interval(1, integer=True),
        "mask_refresh": Interval(1, integer=True),
        "layer_penalty": OneOf(Options("exp", "pow2"), HasMethods("__call__")),
        "loss": Options("deprecated", *HMLC_LOSSES),
    }

    def _variant(self):
        """The HMLC variant named by ``criterion`` (or the deprecated ``loss``); None for a
        criterion class or module of the user's."""
        name = self.criterion if isinstance(self.loss, str) and self.loss == "deprecated" else self.loss
        return name if isinstance(name, str) else None

    def _prepare(self, X, y, *, reset):
        if not (isinstance(self.loss, str) and self.loss == "deprecated"):
            warnings.warn(f"HMLCEncoder(loss={self.loss!r}) is deprecated and will be removed in 0.3: use "
                          f"criterion={self.loss!r}", FutureWarning, stacklevel=3)
            if self.loss not in HMLC_LOSSES:
                raise ValueError(f"loss must be one of {sorted(HMLC_LOSSES)}, got {self.loss!r}")
        get_criterion(self._variant() or self.criterion, "encoder")  # a bad name fails before any work
        dataset = super()._prepare(X, y, reset=reset)
        depth = int(self.taxonomy_.max_depth)
        if self._variant() == "g-hmlc" and self.embed_dim < depth:
            raise ValueError(
                f"criterion='g-hmlc' needs at least one embedding dimension per level: embed_dim={self.embed_dim} "
                f"< {depth} levels"
            )
        if reset:
            t = self.train_transform
            if isinstance(t, str) and t == "auto":
                t = RandomCropFlip() if len(self.input_shape_) == 3 else RandomFeatureNoise()
            elif isinstance(t, str):
                raise ValueError(f"train_transform must be 'auto', None or a callable, got {t!r}")
            self.train_transform_ = t
        hierarchical = isinstance(self.iterator_train, type) and issubclass(
            self.iterator_train, HierarchicalBatchIterator
        )
        need = depth + 2 if hierarchical else 2
        if self.batch_size_ < need:
            raise ValueError(
                f"batch_size={self.batch_size_} is too small for positives: "
                + (f"hierarchical batches need depth + 2 = {need} samples per anchor" if hierarchical
                   else "a contrastive batch needs at least 2 samples")
            )
        return dataset

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            # the multi-view step below augments and stacks the views itself
            params.update(transform=None, x_key=None)
            if isinstance(self.iterator_train, type) and issubclass(self.iterator_train, HierarchicalBatchIterator):
                params.setdefault("taxonomy", self.taxonomy_)
        return params

    def _module_defaults(self, backbone, feat_shape):
        return {"backbone": backbone, "feature_shape": feat_shape, "n_levels": int(self.taxonomy_.max_depth),
                "embed_dim": int(self.embed_dim), "masks": HMLC_LOSSES.get(self._variant())}

    def _make_criterion(self):
        # the deprecated loss= names the criterion while it lasts
        if self._variant() is not None and self._variant() != self.criterion:
            return get_criterion(self._variant(), "encoder")(**self.get_params_for("criterion"))
        return super()._make_criterion()

    def _criterion_defaults(self):
        spec = get_criterion(self._variant() or self.criterion, "encoder")
        defaults = {"temperature": self.temperature}
        if isinstance(spec, type) and issubclass(spec, HMCELoss):
            defaults.update(taxonomy=self.taxonomy_, layer_penalty=self.layer_penalty)
        return defaults

    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        if self._variant() == "g-hmlc":
            callbacks.append(("gmm_masks", GMMFeatureMasks(every=self.mask_refresh)))
        return callbacks

    # ------------------------------------------------------------ training
    def _augment(self, Xi):
        t = self.train_transform_
        return Xi if t is None else t(Xi)

    def train_step_single(self, batch, **fit_params):
        """One step on ``n_views`` augmented views of the batch, stacked view-major (the one
        step body of our own: skorch's takes one view).

        Parameters
        ----------
        batch : tuple of (X, y) tensors
            One training batch.
        **fit_params : dict
            Passed to the module.

        Returns
        -------
        step : dict
            ``loss`` and ``y_pred``, as skorch's step returns them.
        """
        self._set_training(True)
        Xi, yi = batch
        views = torch.cat([self._augment(Xi) for _ in range(int(self.n_views))])
        y_pred = self.infer(views, **fit_params)
        loss = self.get_loss(y_pred, yi, X=views, training=True)
        self._backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        b = y_true.shape[0]
        feats = y_pred.float()
        feats = feats.view(feats.shape[0] // b, b, *feats.shape[1:]).transpose(0, 1)  # (B, V, ...)
        if isinstance(self.criterion_, SupConLoss):
            return self.criterion_(feats, labels=y_true)
        return self.criterion_(feats, y_true)
