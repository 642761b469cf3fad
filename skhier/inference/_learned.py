"""Differentiable diffusion: a learned linear map initialised at diffusion
(Hierarchical classification by diffusion, §3.3), trained with skorch.

The paper's map is dense, ``n_nodes²`` weights. For large taxonomies the map is the
diffusion iteration itself (eq. 4) with learned weights on the taxonomy's edges: linear
in the taxonomy, and still initialised at diffusion.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

from ..utils.device import resolve_device
from ..utils.validation import Boolean, Interval, Options, RandomState, seed_from
from ._base import BaseRefiner
from ._diffusion import diffusion_operator

__all__ = ["DifferentiableDiffusionRefiner", "EdgeDiffusionMap", "LinearScoreMap"]

#: Initial error of the ``"edges"`` map's iteration against the closed form: α^n_steps.
_EDGE_TOL = 1e-6


class LinearScoreMap(nn.Module):
    """``f -> f @ W``: a square linear map of node scores, starting at ``init``.

    Parameters
    ----------
    init : tensor of shape (n_nodes, n_nodes)
        Initial weight; also kept as the buffer ``init`` that regularisation pulls to.

    Examples
    --------
    >>> import torch
    >>> from skhier.inference import LinearScoreMap
    >>> LinearScoreMap(torch.eye(3))(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, init):
        super().__init__()
        init = torch.as_tensor(init, dtype=torch.float32)
        self.weight = nn.Parameter(init.clone())
        self.register_buffer("init", init.clone())

    def forward(self, X):
        return X @ self.weight


def _copy_tensor(x, dtype):
    """A fresh tensor of ``x`` (a tensor, or an array that may be read-only)."""
    return x.detach().to(dtype).clone() if torch.is_tensor(x) else torch.as_tensor(np.array(x), dtype=dtype)


class EdgeDiffusionMap(nn.Module):
    """``n_steps`` of eq. 4, ``f <- α f W + (1 - α) f0``, with a learned W on given edges.

    ``W`` holds one learned weight per directed edge ``(rows[e], cols[e])`` (both
    directions of every taxonomy edge), starting at the normalised adjacency ``W_n``; a
    step sends ``f[:, rows] * weight`` to ``cols``. O(n_samples · n_edges) per step and no
    n_nodes² array. At the initial weights the output is the closed form up to
    ``α^n_steps``.

    Parameters
    ----------
    rows, cols : tensor of int of shape (n_edges,)
        Source and target node of every directed edge.
    init : tensor of shape (n_edges,)
        Initial weights; also kept as the buffer ``init`` that regularisation pulls to.
    n_nodes : int
        Number of taxonomy nodes.
    alpha : float in [0, 1)
        Probability of spreading a score to the neighbours at each step.
    n_steps : int
        Diffusion steps unrolled.

    Examples
    --------
    >>> import torch
    >>> from skhier.inference import EdgeDiffusionMap
    >>> m = EdgeDiffusionMap(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([1.0, 1.0]), 2, 0.5, 30)
    >>> m(torch.tensor([[1.0, 0.0]])).round(decimals=4)
    tensor([[0.6667, 0.3333]], grad_fn=<RoundBackward1>)
    """

    def __init__(self, rows, cols, init, n_nodes, alpha, n_steps):
        super().__init__()
        init = _copy_tensor(init, torch.float32)
        self.weight = nn.Parameter(init.clone())
        self.register_buffer("init", init.clone())
        self.register_buffer("rows", _copy_tensor(rows, torch.long))
        self.register_buffer("cols", _copy_tensor(cols, torch.long))
        self.n_nodes, self.alpha, self.n_steps = int(n_nodes), float(alpha), int(n_steps)

    def forward(self, X):
        base = (1 - self.alpha) * X
        f = X
        w = self.weight.to(X.dtype)
        for _ in range(self.n_steps):
            f = (self.alpha * f.new_zeros(f.shape).index_add(1, self.cols, f[:, self.rows] * w)) + base
        return f


class _AnchoredNet(NeuralNet):
    """skorch net whose loss adds ``reg * ||W - init||²`` to the criterion."""

    def __init__(self, *args, reg=1e-3, **kwargs):
        super().__init__(*args, **kwargs)
        self.reg = reg

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        m = self.module_
        return loss + self.reg * (m.weight - m.init).pow(2).sum()


class DifferentiableDiffusionRefiner(BaseRefiner):
    """A learned linear map of node scores, initialised at diffusion.

    The closed form of diffusion is a linear map of the scores. This refiner starts from
    it and fits the map on (node scores, labels): the refined score of every node is
    trained to match whether the sample belongs to that node's subtree (squared error, a
    proper scoring rule), plus ``reg · ||W − W₀||²`` that keeps the map near where it
    started. Training runs with skorch: Adam, an internal validation split and early
    stopping on its loss; on CUDA when ``device`` says so.

    Two maps (``operator``):

    - ``"dense"``, the paper's: a full ``n_nodes × n_nodes`` matrix starting at the
      closed form ``K`` (§3.3). Every pair of nodes can be related; n_nodes² weights.
    - ``"edges"``, ours, for large taxonomies: ``n_steps`` of the diffusion iteration
      (eq. 4) whose connection matrix ``W`` is learned on the taxonomy's edges, one weight
      per direction, starting at ``W_n`` (:class:`EdgeDiffusionMap`). The paper motivates
      learning exactly because the binary ``W`` "might not accurately capture the genuine
      relationships"; here the relationships stay those of the tree, so memory and time
      are O(n_samples · n_nodes · n_steps) and a 10⁵-node taxonomy fits.

    ``"auto"`` takes the dense map up to ``max_nodes`` nodes and the edge map above.

    Fit it on scores the upstream model did not train on (a held-out split, or
    ``cross_val_predict``): training scores are over-confident, and the map would learn
    to trust them.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    alpha : float in [0, 1), default=0.5
        Diffusion strength of the initial map.
    reg : float, default=1e-3
        Weight of the pull towards the initial map.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=100
        Number of training epochs.
    batch_size : int, default=256
        Samples per training batch.
    validation_fraction : float, default=0.1
        Share of the training samples held out for early stopping (0 disables both).
    patience : int, default=5
        Epochs without a better validation loss before stopping.
    operator : {"auto", "dense", "edges"}, default="auto"
        The learned map (see above).
    n_steps : int or None, default=None
        Diffusion steps of the ``"edges"`` map; None takes the fewest with
        ``alpha**n_steps <= 1e-6`` (20 at ``alpha=0.5``), so it starts at the closed form.
    max_nodes : int, default=4096
        Largest taxonomy of the dense map (it holds ``n_nodes**2`` weights): ``"auto"``
        switches to the edge map above it and ``"dense"`` refuses.
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    random_state : int or None, default=None
        Seeds torch and the validation split.
    verbose : int, default=0
        skorch's epoch table when > 0.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.history`` holds the losses.
    operator_ : ndarray of shape (n_nodes, n_nodes), or scipy.sparse.csr_matrix
        The learned map: the dense matrix, or the edge map's learned ``W`` (sparse, on
        the taxonomy's edges), which ``n_steps_`` iterations of eq. 4 apply.
    n_steps_ : int or None
        Steps of the edge map (None for the dense one).
    n_epochs_ : int
    classes_ : ndarray of object
    label_format_ : LabelFormat

    Examples
    --------
    >>> import numpy as np
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.inference import DifferentiableDiffusionRefiner
    >>> X, y, tax = make_hierarchical_classification(300, 4, n_levels=2, branching=2, random_state=0)
    >>> scores = np.random.default_rng(0).dirichlet(np.ones(4), 300) @ tax.leaf_ancestor_matrix
    >>> ref = DifferentiableDiffusionRefiner(tax, max_epochs=3, device="cpu", random_state=0)
    >>> ref.fit(scores, y).operator_.shape
    (7, 7)
    """

    def __init__(
        self,
        taxonomy=None,
        *,
        alpha=0.5,
        reg=1e-3,
        lr=1e-3,
        max_epochs=100,
        batch_size=256,
        validation_fraction=0.1,
        patience=5,
        operator="auto",
        n_steps=None,
        max_nodes=4096,
        decision="leaf",
        threshold=0.5,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.taxonomy = taxonomy
        self.alpha = alpha
        self.reg = reg
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.operator = operator
        self.n_steps = n_steps
        self.max_nodes = max_nodes
        self.decision = decision
        self.threshold = threshold
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _parameter_rules = {
        "alpha": Interval(0, 1, high_open=True),
        "operator": Options("auto", "dense", "edges"),
        "n_steps": Interval(1, integer=True, allow_none=True),
        "max_nodes": Interval(1, integer=True),
        "validation_fraction": Interval(0, 1, high_open=True),
        "reg": Interval(0), "lr": Interval(0, low_open=True), "max_epochs": Interval(1, integer=True),
        "batch_size": Interval(1, integer=True), "patience": Interval(1, integer=True),
        "random_state": RandomState(), "verbose": Boolean(allow_int=True),
    }

    def _check_params(self):
        super()._check_params()
        n = (self.taxonomy if self.taxonomy is not None else self.taxonomy_).n_nodes
        if self.operator == "dense" and n > self.max_nodes:
            raise ValueError(
                f"the taxonomy has {n} nodes, more than max_nodes="
                f"{self.max_nodes}: the dense learned map would hold {n ** 2:,} "
                "parameters; use operator='edges' (or 'auto'), or raise max_nodes"
            )

    def _fit_refiner(self, scores, y_encoded):
        if y_encoded is None:
            raise ValueError("DifferentiableDiffusionRefiner needs y to fit")
        tax = self.taxonomy_
        if hasattr(y_encoded, "toarray"):  # indicator targets
            target = y_encoded.toarray().astype(np.float32)
        else:
            target = tax.ancestor_matrix[y_encoded].toarray().astype(np.float32)
        device = str(resolve_device(self.device))
        seed = seed_from(self.random_state)
        split = (
            ValidSplit(self.validation_fraction, stratified=False, random_state=seed)
            if self.validation_fraction > 0
            else None
        )
        callbacks = (
            [("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True))]
            if split
            else []
        )
        alpha = float(self.alpha)
        dense = self.operator == "dense" or (self.operator == "auto" and tax.n_nodes <= self.max_nodes)
        if dense:
            self.n_steps_ = None
            module = {"module": LinearScoreMap,
                      "module__init": torch.as_tensor(np.array(diffusion_operator(tax, alpha)), dtype=torch.float32)}
        else:
            wn = tax.normalized_adjacency.tocoo()
            self.n_steps_ = int(self.n_steps) if self.n_steps is not None else (
                1 if alpha == 0 else max(1, int(np.ceil(np.log(_EDGE_TOL) / np.log(alpha)))))
            module = {"module": EdgeDiffusionMap, "module__rows": wn.row, "module__cols": wn.col,
                      "module__init": np.array(wn.data), "module__n_nodes": tax.n_nodes, "module__alpha": alpha,
                      "module__n_steps": self.n_steps_}
        self.net_ = _AnchoredNet(
            **module,
            criterion=nn.MSELoss,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=split,
            callbacks=callbacks,
            iterator_train__shuffle=True,
            device=device,
            reg=self.reg,
            verbose=self.verbose,
        )
        X = scores.detach().to("cpu", torch.float32).numpy()
        if seed is None:
            self.net_.fit(X, target)
        else:  # seeded draws from torch's global generator, restored afterwards (the caller's stream is kept)
            with torch.random.fork_rng(devices=[torch.device(device).index or 0] if device.startswith("cuda") else []):
                torch.manual_seed(seed)
                self.net_.fit(X, target)
        weight = self.net_.module_.weight.detach().cpu().numpy().astype(np.float64)
        if dense:
            self.operator_ = weight
        else:
            m = self.net_.module_
            self.operator_ = sp.csr_matrix((weight, (m.rows.cpu().numpy(), m.cols.cpu().numpy())),
                                           shape=(tax.n_nodes, tax.n_nodes))
        self.n_epochs_ = len(self.net_.history)

    def _refine(self, s):
        if self.n_steps_ is None:
            return s @ torch.as_tensor(self.operator_, dtype=s.dtype, device=s.device)
        w = self.operator_.tocoo()
        edge_map = EdgeDiffusionMap(w.row, w.col, w.data, w.shape[0], float(self.alpha), self.n_steps_).to(s.device)
        with torch.no_grad():
            return edge_map(s)
