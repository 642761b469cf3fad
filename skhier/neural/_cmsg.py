"""CMSG: multi-label classification with label-correlation-guided attention (Zhang et al.).

A backbone's spatial feature map gives one feature per label (class-specific features);
**SGA** (semantic-guided attention) lets those features attend to each other through
multi-head self-attention masked by a re-weighted label-correlation matrix, and **SAA**
(spatial-aware attention) lets them attend to every spatial position through multi-head
cross-attention; a per-label linear classifier scores them, trained with the asymmetric
loss. The labels are the taxonomy's non-root nodes, so a prediction is a node set.

Only the method's description survives in the paper text we have (the equations are
lost), so where it is silent the choices are ours and documented where they are made:
the class-specific features (per-label spatial attention pooling plus a learned label
embedding), pre-norm blocks, the additive-bias variant of the mask, and the reading of a
user correlation array.
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .._chunks import row_blocks
from ..utils.validation import InstanceOf, Interval, OneOf, Options, check_number
from ._generic import MultiLabelNodeClassifier, _with_root
from .text import MEMORY_RULE

__all__ = [
    "CMSGClassifier",
    "CMSGModule",
    "cooccurrence_correlation",
    "embedding_correlation",
    "reweight_correlation",
]

#: Largest (rows x labels) block of similarities :func:`embedding_correlation` holds at once.
_BLOCK_CELLS = 1 << 22

#: Most labels ``attention="bias"`` takes: it adds the correlation to all n_labels² scores.
MAX_BIAS_LABELS = 4096

def cooccurrence_correlation(Y) -> sp.csr_matrix:
    """Conditional co-occurrence ``A[i, j] = P(label j | label i)`` from a 0/1 label matrix.

    ``A[i, j] = M[i, j] / N[i]`` with ``M = YᵀY`` the co-occurrence counts and ``N`` the
    label counts (ML-GCN's correlation, eq. 7 of Chen et al. 2019); a label never seen
    gets an empty row. Sparse throughout: the result holds only the pairs that co-occur
    (at most n_samples · k² for k labels per sample), never n_labels².

    Parameters
    ----------
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        Node-indicator rows of the training set, one column per label (non-root node).

    Returns
    -------
    A : scipy.sparse.csr_matrix of shape (n_labels, n_labels)
        Conditional co-occurrence ``A[i, j] = P(label j | label i)`` from a 0/1 label matrix.

    Examples
    --------
    >>> from skhier.neural.modules import cooccurrence_correlation
    >>> cooccurrence_correlation([[1, 1], [1, 0]]).toarray()
    array([[1. , 0.5],
           [1. , 1. ]])
    """
    Y = sp.csr_matrix(Y, dtype=np.float64)
    if Y.nnz and ((Y.data < 0).any() or (Y.data > 1).any()):
        raise ValueError("Y must be a 0/1 label matrix")
    M = (Y.T @ Y).tocsr()
    counts = M.diagonal()
    inv = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    A = (sp.diags(inv) @ M).tocsr()
    A.eliminate_zeros()
    A.sort_indices()
    return A


#: Above this many labels, ``embedding_correlation(..., method="auto")`` finds the top-k
#: with faiss's HNSW index when the ``ann`` extra is installed: at 10⁴ labels the exact
#: blocked search took 4.6 s and HNSW 1.1 s at recall 0.999 (benchmarks/bench_label_texts.py).
ANN_MIN_LABELS = 20_000

#: ``batch_size="auto"`` (ours): a CMSG step keeps, for the backward, about this many floats
#: per sample, ``dim`` unit and label, and per ``dim`` unit and SGA edge (a label pair it
#: attends along, the diagonal included). Measured on CPU at 11,110 labels, dim 128: 122 MB
#: more peak memory per sample of the batch with 11,408 edges, 344 MB with 122,154.
ACTIVATION_FLOATS_PER_LABEL = 18
ACTIVATION_FLOATS_PER_EDGE = 4
#: The most bytes of activations one auto-sized CMSG batch may hold (ours): the auto batch
#: is capped to keep them under it, never below one sample.
AUTO_BATCH_BYTES = 2 * 2**30


def _memory_capped_batch(batch: int, n_labels: int, n_edges: int, dim: int) -> int:
    """``batch`` capped so that its samples' activations (labels and edges, × dim) fit AUTO_BATCH_BYTES."""
    floats = ACTIVATION_FLOATS_PER_LABEL * max(int(n_labels), 1) + ACTIVATION_FLOATS_PER_EDGE * max(int(n_edges), 0)
    return int(max(1, min(int(batch), AUTO_BATCH_BYTES // (4 * max(int(dim), 1) * floats))))


def _faiss_neighbors(E, k):
    """Approximate top-(k+1) inner-product neighbours of every row (faiss HNSW, M=32, efSearch=64)."""
    import faiss

    index = faiss.IndexHNSWFlat(E.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(np.ascontiguousarray(E, dtype=np.float32))
    index.hnsw.efSearch = max(64, 2 * (k + 1))
    _, idx = index.search(np.ascontiguousarray(E, dtype=np.float32), k + 1)
    return idx


def embedding_correlation(embeddings, *, threshold=None, n_neighbors=None, method="auto"):
    """Cosine similarity of label embeddings (one row per label), CMSG's semantic correlation.

    Parameters
    ----------
    embeddings : array-like of shape (n_labels, dim)
        One vector per label (e.g. sentence embeddings of the label names).
    threshold : float or None, default=None
        None gives the dense all-pairs matrix. A float gives a sparse matrix of the
        pairs whose similarity is at least ``threshold`` (the only ones
        :func:`reweight_correlation` keeps at ``tau=threshold``), computed in row blocks
        so memory stays O(n_labels · block + kept pairs); the time is still
        O(n_labels² · dim), as every pair is compared.
    n_neighbors : int or None, default=None
        Keep, for every label, at most its ``n_neighbors`` most similar other labels
        (exact top-k by cosine, found in the same row blocks),
        besides the label itself: at most ``n_labels · (n_neighbors + 1)`` pairs,
        whatever the texts. Combined with ``threshold``, a pair must pass both.
    method : {"auto", "exact", "faiss"}, default="auto"
        How the ``n_neighbors`` are found: ``"exact"`` compares every pair in row blocks
        (O(n_labels² · dim) time, bounded memory); ``"faiss"`` asks an HNSW index of
        faiss (the ``ann`` extra: ``pip install "skhier[ann]"``; recall 0.999 at 10⁴ labels
        in the benchmark), whose pairs get their exact cosine; ``"auto"`` is faiss above
        :data:`ANN_MIN_LABELS` labels when it is installed, else exact.

    Returns
    -------
    A : ndarray or scipy.sparse.csr_matrix of shape (n_labels, n_labels)
        Cosine similarity of label embeddings (one row per label), CMSG's semantic correlation.

    Examples
    --------
    >>> from skhier.neural.modules import embedding_correlation
    >>> embedding_correlation([[1.0, 0.0], [1.0, 1.0]]).round(3)
    array([[1.   , 0.707],
           [0.707, 1.   ]])
    >>> embedding_correlation([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], threshold=0.9).nnz
    3
    >>> embedding_correlation([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]], n_neighbors=1).toarray().round(3)
    array([[1.   , 0.995, 0.   ],
           [0.995, 1.   , 0.   ],
           [0.   , 0.1  , 1.   ]])
    """
    E = np.asarray(embeddings, dtype=np.float64)
    if E.ndim != 2 or not np.isfinite(E).all():
        raise ValueError(f"embeddings must be a finite (n_labels, dim) array, got shape {E.shape}")
    norm = np.linalg.norm(E, axis=1, keepdims=True)
    E = E / np.where(norm > 0, norm, 1.0)
    if threshold is None and n_neighbors is None:
        return E @ E.T
    if threshold is not None:
        threshold = check_number(threshold, "threshold")
    n = len(E)
    k = None if n_neighbors is None else min(check_number(n_neighbors, "n_neighbors", low=1, integer=True), n - 1)
    if method not in ("auto", "exact", "faiss"):
        raise ValueError(f"method must be one of 'auto', 'exact', 'faiss', got {method!r}")
    if k is not None and k > 0 and (method == "faiss" or (method == "auto" and n > ANN_MIN_LABELS and _has_faiss())):
        if method == "faiss" and not _has_faiss():
            raise ImportError('embedding_correlation(method="faiss") needs the ann extra: pip install "skhier[ann]"')
        idx = _faiss_neighbors(E, k)  # (n, k + 1), by decreasing similarity; -1 pads a short row
        others = (idx >= 0) & (idx != np.arange(n)[:, None])
        others &= np.cumsum(others, axis=1) <= k  # the first k other labels of each row
        r, c = np.nonzero(others)[0], idx[others]
        sim = _pair_cosines(E, r, c)  # the exact cosine of every pair found
        if threshold is not None:
            r, c, sim = r[sim >= threshold], c[sim >= threshold], sim[sim >= threshold]
        diag = np.arange(n)
        out = sp.csr_matrix((np.concatenate([sim, np.ones(n)]), (np.concatenate([r, diag]), np.concatenate([c, diag]))),
                            shape=(n, n))
        out.sort_indices()
        return out
    if k is not None:
        E = E.astype(np.float32)  # top-k from float32 products: half the time, cosines to 1e-7
    blocks = []
    for sl in row_blocks(n, n, _BLOCK_CELLS):
        S = E[sl] @ E.T
        rows = np.arange(S.shape[0])
        if k is not None:
            self_cols = rows + sl.start
            S[rows, self_cols] = np.inf  # the label itself: always kept, never one of its k neighbours
            top = np.argpartition(-S, k, axis=1)[:, : k + 1] if k < n - 1 else np.broadcast_to(np.arange(n), S.shape)
            S[rows, self_cols] = 1.0
            r = np.repeat(rows, top.shape[1])
            c = top.ravel()
            keep = S[r, c] >= threshold if threshold is not None else np.ones(len(r), bool)
            r, c = r[keep], c[keep]
        else:
            r, c = np.nonzero(S >= threshold)
        blocks.append(sp.csr_matrix((S[r, c].astype(np.float64), (r, c)), shape=S.shape))
    out = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, 0))
    out.sort_indices()
    return out


def _pair_cosines(E: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``E[rows[i]] · E[cols[i]]`` for every pair, in blocks of pairs: gathering every pair's two
    rows at once would hold 2 · n_pairs · dim floats (6.4 GiB at 10⁵ labels × 10 neighbours)."""
    out = np.empty(len(rows), dtype=np.float64)
    for sl in row_blocks(len(rows), E.shape[1], _BLOCK_CELLS):
        out[sl] = np.einsum("ij,ij->i", E[rows[sl]], E[cols[sl]])
    return out


def _has_faiss() -> bool:
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


def reweight_correlation(A, *, tau=0.4, p=0.25):
    """Binarise, re-weight and normalise a label-correlation matrix (ML-GCN, CMSG).

    As ML-GCN's published code computes it (``gen_A`` and ``gen_adj``; the re-weighting
    CMSG's §3.1 takes "inspired by" ML-GCN):

    1. binarise: ``B[i, j] = 1`` if ``A[i, j] ≥ tau`` (``i ≠ j``), else 0 — drops the
       rare, noisy correlations;
    2. re-weight: every **column**'s mass becomes ``p``,
       ``B'[i, j] = p · B[i, j] / Σ_k B[k, j]`` (a column without entries stays 0; the
       code's ``+ 1e-6`` in the denominator is left out);
    3. add the identity: ``C = B' + I``;
    4. normalise: ``Â = D^{-1/2} Cᵀ D^{-1/2}`` with ``D = diag(Σ_j C[i, j])``, the row
       sums of ``C`` — note the transpose: ``Â[i, j] > 0`` where ``A[j, i] ≥ tau``. For
       ML-GCN's conditional co-occurrence ``A[j, i] = P(i | j)``, label ``i`` then draws
       on the labels ``j`` that imply it.

    ML-GCN's eq. 8 writes the re-weighting per row with ``1 - p`` on the diagonal; its
    code, which its published results come from, does the above. Computed on sparse
    matrices: O(n_labels + kept pairs).

    Parameters
    ----------
    A : array-like or sparse matrix of shape (n_labels, n_labels)
        Raw correlations (conditional co-occurrence, cosine similarity, ...). A sparse
        matrix's missing entries are zeros, so it needs ``tau > 0``.
    tau : float, default=0.4
        Binarisation threshold.
    p : float, default=0.25
        Mass of every column of the binarised matrix after re-weighting, in [0, 1].

    Returns
    -------
    A_hat : ndarray, or scipy.sparse.csr_matrix for a sparse ``A``, of shape (n_labels, n_labels)
        Positive exactly on the diagonal and where ``A.T ≥ tau``.

    References
    ----------
    .. [1] Z.-M. Chen, X.-S. Wei, P. Wang, Y. Guo. "Multi-Label Image Recognition with
       Graph Convolutional Networks", CVPR 2019 (and its public code, ``util.gen_A``).

    Examples
    --------
    >>> from skhier.neural.modules import reweight_correlation
    >>> reweight_correlation([[1.0, 0.5], [0.2, 1.0]]).round(4)
    array([[0.8   , 0.    ],
           [0.2236, 1.    ]])
    """
    sparse = sp.issparse(A)
    A = sp.csr_matrix(A, dtype=np.float64) if sparse else np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"a correlation matrix must be square, got shape {A.shape}")
    if not np.isfinite(A.data if sparse else A).all():
        raise ValueError("the correlation matrix contains NaN or infinity")
    tau = check_number(tau, "tau")
    p = check_number(p, "p", low=0, high=1)
    if sparse and tau <= 0:
        raise ValueError(f"tau must be > 0 for a sparse correlation matrix (its missing entries are 0), got {tau!r}")
    B = sp.csr_matrix(A >= tau, dtype=np.float64)  # on a sparse A, tau > 0 keeps it sparse
    B = (sp.triu(B, 1) + sp.tril(B, -1)).tocsr()  # off the diagonal
    mass = np.asarray(B.sum(axis=0)).ravel()  # column sums
    C = B @ sp.diags(np.divide(p, mass, out=np.zeros_like(mass), where=mass > 0)) + sp.identity(len(mass))
    d = sp.diags(np.asarray(C.sum(axis=1)).ravel() ** -0.5)
    out = (d @ C.T @ d).tocsr()
    out.sort_indices()
    return out if sparse else out.toarray()


def _edge_attention(attn: nn.MultiheadAttention, x, rows, cols, bias=None):
    """``attn``'s self-attention over ``x`` (B, L, dim), where label ``i`` attends to the
    labels ``cols[e]`` of the edges with ``rows[e] == i`` only.

    Equal to ``attn(x, x, x, attn_mask=M)`` with ``M`` -inf off the edges (and
    ``bias[e]`` on edge ``e`` when given), with the module's own projections and
    dropout, in O(B · n_edges · dim) time and memory instead of O(B · L² · heads):
    scores per edge, a softmax per row (a segment max, sum and weighted sum by
    ``index_add``).
    """
    b, n, dim = x.shape
    h = attn.num_heads
    q, k, v = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(b, n, 3, h, dim // h).unbind(2)
    scores = (q[:, rows] * k[:, cols]).sum(-1) * (dim // h) ** -0.5  # (B, E, heads)
    if bias is not None:
        scores = scores + bias.to(scores.dtype)[None, :, None]
    with torch.no_grad():  # a per-row shift for a stable exp; the softmax does not depend on it
        idx = rows[None, :, None].expand_as(scores)
        top = scores.new_full((b, n, h), -torch.inf).scatter_reduce_(1, idx, scores, "amax")
    e = (scores - top[:, rows]).exp()
    w = e / scores.new_zeros((b, n, h)).index_add_(1, rows, e)[:, rows]
    w = nn.functional.dropout(w, attn.dropout, attn.training)
    out = x.new_zeros((b, n, h, dim // h)).index_add_(1, rows, (w[..., None] * v[:, cols]).to(x.dtype))
    return attn.out_proj(out.reshape(b, n, dim))


class _Block(nn.Module):
    """Pre-norm attention block: ``x + MHA(LN(x), kv)``, then ``x + FFN(LN(x))``."""

    def __init__(self, dim, heads, ffn_mult, dropout, cross):
        super().__init__()
        self.cross = cross
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim) if cross else None
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_mult * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn_mult * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, kv=None, attn_mask=None, edges=None):
        q = self.norm_q(x)
        if edges is not None:  # sparse self-attention along the correlation's edges
            out = _edge_attention(self.attn, q, *edges)
        else:
            kv = q if kv is None else self.norm_kv(kv)
            out, _ = self.attn(q, kv, kv, attn_mask=attn_mask, need_weights=False)
        x = x + self.dropout(out)
        return x + self.dropout(self.ffn(self.norm_ffn(x)))


class CMSGModule(nn.Module):
    """CMSG's network: class-specific features, SGA, SAA and a per-label classifier.

    1. **Tokens**: the backbone's (C, H, W) map becomes H·W tokens projected to ``dim``,
       plus a learned position embedding ((D,) features are one token).
    2. **Class-specific features** (our reading): label ``c`` pools the tokens with its
       own spatial attention (a softmax over positions of a linear score), and adds a
       learned label embedding → (B, n_labels, dim).
    3. **SGA**: ``sga_layers`` pre-norm blocks of multi-head self-attention over the
       label features, guided by the re-weighted correlation ``Â``, then an FFN.
       ``attention="mask"`` (the paper's masked attention, our reading of it, default):
       label ``i`` attends only to itself and the labels ``j`` with ``Â[i, j] > 0``, with
       weights proportional to ``Â[i, j] · exp(q_i·k_j / √d)`` (``log Â`` added to the
       scores on the edges, -inf off them), so both which labels are correlated and how
       strongly (``p``, the normalisation) shape the attention; computed along those
       edges only, O(B · nnz(Â) · dim). ``attention="bias"``: ``Â`` added to every
       head's all-pairs scores, O(B · n_labels²), up to :data:`MAX_BIAS_LABELS` labels.
       ``correlation=None``: plain all-pairs self-attention without any guidance (the
       paper's "w/o correlation matrix" ablation; also up to :data:`MAX_BIAS_LABELS`).
    4. **SAA**: ``saa_layers`` pre-norm blocks of multi-head cross-attention, label
       features as queries and the tokens as keys and values, then an FFN.
    5. **Classifier**: ``logit_c = ⟨w_c, LN(f_c)⟩ + b_c``, one weight vector per label.

    ``sga_layers=0`` / ``saa_layers=0`` give the paper's ablations. ``forward`` returns
    the (B, n_labels) label logits; ``node_logits`` prepends the root's constant logit.

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    feature_shape : tuple of int
        The backbone's output shape for one sample, (C, H, W) or (D,).
    correlation : array-like or sparse matrix of shape (n_labels, n_labels), or int
        The re-weighted correlation ``Â`` (:func:`reweight_correlation`), non-negative;
        or the number of labels for SGA without a correlation (the ablation).
    dim : int, default=128
        Width of the label and spatial tokens.
    heads : int, default=4
        Attention heads of every layer.
    sga_layers, saa_layers : int, default=1
        Number of SGA (label-correlation) and SAA (spatial) attention layers.
    attention : {"mask", "bias"}, default="mask"
        How SGA uses ``Â`` (ignored without one).
    ffn_mult : int, default=2
        Width of the feed-forward sublayers, as a multiple of ``dim``.
    dropout : float, default=0.1
        Dropout probability.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skhier.neural.modules import CMSGModule
    >>> from skhier.neural.backbones import SmallCNN
    >>> m = CMSGModule(SmallCNN(width=8, n_blocks=2), (16, 14, 14), np.eye(3), dim=16, heads=2)
    >>> m(torch.zeros(2, 1, 28, 28)).shape, m.node_logits(torch.zeros(2, 1, 28, 28)).shape
    (torch.Size([2, 3]), torch.Size([2, 4]))
    """

    def __init__(self, backbone, feature_shape, correlation, *, dim=128, heads=4, sga_layers=1, saa_layers=1,
                 attention="mask", ffn_mult=2, dropout=0.1):
        super().__init__()
        if attention not in ("mask", "bias"):
            raise ValueError(f"attention must be 'mask' or 'bias', got {attention!r}")
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        if isinstance(correlation, (int, np.integer)) and not isinstance(correlation, bool):
            A, n_labels, attention = None, int(correlation), "none"
            if n_labels < 1:
                raise ValueError(f"correlation as a number of labels must be >= 1, got {correlation!r}")
        else:
            A = sp.csr_matrix(correlation, dtype=np.float32)
            if A.shape[0] != A.shape[1]:
                raise ValueError(f"correlation must be a square (n_labels, n_labels) matrix, got shape {A.shape}")
            if not np.isfinite(A.data).all():
                raise ValueError("correlation contains NaN or infinity")
            if (A.data < 0).any():
                raise ValueError("correlation must be non-negative (a re-weighted Â), got negative entries")
            n_labels = A.shape[0]
        if attention in ("bias", "none") and n_labels > MAX_BIAS_LABELS:
            what = "adds the correlation to" if attention == "bias" else "without a correlation computes"
            raise ValueError(
                f"attention={attention!r} {what} all n_labels² attention scores and takes at most "
                f"{MAX_BIAS_LABELS} labels, got {n_labels}; use attention='mask' with a correlation, which "
                "attends along the correlation's edges only"
            )
        self.attention = attention
        self.backbone = backbone
        channels = int(feature_shape[0])
        n_tokens = int(np.prod(feature_shape[1:])) if len(feature_shape) == 3 else 1
        self.input_proj = nn.Linear(channels, dim)
        self.position = nn.Parameter(torch.zeros(n_tokens, dim))
        self.class_scores = nn.Linear(dim, n_labels)
        self.label_embedding = nn.Parameter(torch.zeros(n_labels, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        nn.init.trunc_normal_(self.label_embedding, std=0.02)
        if attention == "bias":
            self.register_buffer("attn_bias", torch.as_tensor(A.toarray()))
        elif attention == "mask":  # the allowed pairs as an edge list: label i attends to j where Â[i, j] > 0
            A.eliminate_zeros()
            A.sort_indices()
            coo = A.tocoo()
            self.register_buffer("sga_rows", torch.as_tensor(coo.row, dtype=torch.long))
            self.register_buffer("sga_cols", torch.as_tensor(coo.col, dtype=torch.long))
            self.register_buffer("sga_log_weight", torch.log(torch.as_tensor(coo.data, dtype=torch.float32)))
        self.sga = nn.ModuleList(_Block(dim, heads, ffn_mult, dropout, cross=False) for _ in range(sga_layers))
        self.saa = nn.ModuleList(_Block(dim, heads, ffn_mult, dropout, cross=True) for _ in range(saa_layers))
        self.norm = nn.LayerNorm(dim)
        self.class_weight = nn.Parameter(torch.empty(n_labels, dim))
        self.class_bias = nn.Parameter(torch.zeros(n_labels))
        nn.init.trunc_normal_(self.class_weight, std=dim**-0.5)

    def tokens(self, x):
        feat = self.backbone(x)
        tokens = feat.flatten(2).transpose(1, 2) if feat.ndim == 4 else feat[:, None, :]
        return self.input_proj(tokens) + self.position

    def forward(self, x, targets=None):
        tokens = self.tokens(x)
        att = self.class_scores(tokens).softmax(dim=1)  # (B, T, L): each label's spatial weights
        feats = att.transpose(1, 2) @ tokens + self.label_embedding  # (B, L, dim)
        for block in self.sga:
            feats = block(feats, **self.sga_inputs(feats.dtype))
        for block in self.saa:
            feats = block(feats, kv=tokens)
        return (self.norm(feats) * self.class_weight).sum(-1) + self.class_bias

    def sga_inputs(self, dtype=torch.float32):
        """What an SGA block takes besides the features: the edges (mask) or the bias.

        Parameters
        ----------
        dtype : torch.dtype, default=torch.float32
            The features' dtype, which the dense bias is cast to.

        Returns
        -------
        kwargs : dict
            ``{"edges": (rows, cols, log_weights)}`` with ``attention="mask"``,
            ``{"attn_mask": bias}`` with ``attention="bias"``, ``{}`` without a
            correlation.

        Examples
        --------
        >>> import numpy as np
        >>> from skhier.neural.modules import CMSGModule
        >>> from skhier.neural.backbones import MLP
        >>> m = CMSGModule(MLP(2, 4), (4,), np.eye(3), dim=8, heads=2)
        >>> [t.tolist() for t in m.sga_inputs()["edges"]]
        [[0, 1, 2], [0, 1, 2], [0.0, 0.0, 0.0]]
        """
        if self.attention == "bias":
            return {"attn_mask": self.attn_bias.to(dtype)}
        if self.attention == "none":
            return {}
        return {"edges": (self.sga_rows, self.sga_cols, self.sga_log_weight)}

    def node_logits(self, x):
        return _with_root(self.forward(x))


class CMSGClassifier(MultiLabelNodeClassifier):
    """CMSG: hierarchical multi-label classification with SGA, SAA and the asymmetric loss.

    Every image holds several objects; its label is a node set of the taxonomy, closed
    under ancestors. The labels are the non-root nodes; their correlation matrix
    guides SGA's attention (:class:`CMSGModule`). Fit on a node-indicator ``y`` (dense
    or scipy sparse; rows not closed under ancestors are closed with a warning, rows
    without any label are refused); ``predict`` returns node sets in that format,
    ``predict_proba`` / ``transform`` per-node probabilities.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    correlation : {"embedding", "cooccurrence"}, array-like or None, default="embedding"
        The raw label correlation before :func:`reweight_correlation`:
        ``"embedding"`` (the paper's semantic correlation, §3.1), the cosine similarity
        of the labels' texts (their root paths) embedded by the bundled MiniLM sentence
        encoder (the paper used GloVe vectors, which do not ship offline; needs
        ``skhier[text]``, and without it ``fit`` says so and names the alternatives);
        ``"cooccurrence"``, ``P(j | i)`` from the training labels (ML-GCN's; no
        dependency); an array over the non-root nodes in taxonomy order,
        (n_nodes - 1)², or over all nodes, n_nodes² (the root's row and column are
        dropped), binarised and re-weighted like the others; ``None``, SGA without any
        correlation (plain self-attention over all labels: the paper's "w/o correlation
        matrix" ablation, at most :data:`~skhier.neural._cmsg.MAX_BIAS_LABELS` labels).
    tau : float, default=0.4
        Binarisation threshold of the correlation.
    p : float, default=0.25
        Re-weighted mass of each column of the binarised correlation (ML-GCN's ``p``);
        it sets how much a label draws on its correlated labels against itself.
    n_neighbors : "auto", int or None, default="auto"
        The semantic (``"embedding"``) correlation keeps, per label, at most this many
        most similar labels (exact top-k by cosine) that also pass ``tau``. Our choice,
        not the paper's (it is silent on scale): MiniLM cosines of root-path prompts share
        their prefixes, so ``tau`` alone kept 94 % of the Fashion-MNIST taxonomy's pairs
        and 99.8 % at 1,110 labels, a mask that masks nothing and grows as n_labels².
        ``"auto"`` keeps ``min(10, ⌈√n_labels⌉)`` per label: the same rule at every size,
        O(n_labels) kept pairs. ``None``: ``tau`` alone (the paper's reading).
    attention : {"mask", "bias"}, default="mask"
        How SGA uses the correlation (see :class:`CMSGModule`).
    criterion : {"asl", "bce"}, loss class or module, default="asl"
        :class:`~skhier.neural.losses.AsymmetricLoss` with the ASL paper's γ− = 4,
        γ+ = 0, m = 0.05 and detached focusing by default; ``criterion__*`` reach it.
    module : class, default=CMSGModule
        ``module__*`` parameters reach it (see below).
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        Best with a spatial map ((C, H, W) output); ``"auto"`` picks the CNN for images.
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.
    consistency : {"fill", "prune"}, default="fill"
        How predicted node sets are made coherent: ``"fill"`` adds the missing ancestors
        of every predicted node, ``"prune"`` drops the nodes under an unpredicted one.
    memory : str, joblib.Memory or None, default=None
        Cache of the label-text embeddings across processes (as ``Pipeline(memory=)``);
        in one process they are computed once per taxonomy anyway (refits, clones in a
        grid search and HCCF on the same taxonomy reuse them).
    **kwargs
        Every parameter of :class:`~skhier.neural.MultiLabelHierarchicalNet` and skorch:
        ``module__dim``, ``module__heads``, ``module__sga_layers``,
        ``module__saa_layers``, ``lr``, ``max_epochs``, ``device``, ...

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Every taxonomy node (the indicator's columns).
    correlation_ : scipy.sparse.csr_matrix of shape (n_nodes - 1, n_nodes - 1) or None
        The re-weighted correlation ``Â`` SGA uses.
    label_format_ : LabelFormat
    module_ : CMSGModule
    criterion_ : nn.Module
    history_ : skorch History

    Notes
    -----
    Nothing here is quadratic in the labels with the default ``attention="mask"``: the
    co-occurrence and the re-weighted ``Â`` are sparse, and SGA attends along ``Â``'s
    edges only (O(B · nnz(Â) · dim) per layer), so a 10⁵-node taxonomy trains. The
    ``"embedding"`` correlation keeps each label's ``n_neighbors`` most similar labels
    (exact blocked search up to 20,000 labels, faiss's HNSW above when the ``ann`` extra
    is installed), and ``attention="bias"`` scores every pair, so it takes at most
    :data:`MAX_BIAS_LABELS` labels. The cost that stays is CMSG's own: every sample carries
    a ``dim``-wide feature per label through the attention blocks, O(samples · labels ·
    dim²) time and O(batch · (labels + edges) · dim) memory; ``batch_size="auto"`` caps the
    batch so that one batch's activations stay under 2 GiB (:data:`AUTO_BATCH_BYTES`): 6
    samples at 11,110 labels with the default ten neighbours, 1 at 10⁵ (a batch of 16 is
    left alone up to ~4,200 labels, one of 256 up to ~260); an epoch of 300 samples at
    111,110 labels takes about 45 minutes on 2 CPU cores (``docs/benchmarks/scaling.md``).

    References
    ----------
    Zhang et al., "Cross-modality semantic guidance for multi-label image
    classification"; Ridnik et al., "Asymmetric Loss for Multi-Label Classification",
    ICCV 2021; Chen et al., "Multi-Label Image Recognition with Graph Convolutional
    Networks" (ML-GCN), CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.labels import fill_ancestors
    >>> from skhier.neural import CMSGClassifier
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> rng = np.random.default_rng(0)
    >>> Y = np.zeros((40, tax.n_nodes), dtype=int)
    >>> Y[np.arange(40), rng.choice([tax.index("A1"), tax.index("B1")], 40)] = 1
    >>> Y = fill_ancestors(Y, tax)
    >>> X = rng.normal(size=(40, 1, 8, 8)).astype("float32")
    >>> # the default correlation="embedding" needs skhier[text]; co-occurrence needs nothing
    >>> clf = CMSGClassifier(tax, correlation="cooccurrence", max_epochs=1, device="cpu", random_state=0,
    ...                      backbone__width=4, backbone__n_blocks=2, module__dim=16).fit(X, Y)
    >>> clf.predict(X[:3]).shape, clf.correlation_.shape
    ((3, 6), (5, 5))
    """

    _parameter_rules = {"tau": Interval(-1, 1), "p": Interval(0, 1),
                        "n_neighbors": OneOf(Options("auto", None), Interval(1, integer=True)),
                        "correlation": OneOf(Options("embedding", "cooccurrence", None),
                                             InstanceOf(np.ndarray, list, tuple, sp.spmatrix, torch.Tensor,
                                                        what="an (n_labels, n_labels) array")),
                        "attention": Options("mask", "bias"), "memory": MEMORY_RULE}

    def __init__(self, taxonomy=None, *, correlation="embedding", tau=0.4, p=0.25, n_neighbors="auto",
                 attention="mask", criterion="asl", module=CMSGModule, backbone="auto", threshold=0.5,
                 consistency="fill", memory=None, **kwargs):
        super().__init__(taxonomy, criterion=criterion, module=module, backbone=backbone, threshold=threshold,
                         consistency=consistency, **kwargs)
        self.correlation = correlation
        self.tau = tau
        self.p = p
        self.n_neighbors = n_neighbors
        self.attention = attention
        self.memory = memory

    def _neighbors(self, n_labels):
        """The semantic correlation's labels kept per label (``n_neighbors="auto"``: min(10, ⌈√n⌉))."""
        if self.n_neighbors == "auto":
            return min(10, int(np.ceil(np.sqrt(n_labels))))
        return self.n_neighbors

    def _raw_correlation(self, encoded) -> np.ndarray:
        tax = self.taxonomy_
        n_labels = tax.n_nodes - 1
        spec = self.correlation
        if isinstance(spec, str):
            if spec == "cooccurrence":
                Y = encoded if sp.issparse(encoded) else tax.ancestor_matrix[encoded]
                return cooccurrence_correlation(sp.csr_matrix(Y)[:, 1:])
            if spec == "embedding":
                from .text import encode_label_texts, label_prompts

                needed_by = ('CMSGClassifier(correlation="embedding"), the paper\'s semantic correlation and the '
                             'default, (or pass correlation="cooccurrence" or your own matrix)')
                emb = encode_label_texts(label_prompts(tax), "minilm", needed_by=needed_by, memory=self.memory,
                                         verbose=self.verbose).double().cpu().numpy()
                return embedding_correlation(emb[1:], threshold=self.tau, n_neighbors=self._neighbors(n_labels))
            raise ValueError(f"correlation must be 'embedding', 'cooccurrence', an array or None, got {spec!r}")
        A = sp.csr_matrix(spec, dtype=np.float64) if sp.issparse(spec) else np.asarray(spec, dtype=np.float64)
        if A.shape == (tax.n_nodes, tax.n_nodes):
            A = A[1:, 1:]
        if A.shape != (n_labels, n_labels):
            raise ValueError(
                f"correlation must be a ({n_labels}, {n_labels}) array over the non-root nodes (or "
                f"({tax.n_nodes}, {tax.n_nodes}) over all nodes), got shape {A.shape}"
            )
        return A

    def _fit_labels(self, encoded):
        if self.correlation is None:
            self.correlation_ = None
        else:
            self.correlation_ = sp.csr_matrix(reweight_correlation(self._raw_correlation(encoded), tau=self.tau,
                                                                   p=self.p))
        if isinstance(self.batch_size, str) and self.batch_size == "auto":  # the user's batch is the user's
            n_labels = self.taxonomy_.n_nodes - 1
            dense = self.correlation_ is None or self.attention == "bias"  # every label pair is scored
            n_edges = n_labels**2 if dense else self.correlation_.nnz
            default = inspect.signature(CMSGModule).parameters["dim"].default  # the module's own width
            dim = getattr(self, "module__dim", default)
            self.batch_size_ = _memory_capped_batch(self.batch_size_, n_labels, n_edges,
                                                    dim if isinstance(dim, int) else default)

    def _module_defaults(self, backbone, feat_shape):
        corr = self.taxonomy_.n_nodes - 1 if self.correlation_ is None else self.correlation_
        return {"backbone": backbone, "feature_shape": feat_shape, "correlation": corr, "attention": self.attention}
