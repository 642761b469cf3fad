"""The base of the hierarchical losses: a torch loss that knows the taxonomy."""

from __future__ import annotations

import torch
from torch import nn

from ..._tree import subtree_logsumexp, taxonomy_tensors
from ...utils.validation import check_taxonomy

__all__ = ["HierarchicalLoss", "full_precision"]


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """Half and bfloat16 (autocast outputs) up to float32; float32 and float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class HierarchicalLoss(nn.Module):
    """A training loss over a taxonomy, with the read-out of its head's probabilities.

    A hierarchical loss is a plain ``torch.nn.Module``: built from a
    :class:`~skhier.Taxonomy`, called as ``loss(logits, targets)`` with ``targets`` the
    (B,) node indices of the labels (leaves or internal nodes: a sample labelled only
    down to "Shoes"), and usable in any torch training loop. Every loss also says

    - ``head``: what its logits are over, ``"leaves"`` (one column per leaf, in
      ``taxonomy.leaves`` order) or ``"nodes"`` (one per taxonomy node, taxonomy order;
      the root's column is unused unless the loss says otherwise), and ``n_outputs``;
    - ``end_log_probs(logits)``: the (B, n_nodes) log-probability that each sample's
      label path ends at each node, the read-out that predictions, ``predict_proba`` and
      node marginals (bottom-up sums) of skhier's estimators come from;
    - ``end_nodes``: where that distribution can put mass (the leaves, or every node).

    Subclasses hold only the taxonomy and scalar parameters; the index tensors they need
    come from the taxonomy's per-device cache, so a loss costs no memory of its own and
    moves with any device its inputs are on.

    Parameters
    ----------
    taxonomy : Taxonomy
        Must have at least two leaves (one leaf leaves nothing to learn).

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import FlatSoftmaxLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = FlatSoftmaxLoss(tax)
    >>> loss.head, loss.n_outputs
    ('leaves', 3)
    >>> round(float(loss(torch.zeros(1, 3), torch.tensor([tax.index("A")]))), 4)
    0.4055
    """

    head = "leaves"
    #: whether ``forward`` takes the backbone's features as well (``features=``)
    uses_features = False

    def __init__(self, taxonomy):
        super().__init__()
        tax = check_taxonomy(taxonomy)
        if tax.n_leaves < 2:
            raise ValueError(
                f"taxonomy has {tax.n_leaves} leaf ({list(tax.leaf_names)!r}), one class: a classifier needs at "
                "least two leaves to choose between"
            )
        self.taxonomy = tax

    @property
    def n_outputs(self) -> int:
        """Width of the logits this loss reads."""
        return self.taxonomy.n_leaves if self.head == "leaves" else self.taxonomy.n_nodes

    @property
    def end_nodes(self):
        """Node indices where ``end_log_probs`` can be finite."""
        return self.taxonomy.leaves

    def _tensors(self, device):
        return taxonomy_tensors(self.taxonomy, str(device))

    def _check(self, logits, targets):
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != self.n_outputs:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(
                f"{type(self).__name__} reads logits of shape (batch, {self.n_outputs}) over the "
                f"taxonomy's {self.head}, got {shape}"
            )
        if targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
            raise ValueError(
                f"targets must be a 1-D tensor of {logits.shape[0]} node indices, got shape {tuple(targets.shape)}"
            )
        return full_precision(logits), targets.long()

    def leaf_columns(self, leaf_values: torch.Tensor) -> torch.Tensor:
        """A (B, n_leaves) tensor placed in the leaf columns of a (B, n_nodes) one, ``-inf`` elsewhere.

        Parameters
        ----------
        leaf_values : tensor of shape (B, n_leaves)
            One value per leaf, in ``taxonomy.leaves`` order.

        Returns
        -------
        values : tensor of shape (B, n_nodes)
            Values, one per node.
        """
        out = leaf_values.new_full((leaf_values.shape[0], self.taxonomy.n_nodes), -torch.inf)
        return out.index_copy(1, self._tensors(leaf_values.device).leaves, leaf_values)

    def end_log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-probability that each sample's path ends at each node: (B, n_nodes).

        The default: a softmax over the leaf scores of :meth:`leaf_log_scores`, ``-inf``
        at internal nodes.

        Parameters
        ----------
        logits : tensor of shape (B, n_outputs)
            The head's outputs.

        Returns
        -------
        log_probs : tensor of shape (B, n_nodes)
            Log-probabilities, one column per node.
        """
        return self.leaf_columns(torch.log_softmax(self.leaf_log_scores(logits), dim=1))

    def leaf_log_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-scores of the leaves (the logits by default).

        Parameters
        ----------
        logits : tensor of shape (B, n_outputs)
            The head's outputs.

        Returns
        -------
        scores : tensor of shape (B, n_leaves)
            Leaf scores.
        """
        return logits

    def node_log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-probability of every node's subtree (bottom-up sums of the end distribution).

        Parameters
        ----------
        logits : tensor of shape (B, n_outputs)
            The head's outputs.

        Returns
        -------
        log_probs : tensor of shape (B, n_nodes)
            Log-probabilities, one column per node.
        """
        return subtree_logsumexp(self.end_log_probs(logits), self.taxonomy)

    def extra_repr(self) -> str:
        return f"n_nodes={self.taxonomy.n_nodes}, n_leaves={self.taxonomy.n_leaves}"
