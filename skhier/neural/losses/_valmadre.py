"""The losses Valmadre (NeurIPS 2022) compares, on one linear head over leaves or nodes.

Notation: θ are the logits, ``y`` the label's node, ``path(y)`` its ancestors and itself
(root first), ``subtree(v)`` ``v`` and its descendants. Formulas are written from the
definitions in J. Valmadre, "Hierarchical classification at multiple operating
points", NeurIPS 2022 (§4), which also cites the originals; where a paper is silent on
something a label that stops at an internal node needs, the choice is ours and says so.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._docs import fill_doc
from ..._tree import (
    lca_with_all,
    path_indicator,
    path_sum,
    sibling_log_softmax,
    subtree_logsumexp,
    tree_distance,
)
from ...utils.validation import check_number
from ._base import HierarchicalLoss

__all__ = [
    "FlatSoftmaxLoss",
    "ParameterSharingSoftmaxLoss",
    "ConditionalSoftmaxLoss",
    "ConditionalSigmoidLoss",
    "MultiLabelSigmoidLoss",
    "SoftMaxDescendantLoss",
    "SoftMaxMarginLoss",
]


def _below(targets: torch.Tensor, loss: HierarchicalLoss) -> torch.Tensor:
    """(B, n_nodes) bool: node is strictly below the sample's label (unknown for the loss)."""
    one = torch.zeros(targets.shape[0], loss.taxonomy.n_nodes, dtype=torch.int32, device=targets.device)
    one[torch.arange(targets.shape[0], device=targets.device), targets] = 1
    return path_sum(one, loss.taxonomy).bool() & (one == 0)


class _LeafSoftmax(HierarchicalLoss):
    """A softmax over leaf scores; the label's subtree NLL is the loss."""

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        return self.subtree_nll(self.leaf_log_scores(logits), targets).mean()

    def subtree_nll(self, leaf_scores, targets):
        """Per-sample ``-log sum(softmax(leaf_scores)[l] for l in leaves under target)``."""
        tt = self._tensors(leaf_scores.device)
        if bool(tt.is_leaf[targets].all()):  # the usual case: a cross-entropy
            pos = torch.searchsorted(tt.leaves, targets)  # leaves are in node order
            return F.cross_entropy(leaf_scores, pos, reduction="none")
        logp = self.leaf_columns(torch.log_softmax(leaf_scores, dim=1))
        return -subtree_logsumexp(logp, self.taxonomy).gather(1, targets[:, None]).squeeze(1)


@fill_doc
class FlatSoftmaxLoss(_LeafSoftmax):
    """Flat softmax over the leaves; the NLL of the label's subtree.

    ``p = softmax(θ)`` over the leaves; ``L = -log Σ_{l ∈ leaves(subtree(y))} p_l`` (the
    cross-entropy when ``y`` is a leaf). Head: leaves. Read-out: ``p`` at the leaves.
    The baseline of every hierarchical paper, and the strongest of them in Valmadre's
    comparison.

    Parameters
    ----------
    %(taxonomy)s

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import FlatSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> round(float(FlatSoftmaxLoss(tax)(torch.zeros(1, 3), torch.tensor([tax.index("A1")]))), 4)
    1.0986
    """


@fill_doc
class ParameterSharingSoftmaxLoss(_LeafSoftmax):
    """Parameter-sharing ("PS") softmax: a flat softmax over leaf scores summed along paths.

    One logit per node; a leaf's score is ``s_l = Σ_{u ∈ path(l), u ≠ root} θ_u`` and
    ``L = -log Σ_{l ∈ leaves(subtree(y))} softmax(s)_l``. Head: nodes (root unused).
    Read-out: ``softmax(s)`` at the leaves. Valmadre's simplification of Deep RTC; best
    of his losses on iNat21-mini with soft-max-margin.

    Parameters
    ----------
    %(taxonomy)s

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import ParameterSharingSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = ParameterSharingSoftmaxLoss(tax)
    >>> theta = torch.zeros(1, tax.n_nodes)
    >>> theta[0, tax.index("A")] = 10.0  # raises both leaves under A
    >>> loss.end_log_probs(theta).exp()[0, tax.leaves.tolist()].round(decimals=3).tolist()
    [0.5, 0.5, 0.0]
    """

    head = "nodes"

    def leaf_log_scores(self, logits):
        theta = logits.clone()
        theta[:, 0] = 0
        return path_sum(theta, self.taxonomy)[:, self._tensors(logits.device).leaves]


@fill_doc
class ConditionalSoftmaxLoss(HierarchicalLoss):
    """Conditional ("hierarchical", YOLO9000-style) softmax: one softmax per parent.

    ``P(v | parent(v)) = exp(θ_v) / Σ_{s ∈ children(parent(v))} exp(θ_s)``;
    ``log P(v) = Σ_{u ∈ path(v), u ≠ root} log P(u | parent(u))``; ``L = -log P(y)``
    (an internal label is trained on its own path only). Head: nodes (root unused).
    Read-out: ``P(l)`` at the leaves, which sum to 1.

    Parameters
    ----------
    %(taxonomy)s

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import ConditionalSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = ConditionalSoftmaxLoss(tax)
    >>> loss.end_log_probs(torch.zeros(1, tax.n_nodes)).exp()[0, tax.leaves.tolist()].tolist()
    [0.25, 0.25, 0.5]
    """

    head = "nodes"

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        path = self._tensors(logits.device).paths[targets]
        cond = sibling_log_softmax(logits, self.taxonomy).gather(1, path.clamp(min=0))
        return -(cond * (path >= 0)).sum(dim=1).mean()

    def end_log_probs(self, logits):
        logp = path_sum(sibling_log_softmax(logits, self.taxonomy), self.taxonomy)
        return self.leaf_columns(logp[:, self._tensors(logits.device).leaves])


class _SigmoidPath(HierarchicalLoss):
    """Sigmoid heads; read-out: a softmax over the leaves of Σ log σ(θ) along the path."""

    head = "nodes"

    def leaf_log_scores(self, logits):
        s = F.logsigmoid(logits)
        s[:, 0] = 0
        return path_sum(s, self.taxonomy)[:, self._tensors(logits.device).leaves]

    def _bce(self, logits, pos, neg):
        return (pos * F.softplus(-logits) + neg * F.softplus(logits)).sum(dim=1).mean()


@fill_doc
class ConditionalSigmoidLoss(_SigmoidPath):
    """Conditional sigmoid (Brust & Denzler): ``σ(θ_v) = P(v | parent(v))``, trained per edge.

    ``L = -Σ_{v ∈ path(y), v ≠ root} log σ(θ_v) - Σ_{v ∈ N(y)} log(1 - σ(θ_v))`` where
    ``N(y)`` are the siblings of the path's nodes (children of an ancestor that are not on
    the path). A node whose parent is not on the path is not trained; nor, for an
    internal label, are the label's own children (its true child is unknown: ours).
    Head: nodes (root unused). Read-out (ours; Valmadre scores nodes by the product
    ``Π_{u ∈ path(v)} σ(θ_u)``, which need not sum to 1 over the leaves): the end
    distribution is that product at the leaves, normalised over the leaves.

    Parameters
    ----------
    %(taxonomy)s

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import ConditionalSigmoidLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> round(float(ConditionalSigmoidLoss(tax)(torch.zeros(1, tax.n_nodes), torch.tensor([tax.index("A1")]))), 4)
    2.7726
    """

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        tt = self._tensors(logits.device)
        on = path_indicator(targets, self.taxonomy)
        parent = tt.parent.clamp(min=0)
        pos = on.clone()
        pos[:, 0] = False
        neg = on[:, parent] & ~on & (parent[None, :] != targets[:, None])
        neg[:, 0] = False
        return self._bce(logits, pos, neg)


@fill_doc
class MultiLabelSigmoidLoss(_SigmoidPath):
    """Multi-label sigmoid: one binary cross-entropy per node against the label's path.

    ``L = Σ_{v ≠ root} BCE(σ(θ_v), [v ∈ path(y)])``, summed over nodes and averaged over
    samples. For an internal label the nodes below it are unknown and not trained
    (ours). Head: nodes (root unused). Read-out as :class:`ConditionalSigmoidLoss`
    (ours): the product of the path's sigmoids, normalised over the leaves.

    Parameters
    ----------
    %(taxonomy)s

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import MultiLabelSigmoidLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> round(float(MultiLabelSigmoidLoss(tax)(torch.zeros(1, tax.n_nodes), torch.tensor([tax.index("A1")]))), 4)
    3.4657
    """

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        on = path_indicator(targets, self.taxonomy)
        known = ~_below(targets, self)
        known[:, 0] = False
        return self._bce(logits, on & known, ~on & known)


class _NodeSoftmax(HierarchicalLoss):
    """A softmax over all nodes: the model's distribution of where the path ends."""

    head = "nodes"

    @property
    def end_nodes(self):
        import numpy as np

        return np.arange(self.taxonomy.n_nodes)

    def end_log_probs(self, logits):
        return torch.log_softmax(logits, dim=1)


@fill_doc
class SoftMaxDescendantLoss(_NodeSoftmax):
    """Valmadre's soft-max-descendant: every node of the path beats its non-relatives.

    One logit per node. For each ``a ∈ path(y)``, the nodes that are neither ancestors
    nor descendants of ``a`` (its "cousins" ``C(a)``) must score below it, softly:
    ``ℓ_a = log(exp(θ_a) + Σ_{u ∈ C(a)} exp(θ_u)) - θ_a`` and
    ``L = Σ_{a ∈ path(y)} w_a ℓ_a`` (the root has no cousins; ``ℓ_root = 0``). With
    ``node_weight="inverse_leaves"`` (default, as in Valmadre's experiments) ``w_a = 1 /
    (number of leaves under a)``; with ``None``, ``w_a = 1``. Computed in float64 from
    ``Σ_{C(a)} = Σ_all - Σ_{strict ancestors} - Σ_{subtree(a)}``, so O(B × n_nodes).
    Head: nodes. Read-out: ``softmax(θ)`` over all nodes (mass may end at internal
    nodes); a node's marginal is the sum over its subtree.

    Parameters
    ----------
    %(taxonomy)s
    node_weight : {"inverse_leaves", None}, default="inverse_leaves"

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import SoftMaxDescendantLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = SoftMaxDescendantLoss(tax, node_weight=None)
    >>> round(float(loss(torch.zeros(1, tax.n_nodes), torch.tensor([tax.index("A1")]))), 4)  # log 3 + log 4
    2.4849
    """

    def __init__(self, taxonomy, node_weight="inverse_leaves"):
        super().__init__(taxonomy)
        if node_weight not in ("inverse_leaves", None):
            raise ValueError(f"node_weight must be 'inverse_leaves' or None, got {node_weight!r}")
        self.node_weight = node_weight

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        tt = self._tensors(logits.device)
        theta = logits.double()
        sub = subtree_logsumexp(theta, self.taxonomy)
        path = tt.paths[targets]
        valid = path >= 0
        idx = path.clamp(min=0)
        total = sub[:, :1]
        log_own = theta.gather(1, idx) - total  # finite also at padded positions (the root)
        own = torch.exp(log_own)
        strict_anc = torch.cumsum(own * valid, dim=1) - own * valid
        cousins = (1 - strict_anc - torch.exp(sub.gather(1, idx) - total)).clamp(min=0)
        term = torch.where(valid, torch.log(own + cousins) - log_own, torch.zeros_like(own))
        if self.node_weight == "inverse_leaves":
            term = term / tt.n_leaves_under[idx].to(term.dtype)
        return term.sum(dim=1).mean().to(logits.dtype)


@fill_doc
class SoftMaxMarginLoss(_NodeSoftmax):
    """Valmadre's soft-max-margin: a soft structured hinge over all nodes.

    ``L = log Σ_v exp(θ_v + τ Δ(y, v)) - θ_y`` with one logit per node. ``Δ`` is the
    margin a wrong node must be beaten by: ``margin="incorrect"`` (default, as in
    Valmadre's experiments) ``Δ = 0`` for ``v ∈ path(y)`` and 1 otherwise;
    ``margin="edges"``: the tree distance (edges from ``y`` to the LCA and down to
    ``v``). ``Δ`` is built per batch from the labels' paths, O(B × n_nodes). Head:
    nodes. Read-out: ``softmax(θ)`` over all nodes.

    Parameters
    ----------
    %(taxonomy)s
    margin : {"incorrect", "edges"}, default="incorrect"
    tau : float, default=5.0
        Scale of the margin (≥ 0); 0 gives the softmax over nodes.

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import SoftMaxMarginLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = SoftMaxMarginLoss(tax, tau=0.0)
    >>> round(float(loss(torch.zeros(1, tax.n_nodes), torch.tensor([tax.index("A1")]))), 4)  # log 6
    1.7918
    """

    def __init__(self, taxonomy, margin="incorrect", tau=5.0):
        super().__init__(taxonomy)
        if margin not in ("incorrect", "edges"):
            raise ValueError(f"margin must be 'incorrect' or 'edges', got {margin!r}")
        self.margin = margin
        self.tau = check_number(tau, "tau", low=0)

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        if self.margin == "incorrect":
            delta = (~path_indicator(targets, self.taxonomy)).to(logits.dtype)
        else:
            every = torch.arange(self.taxonomy.n_nodes, device=targets.device)
            lca = lca_with_all(targets, self.taxonomy)
            delta = tree_distance(targets[:, None], every[None, :], self.taxonomy, "edges", lca_nodes=lca).to(
                logits.dtype
            )
        z = torch.logsumexp(logits + self.tau * delta, dim=1)
        return (z - logits.gather(1, targets[:, None]).squeeze(1)).mean()
