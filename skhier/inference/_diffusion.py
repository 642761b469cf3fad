"""Diffusion of node scores on the taxonomy graph (Hierarchical classification by
diffusion, §3.3, eq. 3-6): ``f* = (1 - α) (I - α W_n)^-1 f0``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from .._taxonomy import Taxonomy
from ..utils.validation import Interval, Options, check_number, check_option, check_taxonomy
from ._base import BaseRefiner

__all__ = ["DiffusionRefiner", "diffusion_operator", "diffuse"]

#: Taxonomies up to this many nodes use a dense operator under solver="auto".
DENSE_MAX_NODES = 256


def _check_alpha(alpha):
    return check_number(alpha, "alpha", low=0, high=1, high_open=True)


def _check_iteration(max_iter, tol):
    check_number(max_iter, "max_iter", low=1, integer=True)
    check_number(tol, "tol", low=0)


#: What the taxonomy's root is in the diffusion graph (see :class:`DiffusionRefiner`).
ROOT_ROLES = ("exclude", "node")


def _check_root(root):
    return check_option(root, "root", ROOT_ROLES)


@lru_cache(maxsize=16)
def _graph(taxonomy: Taxonomy, root: str):
    """``W_n`` of the diffusion graph: the taxonomy's, or without the root's edges."""
    if root == "node":
        return taxonomy.normalized_adjacency
    w = taxonomy.adjacency.tolil(copy=True)
    w[0, :] = 0
    w[:, 0] = 0
    w = w.tocsr()
    deg = np.asarray(w.sum(axis=1)).ravel()
    inv = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg, dtype=float), where=deg > 0)
    out = (sp.diags(inv) @ w @ sp.diags(inv)).tocsr()
    out.sort_indices()
    return out


@lru_cache(maxsize=16)
def diffusion_operator(taxonomy: Taxonomy, alpha: float, root: str = "node") -> np.ndarray:
    """The dense closed-form operator ``K = (1 - α)(I - α W_n)^-1`` (float64).

    ``K`` is symmetric, so a row of scores ``f`` refines to ``f @ K``. Cached per
    taxonomy and ``α``; its size is ``n_nodes**2``, so keep it to small taxonomies (the
    tree solver of :func:`diffuse` needs no dense matrix). With ``root="exclude"`` the
    graph has no root edges and ``K`` keeps the root's score as it is.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    alpha : float in [0, 1)
    root : {"node", "exclude"}, default="node"
        The root's role in the graph (see :class:`DiffusionRefiner`).

    Returns
    -------
    K : ndarray of shape (n_nodes, n_nodes), read-only
        The dense closed-form operator ``K = (1 - α)(I - α W_n)^-1`` (float64).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import diffusion_operator
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> diffusion_operator(tax, 0.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    alpha = _check_alpha(alpha)
    m = np.eye(taxonomy.n_nodes) - alpha * _graph(taxonomy, _check_root(root)).toarray()
    k = (1 - alpha) * scipy.linalg.inv(m)
    k = (k + k.T) / 2
    if root == "exclude":
        k[0, 0] = 1.0  # the root is outside the graph: its score passes through
    k.setflags(write=False)
    return k


@lru_cache(maxsize=16)
def _tree_factor(taxonomy: Taxonomy, alpha: float, root: str = "node"):
    """Pivots of Gaussian elimination of ``I - α W_n`` in leaves-to-root order.

    ``I - α W_n`` only couples a node with its parent and children, so eliminating the
    children before their parent creates no fill-in: node ``i`` keeps the equation
    ``D_i x_i - c_i x_parent = B_i`` with ``c_i = α W_n[i, parent]`` and
    ``D_i = 1 - Σ_children c_k² / D_k``. The matrix is positive definite for ``α < 1``,
    so every pivot is positive.
    """
    parent = taxonomy.parent
    wn = _graph(taxonomy, root)
    c = np.zeros(taxonomy.n_nodes)
    if taxonomy.n_nodes > 1:
        idx = np.arange(1, taxonomy.n_nodes)
        c[1:] = alpha * np.asarray(wn[idx, parent[1:]]).ravel()
    d = np.ones(taxonomy.n_nodes)
    for i in range(taxonomy.n_nodes - 1, 0, -1):  # reverse pre-order: children first
        d[parent[i]] -= c[i] ** 2 / d[i]
    return c, d


def _tree_solve(f0: torch.Tensor, taxonomy: Taxonomy, alpha: float, root: str = "node") -> torch.Tensor:
    """Exact ``(1 - α)(I - α W_n)^-1`` applied to every row of ``f0``, in O(n_samples × n_nodes).

    Works node-major in breadth-first order: each level is a contiguous block of rows, so
    eliminating it into its parents and back-substituting it are slice operations plus
    one gather or scatter of whole rows.
    """
    dev, dt = f0.device, f0.dtype
    key = (str(dev), dt)
    cache = _tree_tensors(taxonomy, alpha, root)
    if key not in cache:
        c_np, d_np = _tree_factor(taxonomy, alpha, root)
        order = np.concatenate(taxonomy.levels)  # breadth-first
        pos = np.empty_like(order)
        pos[order] = np.arange(order.size)
        bounds = np.cumsum([0] + [lv.size for lv in taxonomy.levels])
        per_level = []
        for lv, s, e in zip(taxonomy.levels[1:], bounds[1:-1], bounds[2:]):
            pp = torch.as_tensor(pos[taxonomy.parent[lv]], device=dev)
            c = torch.as_tensor(c_np[lv], device=dev, dtype=dt)[:, None]
            d = torch.as_tensor(d_np[lv], device=dev, dtype=dt)[:, None]
            per_level.append((int(s), int(e), pp, c / d, c, d))
        cache[key] = (torch.as_tensor(order, device=dev), torch.as_tensor(pos, device=dev), per_level, float(d_np[0]))
    order, pos, per_level, d_root = cache[key]
    b = f0.T[order]  # (n_nodes, n_samples) breadth-first: a fresh copy, f0 is never written
    b.mul_(1 - alpha)
    for s, e, pp, ratio, _, _ in reversed(per_level):  # eliminate children into parents
        b.index_add_(0, pp, b[s:e] * ratio)
    b[0] /= d_root
    for s, e, pp, _, c, d in per_level:  # back-substitute from the root down
        blk = b[s:e]
        blk.add_(b[pp] * c).div_(d)
    out = b[pos].T
    if root == "exclude":
        out[:, 0] = f0[:, 0]  # outside the graph: the root's score passes through
    return out


@lru_cache(maxsize=16)
def _tree_tensors(taxonomy: Taxonomy, alpha: float, root: str) -> dict:
    """Per-(device, dtype) cache of the tree solver's index and pivot tensors."""
    return {}


@lru_cache(maxsize=16)
def _sparse_lu(taxonomy: Taxonomy, alpha: float, root: str):
    """Sparse LU of ``I - α W_n`` (a DAG's graph has no elimination order without fill-in)."""
    import scipy.sparse.linalg as spla

    m = (sp.identity(taxonomy.n_nodes, format="csc") - alpha * _graph(taxonomy, root)).tocsc()
    return spla.splu(m)


def _sparse_solve(f0: torch.Tensor, taxonomy: Taxonomy, alpha: float, root: str) -> torch.Tensor:
    """The closed form on any graph (a DAG's) by a sparse LU, factorised once per α."""
    rhs = (1 - alpha) * f0.detach().cpu().double().numpy().T
    out = torch.as_tensor(_sparse_lu(taxonomy, alpha, root).solve(np.ascontiguousarray(rhs)).T.copy(),
                          dtype=f0.dtype, device=f0.device)
    if root == "exclude":
        out[:, 0] = f0[:, 0]
    return out


@lru_cache(maxsize=16)
def _dense_tensor(taxonomy: Taxonomy, alpha: float, device: str, dtype, root: str) -> torch.Tensor:
    return torch.as_tensor(np.array(diffusion_operator(taxonomy, alpha, root)), dtype=dtype, device=device)


def _iterate(f0: torch.Tensor, taxonomy: Taxonomy, alpha: float, max_iter: int, tol: float, root: str = "node"):
    """Eq. 4: ``f <- α W_n f + (1 - α) f0`` until the largest change is below ``tol``."""
    wn = _graph(taxonomy, root).tocoo()
    idx = torch.as_tensor(np.vstack([wn.row, wn.col]).astype(np.int64), device=f0.device)
    vals = torch.as_tensor(np.array(wn.data), dtype=f0.dtype, device=f0.device)
    w = torch.sparse_coo_tensor(idx, vals, wn.shape, check_invariants=False).coalesce()
    f = f0.clone()
    base = (1 - alpha) * f0
    for it in range(1, max_iter + 1):
        nxt = alpha * torch.sparse.mm(w, f.T).T + base
        if root == "exclude":  # outside the graph: the root's score passes through
            nxt[:, 0] = f0[:, 0]
        delta = (nxt - f).abs().max() if f.numel() else f.new_tensor(0.0)
        f = nxt
        if delta <= tol:
            return f, it
    warnings.warn(
        f"iterative diffusion did not converge in max_iter={max_iter} steps (largest change "
        f"{float(delta):.3g} > tol={tol}); raise max_iter or use method='closed_form'",
        ConvergenceWarning,
        stacklevel=3,
    )
    return f, max_iter


def diffuse(scores, taxonomy: Taxonomy, alpha: float, *, method="closed_form", solver="auto", max_iter=1000, tol=1e-8,
            root="node"):
    """Diffuse node scores on the taxonomy graph.

    Parameters
    ----------
    scores : tensor of shape (n_samples, n_nodes)
        Node scores, one column per taxonomy node in taxonomy order.
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    alpha : float in [0, 1)
        Probability of spreading to a neighbour at each step (0 keeps the scores).
    method : {"closed_form", "iterative"}, default="closed_form"
        The exact limit (eq. 6), or iterating eq. 4 until the largest change is at most
        ``tol`` (or ``max_iter`` steps).
    solver : {"auto", "dense", "tree"}, default="auto"
        For the closed form: one product with the dense operator, or the linear-time
        tree elimination (no dense matrix; exact). ``"auto"`` takes the dense operator
        up to 256 nodes; above, the tree elimination on a tree and a sparse LU
        factorisation of ``I - α W_n`` on a DAG (the graph of all its edges).
    max_iter : int, default=1000
        The most iterations of the solver.
    tol : float, default=1e-8
        The solver stops when an iteration changes the scores by less than ``tol``.
    root : {"node", "exclude"}, default="node"
        The root's role in the graph (see :class:`DiffusionRefiner`).

    Returns
    -------
    refined : tensor of shape (n_samples, n_nodes)
        Refined node scores.

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.inference import diffuse
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> f0 = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    >>> a = diffuse(f0, tax, 0.5)
    >>> b = diffuse(f0, tax, 0.5, method="iterative")
    >>> bool(torch.allclose(a, b)), a.round(decimals=3).tolist()
    (True, [[0.902, 0.819, 0.319]])
    """
    alpha = _check_alpha(alpha)
    _check_iteration(max_iter, tol)
    _check_root(root)
    if method == "iterative":
        return _iterate(scores, taxonomy, alpha, max_iter, tol, root)[0]
    if method != "closed_form":
        raise ValueError(f"method must be 'closed_form' or 'iterative', got {method!r}")
    if solver not in ("auto", "dense", "tree"):
        raise ValueError(f"solver must be 'auto', 'dense' or 'tree', got {solver!r}")
    if solver == "dense" or (solver == "auto" and taxonomy.n_nodes <= DENSE_MAX_NODES):
        return scores @ _dense_tensor(taxonomy, alpha, str(scores.device), scores.dtype, root)
    if not taxonomy.is_tree:
        if solver == "tree":
            check_taxonomy(taxonomy, what="diffuse(solver='tree'), the elimination along the tree")
        return _sparse_solve(scores, taxonomy, alpha, root)
    return _tree_solve(scores, taxonomy, alpha, root)


class DiffusionRefiner(BaseRefiner):
    """Refine node scores by diffusion on the taxonomy graph.

    Every node spreads its score to its parent and children with probability ``alpha``
    and keeps the model's score with probability ``1 - alpha``; the refined scores are
    the stationary point ``f* = (1 - α)(I - α W_n)^-1 f0`` with ``W_n = D^-1/2 W D^-1/2``
    the normalised parent–child adjacency (eq. 3-6 of the diffusion paper). Siblings
    that the model scores alike pull each other up, so both the hierarchical metrics and
    the leaf top-1 can improve without retraining.

    The closed form is exact and applied as one matrix product with a dense operator
    computed once per taxonomy (small taxonomies) or by a linear-time elimination along
    the tree, which needs no ``n_nodes × n_nodes`` matrix (large taxonomies). Tensors
    are refined on their own device; ``device="cuda"`` moves numpy input to the GPU.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    alpha : float in [0, 1), default=0.5
        Probability of spreading a score to the neighbours (eq. 4): 0 keeps the scores.
    method : {"closed_form", "iterative"}, default="closed_form"
        The exact limit, or iterating eq. 4 until the change is at most ``tol``.
    solver : {"auto", "dense", "tree"}, default="auto"
        How the closed form is computed; see :func:`diffuse`.
    max_iter : int, default=1000
        The most iterations of the solver.
    tol : float, default=1e-8
        The solver stops when an iteration changes the scores by less than ``tol``.
    root : {"node", "exclude"}, default="node"
        The root's role in the graph. The paper (§3.3) builds ``W`` from the taxonomy's
        parent–child relations and is silent on the root, whose score is the constant 1
        (every sample is in it). ``"node"`` (our default) keeps it as a node of the
        graph, whose constant score flows down into every top-level node and the
        leaves hanging directly under it; ``"exclude"`` leaves it out, so the
        top-level subtrees diffuse separately and the root's score passes through.
        The default is measured (``benchmarks/diffusion_root.py``, ``docs/benchmarks/accuracy.md``
        "Diffusion: the root's role", 3 seeds): on Fashion-MNIST the two agree to
        2e-4 AP; on a variable-depth tree with leaves under the root, ``"node"`` is
        ahead by 0.0004-0.005 AP on 3 of 3 seeds at α = 0.5 (2 of 3 at α = 0.3), leaf
        top-1 within ±0.0015 — small, inside the spread across seeds.
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
        How ``predict`` picks a node; see :func:`skhier.inference.decide`.
    threshold : float, default=0.5
        Score a node needs under ``decision="threshold"``.
    device : str or torch.device, default="auto"
        Where numpy input is refined: ``"auto"`` (CUDA when present, else the CPU),
        ``"cpu"`` or ``"cuda"``; ``None`` keeps it on the CPU. A tensor is refined on its
        own device under ``"auto"`` or ``None``.

    Attributes
    ----------
    classes_ : ndarray of object
        Taxonomy nodes.
    label_format_ : LabelFormat
        Format of ``y`` at ``fit``.
    n_features_in_ : int

    See Also
    --------
    DifferentiableDiffusionRefiner : a learned linear map initialised at this operator.

    References
    ----------
    .. [1] Hierarchical classification by diffusion (HCCF), §3.3.
    .. [2] D. Zhou et al. "Learning with local and global consistency", NeurIPS 2003.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.inference import DiffusionRefiner, FlatClassifier
    >>> from skhier.metrics import get_hierarchical_scorer
    >>> X, y, tax = make_hierarchical_classification(150, 5, n_levels=2, branching=2, random_state=0)
    >>> pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(tax, alpha=0.2))
    >>> scores = cross_val_score(pipe, X, y, cv=3, scoring=get_hierarchical_scorer("leaf_f1", tax))
    >>> scores.shape
    (3,)
    """

    _allow_dag = True  # the graph of every edge; the closed form by a sparse LU

    def __init__(
        self,
        taxonomy=None,
        *,
        alpha=0.5,
        method="closed_form",
        solver="auto",
        max_iter=1000,
        tol=1e-8,
        root="node",
        decision="leaf",
        threshold=0.5,
        device="auto",
    ):
        self.taxonomy = taxonomy
        self.alpha = alpha
        self.method = method
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.root = root
        self.decision = decision
        self.threshold = threshold
        self.device = device

    _parameter_rules = {
        "alpha": Interval(0, 1, high_open=True),
        "method": Options("closed_form", "iterative"),
        "solver": Options("auto", "dense", "tree"),
        "max_iter": Interval(1, integer=True),
        "tol": Interval(0),
        "root": Options(*ROOT_ROLES),
    }

    def _refine(self, s):
        return diffuse(
            s, self.taxonomy_, self.alpha, method=self.method, solver=self.solver,
            max_iter=self.max_iter, tol=self.tol, root=self.root,
        )
