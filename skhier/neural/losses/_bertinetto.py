"""The losses of Bertinetto et al., "Making Better Mistakes" (CVPR 2020), §3.

Both act on a flat softmax over the leaves (head: leaves; read-out: the softmax), and
change only what it is trained towards. Written from the paper's definitions.
"""

from __future__ import annotations

import torch

from ..._docs import fill_doc
from ..._tree import lca_with_all, tree_distance
from ...utils.validation import check_number
from ._base import HierarchicalLoss

__all__ = ["HierarchicalCrossEntropyLoss", "SoftLabelsLoss"]


@fill_doc
class HierarchicalCrossEntropyLoss(HierarchicalLoss):
    """Hierarchical cross-entropy (HXE): conditionals along the path, weighted by depth.

    With ``p`` the softmax over the leaves and ``P(v)`` the mass of ``v``'s subtree,
    ``L = -Σ_{v ∈ path(y), v ≠ root} λ(v) log(P(v) / P(parent(v)))`` with
    ``λ(v) = exp(-α d(v))``, ``d(v)`` the depth of ``v`` (edges from the root; 1 below the
    root) — Bertinetto et al.'s eq. 3-4 as their public code and Valmadre's
    re-implementation weight the edges. ``α = 0`` is the cross-entropy (of the label's
    subtree); larger ``α`` discounts the fine conditionals, so coarse mistakes weigh
    relatively more. Their code also divides the weights by their sum over the tree's
    nodes, a constant factor that only rescales the loss (and the learning rate); we
    leave it out, so ``α = 0`` stays the cross-entropy.

    Parameters
    ----------
    %(taxonomy)s
    alpha : float, default=0.1
        ≥ 0.

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import HierarchicalCrossEntropyLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> y = torch.tensor([tax.index("A1")])
    >>> round(float(HierarchicalCrossEntropyLoss(tax, alpha=0.0)(torch.zeros(1, 3), y)), 4)  # log 3
    1.0986
    """

    def __init__(self, taxonomy, alpha=0.1):
        super().__init__(taxonomy)
        self.alpha = check_number(alpha, "alpha", low=0)

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        tt = self._tensors(logits.device)
        node = self.node_log_probs(logits)
        path = tt.paths[targets]
        valid = path[:, 1:] >= 0
        child, parent = path[:, 1:].clamp(min=0), path[:, :-1].clamp(min=0)
        cond = node.gather(1, child) - node.gather(1, parent)
        weight = torch.exp(-self.alpha * tt.depth[child].to(logits.dtype))
        return -torch.where(valid, weight * cond, torch.zeros_like(cond)).sum(dim=1).mean()

    def extra_repr(self):
        return f"{super().extra_repr()}, alpha={self.alpha}"


@fill_doc
class SoftLabelsLoss(HierarchicalLoss):
    """Soft labels: cross-entropy against a target spread over the leaves by LCA height.

    ``q_c = softmax_c(-β d(y, c) / d_max)`` over the leaves ``c``, with ``d(y, c)`` the
    height of the lowest common ancestor of ``y`` and ``c`` and ``d_max`` the root's
    height; ``L = -Σ_c q_c log p_c`` with ``p`` the softmax over the leaves (Bertinetto et
    al.'s eq. 5), averaged over the batch. An internal label spreads its target evenly
    over its leaves and then by height, the same formula. ``q`` is built per batch,
    O(B × n_nodes).

    The scale is ours: their public code trains with ``torch.nn.KLDivLoss`` (mean over
    the batch *and* the leaves), i.e. ``KL(q ‖ p) / n_leaves``, where this loss is the
    per-sample cross-entropy ``KL(q ‖ p) + H(q)``. ``H(q)`` does not depend on the
    model, so the minimiser and the gradient direction are the same; the value is
    larger by ``H(q)`` and the gradient by the factor ``n_leaves``, which an optimiser's
    learning rate absorbs (Adam's updates are invariant to it).

    Parameters
    ----------
    %(taxonomy)s
    beta : float, default=10.0
        > 0; larger is closer to one-hot.

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import SoftLabelsLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = SoftLabelsLoss(tax, beta=2.0)
    >>> loss.soft_targets(torch.tensor([tax.index("A1")])).round(decimals=4).tolist()
    [[0.6652, 0.2447, 0.09]]
    """

    def __init__(self, taxonomy, beta=10.0):
        super().__init__(taxonomy)
        self.beta = check_number(beta, "beta", low=0)
        if self.beta == 0:
            raise ValueError(f"beta must be > 0, got {beta!r}")

    def soft_targets(self, targets):
        """The target distributions ``q`` of the labels.

        Parameters
        ----------
        targets : tensor of int of shape (B,)
            Node indices of the labels.

        Returns
        -------
        q : tensor of shape (B, n_leaves)
            Leaf probabilities.
        """
        leaves = self._tensors(targets.device).leaves
        lca = lca_with_all(targets, self.taxonomy)[:, leaves]
        height = tree_distance(targets[:, None], leaves[None, :], self.taxonomy, "lca_height", lca_nodes=lca)
        return torch.softmax(-self.beta * height / max(float(self.taxonomy.height[0]), 1.0), dim=1)

    def forward(self, logits, targets):
        logits, targets = self._check(logits, targets)
        q = self.soft_targets(targets).to(logits.dtype)
        return -(q * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()

    def extra_repr(self):
        return f"{super().extra_repr()}, beta={self.beta}"
