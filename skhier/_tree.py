"""The tree layer: rules on a :class:`Taxonomy` that several packages need, written once.

Every package above the taxonomy (``metrics``, ``inference``, ``local``, ``neural``)
imports these from here and from nowhere else: the taxonomy's arrays as tensors on a
device, score validation, ancestor sums (bottom-up), products along root paths
(top-down), the greedy descent, the best-leaf and majority rules, the lowest common
ancestor, and the sorted ``classes_`` of a classifier. Everything is O(n_samples ×
n_nodes) at most; nothing builds an n_nodes × n_nodes or a fan-out-padded table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ._chunks import row_blocks
from ._taxonomy import Taxonomy, sorted_classes, top_down_product  # noqa: F401
from .utils import validation

__all__ = [
    "TaxonomyTensors",
    "taxonomy_tensors",
    "as_score_tensor",
    "bottom_up",
    "top_down_product",
    "best_leaf",
    "majority_node",
    "greedy_descent",
    "lca",
    "sorted_classes",
    "path_sum",
    "subtree_logsumexp",
    "sibling_log_softmax",
    "lca_with_all",
    "path_indicator",
    "tree_distance",
    "max_over_descendants",
    "hierarchy_violations",
    "with_all_ancestors",
]

#: Largest number of (sample, node) cells a row chunk of the greedy descent touches.
_CHUNK_CELLS = 1 << 24


@dataclass(frozen=True)
class TaxonomyTensors:
    """Per-node arrays of a taxonomy as tensors on one device (all O(n_nodes · depth))."""

    depth: torch.Tensor  # (n_nodes,) float
    info: torch.Tensor  # (n_nodes,) float: log2(n_leaves / leaves under node)
    height: torch.Tensor  # (n_nodes,) float
    paths: torch.Tensor  # (n_nodes, max_depth + 1) long, -1 padded
    parent: torch.Tensor  # (n_nodes,) long, -1 at the root
    leaves: torch.Tensor  # (n_leaves,) long
    is_leaf: torch.Tensor  # (n_nodes,) bool
    levels: tuple  # node indices (long) at every depth
    specificity: torch.Tensor  # (n_nodes,) long: n_leaves - leaves under; -1 at a single-child node
    n_leaves_under: torch.Tensor  # (n_nodes,) long
    single_child: torch.Tensor  # (n_nodes,) bool: nodes with exactly one child, the root included
    top: int  # the end of the root's single-child chain (the root unless it has one child)


def information(taxonomy: Taxonomy) -> np.ndarray:
    """``log2(n_leaves / n_leaf_descendants)`` of every node (0 at the root)."""
    return np.log2(taxonomy.n_leaves / taxonomy.n_leaf_descendants)


@lru_cache(maxsize=32)
def taxonomy_tensors(taxonomy: Taxonomy, device: str) -> TaxonomyTensors:
    """The taxonomy's per-node arrays on ``device`` (float64 on CPU, float32 on GPUs), cached."""
    info = information(taxonomy)
    dev = torch.device(device)
    f = torch.float64 if dev.type == "cpu" else torch.float32
    single = taxonomy.n_children == 1
    # Valmadre (2022): specificity is the number of leaf descendants alone, and a node with
    # exactly one child (the root included) is never predicted: its child says as much.
    rank = np.where(single, -1, taxonomy.n_leaves - taxonomy.n_leaf_descendants)

    def t(a, dtype=None):
        return torch.as_tensor(np.array(a), dtype=dtype, device=dev)

    return TaxonomyTensors(
        depth=t(taxonomy.depth, f),
        info=t(info, f),
        height=t(taxonomy.height, f),
        paths=t(taxonomy.path_indices, torch.long),
        parent=t(taxonomy.parent, torch.long),
        leaves=t(taxonomy.leaves, torch.long),
        is_leaf=t(taxonomy.is_leaf),
        levels=tuple(t(lv, torch.long) for lv in taxonomy.levels),
        specificity=t(rank, torch.long),
        n_leaves_under=t(taxonomy.n_leaf_descendants, torch.long),
        single_child=t(single),
        top=_chain_end(taxonomy),
    )


def _chain_end(taxonomy: Taxonomy) -> int:
    """The first node going down from the root that does not have exactly one child."""
    node = 0
    while taxonomy.n_children[node] == 1:
        node = int(taxonomy.children[node][0])
    return node


def as_score_tensor(scores, taxonomy: Taxonomy, *, name="scores", probabilities=False, device=None,
                    dtype=None):
    """The one score adapter: validate a (n_samples, n_nodes) score matrix once
    (:func:`skhier.utils.validation.check_node_scores`: shape, leaf-only columns, another taxonomy's
    node scores, NaN, range) and return ``(tensor, was_tensor)``.

    Numpy (or sparse) input becomes a tensor of ``dtype`` (its own float dtype when None);
    a tensor keeps its dtype and is checked with a single host synchronisation.
    """
    was_tensor = isinstance(scores, torch.Tensor)
    checked = validation.check_node_scores(scores, taxonomy, name=name, probabilities=probabilities)
    if was_tensor:
        t = checked
    elif checked.flags.writeable and (checked.flags.c_contiguous or checked.flags.f_contiguous):
        t = torch.from_numpy(checked)  # no copy: a column-major matrix (a sparse product's) stays one
    else:
        t = torch.from_numpy(np.ascontiguousarray(checked))
    if dtype is not None and not was_tensor:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    return t, was_tensor


def bottom_up(end_scores: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Add every column of a (n, n_nodes) tensor into all its ancestors' (children first).

    An end-node distribution (mass where paths end, leaves or internal) becomes the
    probability of passing each node. O(n × n_nodes), no dense matrix; not in place. On
    a DAG a node sums every descendant once (over the (descendant, ancestor) pairs, not
    along each path, which would count a node under two parents twice): O(n × pairs).
    """
    if not taxonomy.is_tree:
        desc, anc = _ancestor_pairs(taxonomy, str(end_scores.device))
        return torch.zeros_like(end_scores).index_add_(1, anc, end_scores[:, desc])
    out = end_scores.clone()
    tt = taxonomy_tensors(taxonomy, str(out.device))
    for nodes in reversed(tt.levels[1:]):
        out.index_add_(1, tt.parent[nodes], out[:, nodes])
    return out


def best_leaf(s: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """The leaf rule: the best-scored leaf of every row (ties: the first in node order)."""
    leaves = taxonomy_tensors(taxonomy, str(s.device)).leaves
    return leaves[s[:, leaves].argmax(dim=1)]


def majority_node(s: torch.Tensor, taxonomy: Taxonomy, threshold: float = 0.5) -> torch.Tensor:
    """Valmadre's majority rule: the most specific node scoring above ``threshold``.

    As Valmadre (2022) defines it and his reference code computes it: "more specific" is
    fewer leaf descendants alone (no tie-break by depth); ties go to the higher score
    (then the first in node order); nodes with exactly one child are never predicted,
    the root included. When no node qualifies, the end of the root's single-child chain
    (the root itself unless it has one child). With probabilities consistent with the
    tree the qualifying nodes form a path and this is its end.
    """
    tt = taxonomy_tensors(taxonomy, str(s.device))
    spec = tt.specificity.expand_as(s)
    mask = (s > threshold) & (spec >= 0)
    spec_m = torch.where(mask, spec, torch.full_like(spec, -1))
    best = spec_m.max(dim=1, keepdim=True).values
    cand = mask & (spec_m == best)
    node = torch.where(cand, s, torch.full_like(s, -float("inf"))).argmax(dim=1)
    return torch.where(mask.any(dim=1), node, torch.full_like(node, tt.top))


def greedy_descent(s: torch.Tensor, taxonomy: Taxonomy, stop=None, threshold=None) -> torch.Tensor:
    """From the root, step to the best-scored child until a leaf (ties: the first child).

    With ``stop`` (scores of ending at each node), a row stays where stopping scores at
    least as high as its best child; with ``threshold``, where its best child scores
    below it. Level by level over the nodes of the next depth, in row chunks, so memory
    is O(chunk × widest level) and time O(n × n_nodes); no padded children table.
    """
    tt = taxonomy_tensors(taxonomy, str(s.device))
    n = s.shape[0]
    cur = torch.zeros(n, dtype=torch.long, device=s.device)
    widest = max((lv.numel() for lv in tt.levels), default=1)
    for sl in row_blocks(n, widest, _CHUNK_CELLS):
        c = cur[sl]
        rows = torch.arange(c.shape[0], device=s.device)
        active = torch.ones_like(c, dtype=torch.bool)
        for lv in tt.levels[1:]:
            mine = (tt.parent[lv][None, :] == c[:, None]) & active[:, None]
            if not bool(mine.any()):
                break
            ks = torch.where(mine, s[sl][:, lv], torch.full_like(s[sl][:, lv], -float("inf")))
            j = ks.argmax(dim=1)
            best_score = ks[rows, j]
            go = mine.any(dim=1)
            if stop is not None:
                go &= best_score > stop[sl][rows, c]
            if threshold is not None:
                go &= best_score >= threshold
            c = torch.where(go, lv[j], c)
            active &= go
        cur[sl] = c
    return cur


def lca(a: torch.Tensor, b: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
    """Lowest common ancestor of node index tensors ``a`` and ``b`` (broadcast).

    ``paths`` is the taxonomy's root-first path table (``path_indices``) on the same device.
    The LCA sits at the last position where the two root paths still agree.
    """
    return lca_and_depth(a, b, paths)[0]


def agreeing_depth(pa, pb):
    """Depth of the LCA of each pair of root paths (rows of ``path_indices``, ``-1``
    padded), as numpy or torch integers, whichever the paths are.

    In a tree two root paths that meet agree on a prefix and never again, so the number of
    positions where they agree (padding aside) is the LCA's depth plus one: one sum, where
    a first-difference search needs an ``any``, an ``argmax`` and a ``where``.
    """
    return ((pa == pb) & (pa >= 0)).sum(-1) - 1  # the root always agrees


def lca_and_depth(a: torch.Tensor, b: torch.Tensor, paths: torch.Tensor) -> tuple:
    """(LCA of ``a`` and ``b``, the LCA's depth as a long tensor), broadcast; see
    :func:`agreeing_depth`."""
    a, b = torch.broadcast_tensors(a, b)
    shape = a.shape
    pa = paths.index_select(0, a.reshape(-1))  # index_select: 4-6x faster than paths[a] on CPU
    pb = paths.index_select(0, b.reshape(-1))
    depth = agreeing_depth(pa, pb)
    return pa.gather(-1, depth.unsqueeze(-1)).squeeze(-1).reshape(shape), depth.reshape(shape)


# ---------------------------------------------------------------- differentiable tree sums
# The hierarchical losses need sums along root paths, log-sum-exps over subtrees and
# softmaxes over siblings of a (batch, n_nodes) tensor, with gradients. Each is a loop
# over the taxonomy's levels with index operations on that level's nodes only: O(batch ×
# n_nodes) time and memory whatever the fan-out, no padded children table.


@lru_cache(maxsize=32)
def _level_groups(taxonomy: Taxonomy, device: str) -> tuple:
    """Per non-root level: (its nodes, their distinct parents, each node's parent position)."""
    out = []
    for lv in taxonomy.levels[1:]:
        lv = np.array(lv, dtype=np.int64)  # writable: torch refuses read-only arrays
        parents, inverse = np.unique(taxonomy.parent[lv], return_inverse=True)
        out.append(tuple(torch.as_tensor(a, device=device) for a in (lv, parents, inverse.ravel())))
    return tuple(out)


def path_sum(x: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Sum of a (B, n_nodes) tensor along every node's root path, the node included.

    Column ``v`` of the result is ``sum(x[:, u] for u in ancestors_or_self(v))``. Works
    for any dtype and keeps gradients.
    """
    out = x.clone()
    for lv, parents, inverse in _level_groups(taxonomy, str(x.device)):
        out[:, lv] = out[:, parents][:, inverse] + x[:, lv]
    return out


def _group_logsumexp(values: torch.Tensor, inverse: torch.Tensor, n_groups: int) -> torch.Tensor:
    """log-sum-exp of the columns of ``values`` (B, k) grouped by ``inverse`` → (B, n_groups)."""
    shift = torch.full((values.shape[0], n_groups), -torch.inf, dtype=values.dtype, device=values.device)
    shift = shift.scatter_reduce(1, inverse.expand_as(values), values.detach(), "amax")
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = values.new_zeros(values.shape[0], n_groups).index_add(1, inverse, torch.exp(values - shift[:, inverse]))
    return torch.log(total) + shift


def subtree_logsumexp(x: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """``log(sum(exp(x[:, u]) for u in subtree(v)))`` for every node ``v``, the node included.

    With leaf log-probabilities in the leaf columns and ``-inf`` elsewhere this gives the
    log-probability of every subtree. Keeps gradients; ``-inf`` columns are allowed.
    """
    out = x.clone()
    for lv, parents, inverse in reversed(_level_groups(taxonomy, str(x.device))):
        below = _group_logsumexp(out[:, lv], inverse, parents.numel())
        out[:, parents] = torch.logaddexp(out[:, parents], below)
    return out


def sibling_log_softmax(x: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Log-softmax of every non-root column over its siblings (children of one parent).

    Column ``v`` is ``log P(v | parent(v))`` of a conditional softmax; the root's is 0.
    """
    out = torch.zeros_like(x)
    for lv, parents, inverse in _level_groups(taxonomy, str(x.device)):
        out[:, lv] = x[:, lv] - _group_logsumexp(x[:, lv], inverse, parents.numel())[:, inverse]
    return out


def path_indicator(nodes: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """(B, n_nodes) bool: which nodes lie on the root path of each of ``nodes`` (B,).

    The root is on every path. O(B × n_nodes).
    """
    tt = taxonomy_tensors(taxonomy, str(nodes.device))
    path = tt.paths[nodes]
    on = torch.zeros(nodes.shape[0], tt.parent.numel(), dtype=torch.bool, device=nodes.device)
    on.scatter_(1, path.clamp(min=0), path >= 0)  # padding writes False into the root...
    on[:, 0] = True  # ...which is on every path
    return on


def lca_with_all(nodes: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Lowest common ancestor of each of ``nodes`` (B,) with every taxonomy node: (B, n_nodes).

    Counts, for every node, how many of its ancestors lie on the given node's root path
    (a prefix of it, so the count is the LCA's depth + 1): O(B × n_nodes).
    """
    paths = taxonomy_tensors(taxonomy, str(nodes.device)).paths[nodes]
    return paths.gather(1, path_sum(path_indicator(nodes, taxonomy).long(), taxonomy) - 1)


#: The taxonomy distances between two nodes that losses and metrics offer.
TREE_DISTANCES = ("edges", "lca_height", "hierarchical_precision")


def tree_distance(a: torch.Tensor, b: torch.Tensor, taxonomy: Taxonomy, kind: str = "edges", *, lca_nodes=None):
    """Taxonomy distance between node index tensors ``a`` and ``b`` (broadcast), as floats.

    ``"edges"``: edges from ``a`` up to the LCA and down to ``b``; ``"lca_height"``: the
    LCA's height (Bertinetto et al.'s mistake severity; between leaves, 0 only for a
    leaf and itself); ``"hierarchical_precision"``: 1 - depth(LCA) / max depth (one
    minus Deng et al.'s hierarchical precision, as KFR §III-A reads it).
    ``lca_nodes`` skips the LCA search when the caller has it.
    """
    tt = taxonomy_tensors(taxonomy, str(a.device))
    c = lca(a, b, tt.paths) if lca_nodes is None else lca_nodes
    if kind == "edges":
        return tt.depth[a] + tt.depth[b] - 2 * tt.depth[c]
    if kind == "lca_height":
        return tt.height[c]
    if kind == "hierarchical_precision":
        return 1 - tt.depth[c] / max(taxonomy.max_depth, 1)
    raise ValueError(f"distance must be one of {TREE_DISTANCES}, got {kind!r}")


# ---------------------------------------------------------------- coherence on trees and DAGs
# C-HMCNN's max-constraint module (MCM) and the hierarchy-violation count work on any
# taxonomy, a DAG included: they read the (descendant, ancestor) pairs of the ancestor
# matrix, O(pairs) per sample, never a dense n_nodes × n_nodes tensor.


@lru_cache(maxsize=32)
def _ancestor_pairs(taxonomy: Taxonomy, device: str) -> tuple:
    """(descendant, ancestor) index tensors of every pair, self pairs included."""
    m = taxonomy.ancestor_matrix.tocoo()
    return (torch.as_tensor(m.row.astype(np.int64), device=device),
            torch.as_tensor(m.col.astype(np.int64), device=device))


def edge_levels(taxonomy: Taxonomy) -> list:
    """(child, parent) index arrays of the edges into the parents of each depth, deepest first.

    With depth the longest path from the root, a child is always deeper than each of its
    parents, so when the edges into depth ``d`` are read, every child below is final: the
    order of every bottom-up pass (the MCM, the plot layout).
    """
    child, parent = taxonomy.edges
    pdepth = np.asarray(taxonomy.depth)[parent]
    order = np.argsort(-pdepth, kind="stable")
    child, parent, pdepth = child[order], parent[order], pdepth[order]
    cuts = np.flatnonzero(np.diff(pdepth)) + 1
    return [(c, q) for c, q in zip(np.split(child, cuts), np.split(parent, cuts)) if len(c)]


@lru_cache(maxsize=32)
def _edges_by_parent_depth(taxonomy: Taxonomy, device: str) -> tuple:
    """:func:`edge_levels` as tensors on ``device``, derived once per taxonomy."""
    return tuple((torch.as_tensor(c, device=device), torch.as_tensor(q, device=device))
                 for c, q in edge_levels(taxonomy))


def _argmax_over_descendants(x: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """(B, n) index of the first maximiser over ``{k} ∪ D(k)``, for float32 (or narrower) ``x``.

    Each score and its node index are packed into one int64 key that orders as (score,
    −index): the score's float32 bits made order-preserving in the high half, the
    complement of the index in the low half. One ``amax`` then carries the maximum and its
    first maximiser together, and the max over descendants is a bottom-up pass over the
    edges, one scatter per depth: O(B × edges) work, where the (descendant, ancestor)
    pairs are O(B × pairs) (a node's ancestors, 10× the edges on the Gene Ontology).
    """
    v = x.detach().t().to(torch.float32) + 0.0  # (n, B): node rows gather contiguously; -0.0 → +0.0
    bits = v.contiguous().view(torch.int32).to(torch.int64)
    key = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)  # negative floats: flip the magnitude's order
    low = 0xFFFFFFFF - torch.arange(x.shape[1], device=x.device, dtype=torch.int64)
    top = (key << 32) | low[:, None]
    batch = x.shape[0]
    for child, parent in _edges_by_parent_depth(taxonomy, str(x.device)):
        top.scatter_reduce_(0, parent[:, None].expand(-1, batch), top.index_select(0, child), "amax")
    return (0xFFFFFFFF - (top & 0xFFFFFFFF)).t()


def max_over_descendants(x: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """C-HMCNN's MCM: column ``k`` becomes the max of ``x`` over ``k`` and its descendants.

    ``MCM(h)_k = max_{d ∈ D(k) ∪ {k}} h_d`` (Giunchiglia & Lukasiewicz, 2020, eq. 2), for a
    (B, n_nodes) tensor of scores, probabilities or logits (a monotone link commutes with
    the max), where the reference code builds a dense (B, n, n) tensor. The gradient flows
    to one maximiser per (row, node): the first descendant in node order among ties, as
    ``torch.max(dim=...)`` routes it. Float32 and narrower: one bottom-up pass over the
    edges, O(B × edges) (:func:`_argmax_over_descendants`); float64: a segment max over
    the (descendant, ancestor) pairs, O(B × pairs). Both exact.
    """
    if x.dtype != torch.float64:
        with torch.no_grad():
            first = _argmax_over_descendants(x, taxonomy)
        return x.gather(1, first)
    desc, anc = _ancestor_pairs(taxonomy, str(x.device))
    with torch.no_grad():
        xt = x.detach().t().contiguous()  # (n, B): pair gathers copy whole rows
        vals = xt.index_select(0, desc)  # (pairs, B)
        idx = anc[:, None].expand_as(vals)
        top = torch.full_like(xt, -torch.inf).scatter_reduce_(0, idx, vals, "amax")
        hit = vals == top.index_select(0, anc)
        big = torch.iinfo(torch.long).max
        first = torch.full(xt.shape, big, dtype=torch.long, device=x.device).scatter_reduce_(
            0, idx, torch.where(hit, desc[:, None], big), "amin")
    return x.gather(1, first.t())


def hierarchy_violations(scores: torch.Tensor, taxonomy: Taxonomy, threshold=None) -> torch.Tensor:
    """Per row, the number of (node, ancestor) pairs where the node outranks its ancestor.

    With ``threshold``, a violation is a node at or above it whose ancestor is below it;
    without, a node scoring strictly more than an ancestor. O(B × pairs).
    """
    desc, anc = _ancestor_pairs(taxonomy, str(scores.device))
    keep = desc != anc
    d, a = scores[:, desc[keep]], scores[:, anc[keep]]
    bad = (d >= threshold) & (a < threshold) if threshold is not None else d > a
    return bad.sum(dim=1)


def with_all_ancestors(mask: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """(B, n_nodes) bool: the entries of ``mask`` whose ancestors are all in ``mask`` too.

    The "prune" rule of a label set, on trees and DAGs: a segment max of the missing
    ancestors over the (descendant, ancestor) pairs, O(B × pairs).
    """
    desc, anc = _ancestor_pairs(taxonomy, str(mask.device))
    missing = (~mask[:, anc]).to(torch.int8)
    any_missing = torch.zeros(mask.shape, dtype=torch.int8, device=mask.device).scatter_reduce_(
        1, desc.expand(mask.shape[0], -1), missing, "amax")
    return mask & (any_missing == 0)
