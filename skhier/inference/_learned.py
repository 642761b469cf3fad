"""Differentiable diffusion: a learned linear map initialised at the closed form
(Hierarchical classification by diffusion, §3.3), trained with skorch.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

from ._base import BaseRefiner
from ._diffusion import _check_alpha, diffusion_operator

__all__ = ["DifferentiableDiffusionRefiner", "LinearScoreMap"]


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
    """A learned ``n_nodes × n_nodes`` linear map of node scores, initialised at diffusion.

    The closed form of diffusion is a linear map of the scores. This refiner starts from
    it and fits the map on (node scores, labels): the refined score of every node is
    trained to match whether the sample belongs to that node's subtree (squared error, a
    proper scoring rule), plus ``reg · ||W − K||²`` that keeps the map near the closed
    form ``K``. Training runs with skorch: Adam, an internal validation split and early
    stopping on its loss; on CUDA when ``device`` says so.

    Fit it on scores the upstream model did not train on (a held-out split, or
    ``cross_val_predict``): training scores are over-confident, and the map would learn
    to trust them.

    Parameters
    ----------
    taxonomy : Taxonomy
    alpha : float in [0, 1), default=0.5
        Diffusion strength of the initial map.
    reg : float, default=1e-3
        Weight of the pull towards the initial map.
    lr : float, default=1e-3
    max_epochs : int, default=100
    batch_size : int, default=256
    validation_fraction : float, default=0.1
        Share of the training samples held out for early stopping (0 disables both).
    patience : int, default=5
        Epochs without a better validation loss before stopping.
    max_nodes : int, default=4096
        Refuse larger taxonomies, whose map would hold ``n_nodes**2`` parameters.
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
    threshold : float, default=0.5
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
    operator_ : ndarray of shape (n_nodes, n_nodes)
        The learned map.
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
        taxonomy,
        *,
        alpha=0.5,
        reg=1e-3,
        lr=1e-3,
        max_epochs=100,
        batch_size=256,
        validation_fraction=0.1,
        patience=5,
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
        self.max_nodes = max_nodes
        self.decision = decision
        self.threshold = threshold
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        super()._check_params()
        _check_alpha(self.alpha)
        if self.taxonomy.n_nodes > self.max_nodes:
            raise ValueError(
                f"the taxonomy has {self.taxonomy.n_nodes} nodes, more than max_nodes="
                f"{self.max_nodes}: the learned map would hold {self.taxonomy.n_nodes ** 2:,} "
                "parameters; use DiffusionRefiner, or raise max_nodes"
            )
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")

    def _fit_refiner(self, scores, y_encoded):
        if y_encoded is None:
            raise ValueError("DifferentiableDiffusionRefiner needs y to fit")
        tax = self.taxonomy_
        if hasattr(y_encoded, "toarray"):  # indicator targets
            target = y_encoded.toarray().astype(np.float32)
        else:
            target = tax.ancestor_matrix[y_encoded].toarray().astype(np.float32)
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        split = (
            ValidSplit(self.validation_fraction, stratified=False, random_state=self.random_state)
            if self.validation_fraction > 0
            else None
        )
        callbacks = [("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True))] if split else []
        init = np.array(diffusion_operator(tax, float(self.alpha)), dtype=np.float32)
        self.net_ = _AnchoredNet(
            LinearScoreMap,
            module__init=torch.from_numpy(init),
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
        self.net_.fit(X, target)
        self.operator_ = self.net_.module_.weight.detach().cpu().numpy().astype(np.float64)
        self.n_epochs_ = len(self.net_.history)

    def _refine(self, s):
        w = torch.as_tensor(self.operator_, dtype=s.dtype, device=s.device)
        return s @ w
