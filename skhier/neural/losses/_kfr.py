"""KFR's quantitative-relativity loss (../shared/papers/kfr.txt, §III, eq. 1-7)."""

from __future__ import annotations

import torch

from ..._docs import fill_doc
from ..._tree import TREE_DISTANCES, tree_distance
from ...utils.validation import check_number
from ._base import full_precision
from ._valmadre import FlatSoftmaxLoss

__all__ = ["QuantitativeRelativityLoss", "normalized_l1_distance", "sample_triplets"]


def _normalize(z: torch.Tensor, normalize: str) -> torch.Tensor:
    if normalize == "vector":
        return (z - z.mean(dim=1, keepdim=True)) / z.std(dim=1, keepdim=True).clamp(min=1e-12)
    return (z - z.mean()) / z.std().clamp(min=1e-12)


def normalized_l1_distance(za: torch.Tensor, zb: torch.Tensor, *, p: float = 1.0, reduce: str = "sum") -> torch.Tensor:
    """KFR's latent distance ``d(a, b) = Σ_k |ẑ_a,k - ẑ_b,k|^p``: the L1 distance of normalised vectors.

    ``za`` and ``zb`` are already normalised (see :class:`QuantitativeRelativityLoss`);
    rows are paired. ``reduce="sum"`` is the paper's L1 distance (§III-A);
    ``reduce="mean"`` divides it by the width ``m`` (our option: the same loss with
    ``α`` scaled by ``1 / m``).

    Parameters
    ----------
    za, zb : tensor of shape (n, m)
        Two batches of ``n`` vectors of width ``m``.
    p : float, default=1.0
        The exponent of the L-p distance.
    reduce : {"sum", "mean"}, default="sum"

    Returns
    -------
    d : tensor of shape (n,)
        KFR's latent distance ``d(a, b) = Σ_k |ẑ_a,k - ẑ_b,k|^p``: the L1 distance of normalised vectors.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.losses import normalized_l1_distance
    >>> normalized_l1_distance(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])).tolist()
    [3.0]
    """
    terms = (za - zb).abs().pow(p)
    return terms.sum(dim=1) if reduce == "sum" else terms.mean(dim=1)


def sample_triplets(n: int, *, sampling: str = "all_anchors", generator=None, device=None):
    """Triplets ``(a, b, c)`` of distinct positions in a batch of ``n`` samples.

    ``"all_anchors"``: every sample is an anchor once, with two other samples drawn
    uniformly (``b ≠ c`` when ``n ≥ 3``). ``"random"``: ``n`` anchors drawn uniformly with
    replacement, then the pairs as before. Fewer than two samples give no triplet.

    Parameters
    ----------
    n : int
        Batch size: triplets index ``0 .. n - 1``.
    sampling : {"all_anchors", "random"}, default="all_anchors"
    generator : torch.Generator, default=None
        Random generator of ``sampling="random"``.
    device : torch.device, default=None
        Where tensors go (``"cpu"``, ``"cuda"``); ``"auto"`` picks CUDA when available.

    Returns
    -------
    a, b, c : long tensors of shape (n_triplets,)
        Triplets ``(a, b, c)`` of distinct positions in a batch of ``n`` samples.

    Examples
    --------
    >>> from skhier.neural.losses import sample_triplets
    >>> a, b, c = sample_triplets(5)
    >>> bool(((a != b) & (a != c) & (b != c)).all()), a.tolist()
    (True, [0, 1, 2, 3, 4])
    """
    if n < 2:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty, empty
    if sampling == "all_anchors":
        a = torch.arange(n, device=device)
    else:
        a = torch.randint(0, n, (n,), generator=generator, device=device)
    rb = torch.randint(1, n, (a.numel(),), generator=generator, device=device)
    if n >= 3:
        rc = torch.randint(1, n - 1, (a.numel(),), generator=generator, device=device)
        rc = rc + (rc >= rb).long()  # skip b's offset: c ≠ b
    else:
        rc = rb
    return a, (a + rb) % n, (a + rc) % n


@fill_doc
class QuantitativeRelativityLoss(FlatSoftmaxLoss):
    """KFR: cross-entropy on the anchor plus α times the quantitative-relativity term.

    For a triplet of samples (anchor ``a``, pairs ``b``, ``c``) with latent vectors ``z``
    and labels ``v`` (eq. 6-7)::

        ℓ_qtr = | d(z_a, z_b) · D(v_a, v_c) - d(z_a, z_c) · D(v_a, v_b) |
        L     = CE(ŷ_a, y_a) + α · ℓ_qtr

    averaged over the batch's triplets; no margin. ``d`` is the L1 distance of the
    normalised latent vectors (:func:`normalized_l1_distance`, the paper's §III-A;
    ``latent_distance="mean_l1"`` divides it by the width ``m``, our option, which makes
    α ``m`` times smaller than the paper's at equal value); ``z`` is first normalised
    by its mean and standard deviation, ``normalize="vector"`` (default: each vector
    over its own dimensions, as the paper's text reads; it needs at least two
    dimensions) or ``"batch"`` (one mean and deviation over the whole batch, as the
    authors' demo code does). ``D`` is the taxonomy distance
    ``distance``: ``"edges"`` (eq. 1 with every edge weighing 1: edges up to the LCA and
    down again; the paper's choice), ``"lca_height"`` or ``"hierarchical_precision"``
    (1 - depth(LCA)/max depth, §III-A's reading of Deng et al.). Edge weight ``k`` is
    absorbed into α, as §IV notes. The CE part is the flat softmax's subtree NLL, so
    internal labels train too. Triplets are drawn inside each batch by
    :func:`sample_triplets` (``sampling="all_anchors"`` by default: every sample is an
    anchor, so the CE covers the whole batch); a batch of one sample has no triplet and
    trains on the CE alone.

    Head: leaves, plus the backbone's features (``uses_features``). Read-out: the flat
    softmax.

    Parameters
    ----------
    %(taxonomy)s
    alpha : float, default=1.0
        Weight of the triplet term, ≥ 0, on the paper's scale (it sweeps 0 to 30 in
        Fig. 3 and uses 1 to 100 in §IV).
    p : float, default=1.0
        Exponent of the latent distance (1 in the paper), > 0.
    normalize : {"vector", "batch"}, default="vector"
    latent_distance : {"l1", "mean_l1"}, default="l1"
    distance : {"edges", "lca_height", "hierarchical_precision"}, default="edges"
    sampling : {"all_anchors", "random"}, default="all_anchors"

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import QuantitativeRelativityLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = QuantitativeRelativityLoss(tax, alpha=1.0)
    >>> y = torch.tensor([tax.index(n) for n in ["A1", "A2", "B1"]])
    >>> z = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    >>> # (A1, A2, B1): d(a,b)=0, d(a,c)=4 (normalised z: (-1, 0, 1) and (1, 0, -1)),
    >>> # D(a,b)=2, D(a,c)=4 -> |0*4 - 4*2| = 8
    >>> round(float(loss.relativity(z, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))), 4)
    8.0
    """

    uses_features = True

    def __init__(self, taxonomy, alpha=1.0, p=1.0, normalize="vector", distance="edges", sampling="all_anchors",
                 latent_distance="l1"):
        super().__init__(taxonomy)
        self.alpha = check_number(alpha, "alpha", low=0)
        self.p = check_number(p, "p", low=0)
        if self.p == 0:
            raise ValueError(f"p must be > 0, got {p!r}")
        for name, value, allowed in [
            ("normalize", normalize, ("vector", "batch")),
            ("distance", distance, TREE_DISTANCES),
            ("sampling", sampling, ("all_anchors", "random")),
            ("latent_distance", latent_distance, ("l1", "mean_l1")),
        ]:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.normalize, self.distance, self.sampling = normalize, distance, sampling
        self.latent_distance = latent_distance

    def relativity(self, features, targets, triplets):
        """Mean ``ℓ_qtr`` over the given triplets of batch positions.

        Parameters
        ----------
        features : tensor of shape (B, ...)
            Latent vectors of the batch.
        targets : tensor of int of shape (B,)
            Node indices of the labels.
        triplets : tuple of three int tensors
            Batch positions ``(a, b, c)`` of every triplet (:func:`sample_triplets`).

        Returns
        -------
        loss : scalar tensor
            The loss, averaged over the batch.
        """
        a, b, c = triplets
        if a.numel() == 0:
            return features.new_zeros(())
        flat = full_precision(features.flatten(1))
        if self.normalize == "vector" and flat.shape[1] < 2:
            # one dimension has no standard deviation: the normalised vector is 0/0
            raise ValueError(
                f"normalize='vector' standardises every latent vector over its own dimensions and needs at least "
                f"2 of them, got features of width {flat.shape[1]}; widen the backbone or use normalize='batch'"
            )
        z = _normalize(flat, self.normalize)
        dist = lambda i, j: tree_distance(targets[i], targets[j], self.taxonomy, self.distance).to(z.dtype)  # noqa: E731
        reduce = "sum" if self.latent_distance == "l1" else "mean"
        d_ab = normalized_l1_distance(z[a], z[b], p=self.p, reduce=reduce)
        d_ac = normalized_l1_distance(z[a], z[c], p=self.p, reduce=reduce)
        return (d_ab * dist(a, c) - d_ac * dist(a, b)).abs().mean()

    def forward(self, logits, targets, features=None, triplets=None):
        """CE on the anchors plus α times the relativity term on in-batch triplets.

        Parameters
        ----------
        logits : tensor of shape (B, n_leaves)
            Model outputs, one row per sample.
        targets : long tensor of shape (B,)
            Node indices of the labels.
        features : tensor of shape (B, ...)
            The latent vectors ``z`` (the backbone's pooled output).
        triplets : tuple of three long tensors, default=None
            Batch positions ``(a, b, c)``; drawn by :func:`sample_triplets` when None.

        Returns
        -------
        loss : scalar tensor
            The loss, averaged over the batch.
        """
        logits, targets = self._check(logits, targets)
        if features is None:
            raise ValueError(
                "QuantitativeRelativityLoss needs the latent vectors: call it as loss(logits, targets, features=z)"
            )
        if features.shape[0] != logits.shape[0]:
            raise ValueError(f"features has {features.shape[0]} rows but logits has {logits.shape[0]}")
        nll = self.subtree_nll(logits, targets)
        if self.alpha == 0 and triplets is None:
            # plain cross-entropy: no triplet is drawn, so the random stream (dropout, shuffling) is the
            # flat softmax's and alpha=0 trains exactly as FlatSoftmaxClassifier
            return nll.mean()
        if triplets is None:
            triplets = sample_triplets(logits.shape[0], sampling=self.sampling, device=logits.device)
        a = triplets[0]
        ce = nll[a].mean() if a.numel() else nll.mean()
        if self.alpha == 0:
            return ce
        return ce + self.alpha * self.relativity(features, targets, triplets)

    def extra_repr(self):
        return f"{super().extra_repr()}, alpha={self.alpha}, normalize={self.normalize!r}, distance={self.distance!r}"
