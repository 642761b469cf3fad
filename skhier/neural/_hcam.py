"""HCAM-CL: CNN features, two-layer hierarchical cross-attention and an LSTM that decodes
the label path as a sequence (HCAM-CL paper, §3), with decoding constrained to the taxonomy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ._kinds import HierarchicalNet

__all__ = ["HCAMCLModule", "PathNLLLoss", "HCAMCLClassifier", "path_tokens"]


def path_tokens(nodes, path_indices) -> np.ndarray:
    """Output tokens of the label path of every node: node indices below the root, then
    0 (NULL) to the end.

    Parameters
    ----------
    nodes : array-like of int
        Node index of every sample.
    path_indices : ndarray of shape (n_nodes, max_depth + 1)
        Root-first paths, -1 padded (``Taxonomy.path_indices``).

    Returns
    -------
    tokens : ndarray of shape (n_samples, max_depth)
        Token ids, one row per sample.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.neural.modules import path_tokens
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", ""]])
    >>> path_tokens([2, 3], tax.path_indices).tolist()
    [[1, 2], [3, 0]]
    """
    toks = np.asarray(path_indices)[np.asarray(nodes, dtype=np.int64), 1:]
    return np.where(toks < 0, 0, toks)


class HCAMCLModule(nn.Module):
    """HCAM-CL's decoder over a backbone, constrained to a tree.

    At step ``t`` the input token ``w_t`` is the previous label (the root acts as the
    START token). Layer 1 of the hierarchical cross-attention queries the image features
    with ``q_t = w_t + U h_{t-1}`` (the current label and the LSTM's previous output) and
    adds the query back before a LayerNorm (eq. 2-3); layer 2 queries the same features
    with its output ``Z`` and adds ``Z`` back before a LayerNorm, giving ``v_t``
    (eq. 4-6). An LSTM cell reads ``[v_t; w_t]`` (eq. 7) and two fully connected layers
    over ``[h_{t-1}; v_t; w_t]`` score the next label (eq. 8). Output token 0 is NULL
    (the path has ended). Logits of tokens the tree forbids after the previous node
    (anything but its children, plus NULL after a leaf, or after an internal node when
    internal stops are allowed) are set to ``-inf``, so every decoded path is valid.

    The attention never projects the feature tokens to keys and values: it carries each
    query back to the token space, the same function at a fraction of the cost
    (:meth:`memory`).

    Feature maps (B, C, H, W) become H·W tokens with a learned position embedding; a
    (B, D) feature vector becomes one token.

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    feature_shape : tuple of int
        The backbone's output shape for one sample.
    parent : sequence of int
        Parent index of every node, -1 for the root at index 0; nodes in pre-order.
    allow_internal_stop : bool, default=False
        Whether a path may end at an internal node (non-mandatory leaf labels).
    d_model : int, default=128
        Width of the label embeddings and of the attention.
    n_heads : int, default=4
        Attention heads of the cross-attention layers.
    n_attention_layers : {0, 1, 2}, default=2
        2 is the paper's model; 1 drops the second layer; 0 replaces attention by the
        globally pooled features (the paper's ablation).
    hidden_size : int, default=256
        LSTM hidden size.
    fc_hidden : int, default=256
        Width of the first of the two output layers.
    dropout : float, default=0.1
        Dropout probability.
    decoding : {"auto", "exact", "beam"}, default="auto"
        How ``end_log_probs`` turns step distributions into path probabilities: exactly,
        by visiting every internal node once per sample, or by beam search. ``"auto"``
        is exact up to ``exact_max_nodes`` nodes.
    beam_width : int, default=5
        Paths kept per step by ``decoding="beam"``.
    exact_max_nodes : int, default=512
        Largest taxonomy decoded exactly by ``decoding="auto"``.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.modules import HCAMCLModule
    >>> from skhier.neural.backbones import SmallCNN
    >>> m = HCAMCLModule(SmallCNN(n_blocks=2), (64, 14, 14), parent=[-1, 0, 0, 1, 1])
    >>> p = m.end_log_probs(torch.zeros(2, 1, 28, 28)).exp()  # every path's probability
    >>> torch.allclose(p.sum(1), torch.ones(2))
    True
    """

    def __init__(
        self,
        backbone,
        feature_shape,
        parent,
        allow_internal_stop=False,
        d_model=128,
        n_heads=4,
        n_attention_layers=2,
        hidden_size=256,
        fc_hidden=256,
        dropout=0.1,
        decoding="auto",
        beam_width=5,
        exact_max_nodes=512,
    ):
        super().__init__()
        if n_attention_layers not in (0, 1, 2):
            raise ValueError(f"n_attention_layers must be 0, 1 or 2, got {n_attention_layers!r}")
        if decoding not in ("auto", "exact", "beam"):
            raise ValueError(f"decoding must be 'auto', 'exact' or 'beam', got {decoding!r}")
        parent = np.asarray(parent, dtype=np.int64)
        n = parent.size
        self.n_nodes = n
        self.n_attention_layers = n_attention_layers
        self.decoding = decoding
        self.beam_width = int(beam_width)
        self.exact_max_nodes = int(exact_max_nodes)
        self.backbone = backbone
        # ---- the tree: allowed next tokens given the previous token
        is_leaf = np.ones(n, dtype=bool)
        is_leaf[parent[1:]] = False
        depth = np.zeros(n, dtype=np.int64)
        for i in range(1, n):
            depth[i] = depth[parent[i]] + 1
        self.max_steps = int(depth.max())
        if self.max_steps == 0:
            raise ValueError("the taxonomy has a single node: there is no label path to decode")
        # Allowed next tokens are never tabulated ((n + 1) x n would be quadratic in the
        # taxonomy): a step allows the children of its input token (``parent == token``)
        # and NULL where ``may_stop[token]``; input token n is NULL (the path has ended).
        may_stop = np.zeros(n + 1, dtype=bool)
        may_stop[:n] = is_leaf | (allow_internal_stop & (np.arange(n) > 0))
        may_stop[n] = True
        self.register_buffer("may_stop", torch.as_tensor(may_stop))
        self.register_buffer("is_leaf", torch.as_tensor(is_leaf))
        self.register_buffer("parent", torch.as_tensor(parent))
        # exact decoding visits the internal nodes level by level; per level: the nodes, and
        # for each of their children its parent's position in the level and its index
        self._levels = self.max_steps
        for d in range(self.max_steps):
            nodes = np.flatnonzero((depth == d) & ~is_leaf)
            pos_of = {v: i for i, v in enumerate(nodes)}
            kids = np.flatnonzero(np.isin(parent, nodes) & (np.arange(n) > 0))
            self.register_buffer(f"_lvl{d}", torch.as_tensor(nodes), persistent=False)
            self.register_buffer(f"_kids{d}", torch.as_tensor(kids), persistent=False)
            self.register_buffer(f"_kidpos{d}", torch.as_tensor([pos_of[p] for p in parent[kids]], dtype=torch.long),
                                 persistent=False)
        # ---- layers
        if len(feature_shape) == 3:
            c, h, w = (int(s) for s in feature_shape)
            n_tokens = h * w
        elif len(feature_shape) == 1:
            c, n_tokens = int(feature_shape[0]), 1
        else:
            raise ValueError(f"feature_shape must be (C, H, W) or (D,), got {feature_shape}")
        self.feature_proj = nn.Linear(c, d_model)
        self.position = nn.Parameter(torch.zeros(1, n_tokens, d_model))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.embed = nn.Embedding(n + 1, d_model)
        self.query_from_h = nn.Linear(hidden_size, d_model)
        self.init_h = nn.Linear(d_model, hidden_size)
        self.init_c = nn.Linear(d_model, hidden_size)
        if n_attention_layers >= 1:
            self.attn1 = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
            self.norm1 = nn.LayerNorm(d_model)
        if n_attention_layers == 2:
            self.attn2 = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
            self.norm2 = nn.LayerNorm(d_model)
        if n_attention_layers == 0:
            self.global_proj = nn.Linear(d_model, d_model)
        self.lstm = nn.LSTMCell(2 * d_model, hidden_size)
        self.out = nn.Sequential(
            nn.Linear(hidden_size + 2 * d_model, fc_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(fc_hidden, n),
        )

    # ---------------------------------------------------------------- pieces
    def encode(self, x):
        """Features as (B, tokens, d_model) and the initial LSTM state.

        Parameters
        ----------
        x : tensor of shape (B, ...)
            A batch of inputs.

        Returns
        -------
        feats : tensor of shape (B, tokens, d_model)
            Features as (B, tokens, d_model) and the initial LSTM state.
        state : tuple of two tensors of shape (B, hidden_size)
            The LSTM's hidden and cell states.
        """
        f = self._backbone_tokens(x)
        f = self.feature_proj(f) + self.position
        pooled = f.mean(dim=1)
        return f, (torch.tanh(self.init_h(pooled)), torch.tanh(self.init_c(pooled)))

    def _backbone_tokens(self, x):
        f = self.backbone(x)
        return f.flatten(2).transpose(1, 2) if f.ndim == 4 else f[:, None, :]

    def _encode_memory(self, x):
        """:meth:`encode`'s features as the cheaper of two memories for this shape: a
        :class:`_Tokens` memory (the backbone's tokens, never projected to d_model, with
        ``feature_proj`` and the position embedding beside: many tokens, a CNN's map), or
        the features with their keys and values projected once (:class:`_KeyValues`: few
        tokens, a feature vector, where carrying every query back costs more than
        projecting the tokens). Decoding reads either through :meth:`_attend`."""
        tokens, width = self.position.shape[1], self.position.shape[2]
        # multiply-adds per sample and layer: projecting the tokens once, against carrying each query back
        carried = self.max_steps * self._heads() * (self.feature_proj.in_features + tokens)
        if self.n_attention_layers and tokens * 2 * width < carried:
            feats, state = self.encode(x)
            return _KeyValues.of(self, feats), state
        f = self._backbone_tokens(x).contiguous()
        pooled = self.feature_proj(f.mean(dim=1)) + self.position.mean(dim=1)  # = encode's features' mean
        memory = _Tokens(f, self.feature_proj.weight, self.feature_proj.bias, self.position[0], pooled)
        return memory, (torch.tanh(self.init_h(pooled)), torch.tanh(self.init_c(pooled)))

    def memory(self, feats):
        """What every decoding step attends to, prepared once per batch.

        Every step attends to the same feature map. Its keys ``W_k f + b_k`` and values
        ``W_v f + b_v`` are never formed (that projection of every token, tokens x
        d_model² per layer and step, was most of the model's cost): a head's scores
        ``q_h · (W_k,h f_s + b_k,h)`` equal ``(W_k,hᵀ q_h) · f_s`` up to a constant
        per query, which the softmax removes, and its output ``Σ_s a_s (W_v,h f_s + b_v,h)``
        is ``W_v,h (Σ_s a_s f_s) + b_v,h Σ_s a_s``. So the query is carried back to the
        token space instead: the same attention (eq. 2 and 4), exactly, dropout on the
        weights included. The training and decoding passes go one step further and never
        form the features ``f_s = W_f t_s + b_f + p_s`` either: the query is carried back
        through ``feature_proj`` to the backbone's tokens ``t_s``, with the position
        embedding's scores ``q · p_s`` beside.

        Parameters
        ----------
        feats : tensor of shape (B, tokens, d_model)
            The encoded features (:meth:`encode`).

        Returns
        -------
        memory : tuple
            The features as tokens, ready for every step.
        """
        if isinstance(feats, (_Tokens, _KeyValues)):
            return feats
        return _Tokens(feats.contiguous(), None, None, None, feats.mean(dim=1))

    def _heads(self):
        return self.attn1.num_heads if self.n_attention_layers else 1

    def _attend(self, attn, q, memory):
        """``attn`` (an ``nn.MultiheadAttention``, whose weights it uses) on queries (B, L,
        d_model) over the memory's tokens, without projecting the tokens (:meth:`memory`)."""
        d, heads, dh = attn.embed_dim, attn.num_heads, attn.head_dim
        w_q, w_k, w_v = attn.in_proj_weight.split(d)
        b_q, _, b_v = attn.in_proj_bias.split(d)  # the key bias shifts a query's scores alike: no effect
        b, L = q.shape[:2]
        p = attn.dropout if self.training else 0.0
        if isinstance(memory, _KeyValues):  # keys and values projected once: nn.MultiheadAttention's own path
            k, v = memory.kv[0 if attn is self.attn1 else 1]
            q = nn.functional.linear(q, w_q, b_q).view(b, L, heads, dh).transpose(1, 2)
            o = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=p)
            return attn.out_proj(o.transpose(1, 2).reshape(b, L, d))
        q = nn.functional.linear(q, w_q, b_q).view(b, L, heads, dh)
        q = torch.einsum("blhe,hed->bhld", q, w_k.view(heads, dh, d)) * dh**-0.5  # W_k,hᵀ q_h / sqrt(d_head)
        q = q.reshape(b, heads * L, d)
        if memory.weight is None:
            context, dropped = _TokenAttention.apply(q, memory.tokens, None, p)
        else:  # through feature_proj to the backbone's tokens; b_f shifts the scores alike
            context, dropped = _TokenAttention.apply(q @ memory.weight, memory.tokens, q @ memory.position.T, p)
        mass = dropped.sum(dim=-1)  # Σ_s a'_s: 1 without dropout
        if memory.weight is not None:
            context = context @ memory.weight.T + memory.bias * mass[..., None] + dropped @ memory.position
        out = torch.einsum("bhld,hed->blhe", context.view(b, heads, L, d), w_v.view(heads, dh, d))
        out = out + b_v.view(heads, dh) * mass.view(b, heads, L).transpose(1, 2)[..., None]
        return attn.out_proj(out.reshape(b, L, d))

    def step(self, feats, token, state):
        """One decoding step: masked next-token logits and the new LSTM state.

        Parameters
        ----------
        feats : tensor of shape (B, tokens, d_model)
            The encoded features (:meth:`encode`) or their :meth:`memory`.
        token : tensor of int of shape (B,) or (B, L)
            The previous label of every sample (0, the root, at the start); (B, L): L
            decoding states per sample (the nodes of a level, beams) share its features.
        state : tuple of two tensors of shape (B, hidden_size) or (B, L, hidden_size)
            The LSTM state.

        Returns
        -------
        logits : tensor of shape (B, n_nodes) or (B, L, n_nodes)
            Logits, one per node.
        state : tuple of two tensors
            The LSTM's hidden and cell states.
        """
        memory = self.memory(feats)
        single = token.ndim == 1
        if single:
            token, state = token[:, None], (state[0][:, None], state[1][:, None])
        h, c = state
        b, L = token.shape
        w = self.embed(token)
        q = w + self.query_from_h(h)
        if self.n_attention_layers == 0:
            v = self.global_proj(memory.mean)[:, None, :].expand(b, L, -1)
        else:
            z = self.norm1(self._attend(self.attn1, q, memory) + q)
            if self.n_attention_layers == 2:
                z = self.norm2(self._attend(self.attn2, z, memory) + z)
            v = z
        logits = self.out(torch.cat([h, v, w], dim=-1))
        h2, c2 = self.lstm(torch.cat([v, w], dim=-1).flatten(0, 1), (h.flatten(0, 1), c.flatten(0, 1)))
        logits = logits.masked_fill(~self.allowed(token.flatten()).view(b, L, -1), -float("inf"))
        h2, c2 = h2.view(b, L, -1), c2.view(b, L, -1)
        if single:
            return logits[:, 0], (h2[:, 0], c2[:, 0])
        return logits, (h2, c2)

    def allowed(self, token):
        """Mask of the tokens the tree allows after each input token, in O(B · n_nodes).

        Parameters
        ----------
        token : tensor of int of shape (B,)
            Input tokens: node indices, or ``n_nodes`` for NULL (the path has ended).

        Returns
        -------
        mask : bool tensor of shape (B, n_nodes)
            The children of each token, and NULL (column 0) where the path may end.

        Examples
        --------
        >>> import torch
        >>> from skhier.neural.modules import HCAMCLModule
        >>> from skhier.neural.backbones import MLP
        >>> m = HCAMCLModule(MLP(2, 4), (4,), parent=[-1, 0, 0, 1], d_model=8, n_heads=2)
        >>> m.allowed(torch.tensor([0, 1, 3])).int().tolist()
        [[0, 1, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
        """
        mask = self.parent[None, :] == token[:, None]  # the children; parent[0] = -1 matches nothing
        mask[:, 0] = self.may_stop[token]
        return mask

    def forward(self, x, targets=None):
        """Teacher-forced masked logits (B, max_steps, n_nodes) for the target tokens.

        Parameters
        ----------
        x : tensor of shape (B, ...)
            A batch of inputs.
        targets : tensor of int of shape (B, max_steps), default=None
            The label path tokens; without them the greedy path is fed back instead.

        Returns
        -------
        logits : tensor of shape (B, max_steps, n_nodes)
            Logits, one per node.
        """
        memory, state = self._encode_memory(x)  # once for every step
        b = state[0].shape[0]
        token = torch.zeros(b, dtype=torch.long, device=state[0].device)  # START = the root
        out = []
        for t in range(self.max_steps):
            logits, state = self.step(memory, token, state)
            out.append(logits)
            nxt = targets[:, t] if targets is not None else logits.argmax(dim=1)
            token = torch.where(nxt == 0, torch.full_like(nxt, self.n_nodes), nxt)
        return torch.stack(out, dim=1)

    # ---------------------------------------------------------------- path probabilities
    def end_log_probs(self, x):
        """(B, n_nodes) log-probability that the decoded path ends at each node.

        Parameters
        ----------
        x : tensor of shape (B, ...)
            A batch of inputs.

        Returns
        -------
        log_probs : tensor of shape (B, n_nodes)
            Log-probabilities, one column per node.
        """
        use_exact = self.decoding == "exact" or (self.decoding == "auto" and self.n_nodes <= self.exact_max_nodes)
        return self._exact(x) if use_exact else self._beam(x)

    def _exact(self, x):
        memory, (h0, c0) = self._encode_memory(x)
        b, n = h0.shape[0], self.n_nodes
        reach = h0.new_full((b, n), -float("inf"), dtype=torch.float32)
        reach[:, 0] = 0.0
        end = torch.full_like(reach, -float("inf"))
        h_all = h0.new_zeros((b, n, h0.shape[1]))
        c_all = torch.zeros_like(h_all)
        h_all[:, 0], c_all[:, 0] = h0, c0
        for d in range(self._levels):
            nodes = getattr(self, f"_lvl{d}")
            k = nodes.numel()
            if k == 0:
                continue
            # the level's k internal nodes are k decoding states per sample over one feature map
            logits, (h2, c2) = self.step(memory, nodes.expand(b, k), (h_all[:, nodes], c_all[:, nodes]))
            logp = torch.log_softmax(logits.float(), dim=-1)
            base = reach[:, nodes]  # (b, k)
            kids, kk = getattr(self, f"_kids{d}"), getattr(self, f"_kidpos{d}")
            reach[:, kids] = base[:, kk] + logp[:, kk, kids]
            end[:, nodes] = base + logp[:, :, 0]
            h_all[:, kids] = h2[:, kk].to(h_all.dtype)
            c_all[:, kids] = c2[:, kk].to(c_all.dtype)
        end[:, self.is_leaf] = reach[:, self.is_leaf]
        return end

    def _beam(self, x):
        memory, state = self._encode_memory(x)
        b, n, k = state[0].shape[0], self.n_nodes, self.beam_width
        dev = state[0].device
        end = torch.full((b, n), -float("inf"), device=dev)
        token = torch.zeros(b, 1, dtype=torch.long, device=dev)  # (b, beams)
        score = torch.zeros(b, 1, device=dev)
        h, c = state[0][:, None], state[1][:, None]
        rows = torch.arange(b, device=dev)
        for _ in range(self.max_steps):
            nb = token.shape[1]
            logits, (h2, c2) = self.step(memory, token, (h, c))  # the beams share their sample's features
            logp = torch.log_softmax(logits.float(), dim=-1) + score[:, :, None]
            # NULL ends a beam at its current node
            stop = logp[:, :, 0]
            end.scatter_(1, token, torch.maximum(end.gather(1, token), stop))
            cand = logp.clone()
            cand[:, :, 0] = -float("inf")
            leaf_hit = self.is_leaf[None, None, :].expand_as(cand) & torch.isfinite(cand)
            if leaf_hit.any():  # a step into a leaf ends there (NULL is forced after it)
                leaf_scores = torch.where(leaf_hit, cand, torch.full_like(cand, -float("inf"))).amax(dim=1)
                end = torch.maximum(end, leaf_scores)
                cand = cand.masked_fill(leaf_hit, -float("inf"))
            flat = cand.view(b, nb * n)
            kk = min(k, flat.shape[1])
            top, idx = flat.topk(kk, dim=1)
            alive = torch.isfinite(top)
            if not alive.any():
                break
            beam, tok = idx // n, idx % n
            h = h2[rows[:, None], beam]
            c = c2[rows[:, None], beam]
            token = torch.where(alive, tok, torch.zeros_like(tok))
            score = torch.where(alive, top, torch.full_like(top, -float("inf")))
        return end


class _Tokens(NamedTuple):
    """HCAM-CL's attention memory: features ``f_s = weight t_s + bias + position_s`` kept
    as their tokens ``t_s`` (``weight`` None: the tokens are the features)."""

    tokens: torch.Tensor  # (B, S, C)
    weight: torch.Tensor | None  # (d_model, C)
    bias: torch.Tensor | None  # (d_model,)
    position: torch.Tensor | None  # (S, d_model)
    mean: torch.Tensor  # (B, d_model): the features' mean over tokens


class _KeyValues(NamedTuple):
    """HCAM-CL's attention memory for few tokens: the features, and every attention
    layer's keys and values (B, heads, tokens, d_head), projected once per batch."""

    feats: torch.Tensor
    kv: tuple
    mean: torch.Tensor

    @classmethod
    def of(cls, module, feats):
        kv = []
        for attn in (module.attn1, getattr(module, "attn2", None))[: module.n_attention_layers]:
            d = attn.embed_dim
            k, v = nn.functional.linear(feats, attn.in_proj_weight[d:], attn.in_proj_bias[d:]).chunk(2, dim=-1)
            kv.append(tuple(t.unflatten(-1, (attn.num_heads, attn.head_dim)).transpose(1, 2) for t in (k, v)))
        return cls(feats, tuple(kv), feats.mean(dim=1))


class _TokenAttention(torch.autograd.Function):
    """Softmax attention of queries (B, M, C) over tokens (B, S, C), plus optional score
    offsets (B, M, S), dropout on the weights as ``nn.functional.dropout`` draws it:
    returns ``Σ_s a'_s t_s`` and the weights ``a'``.

    Autograd's own backward writes two (B, S, C) gradients of the tokens per call (through
    the scores and through the weighted sum) and adds them; this one writes their sum with
    one batched product, the call's largest cost when M (heads x queries) is small. Every
    product reads contiguous operands: MKL's batched GEMM otherwise copies matrix by
    matrix. Under CUDA autocast it runs in float32."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, q, tokens, offset, p):
        q = q.contiguous()
        scores = torch.bmm(q, tokens.transpose(1, 2))
        weights = (scores if offset is None else scores + offset).softmax(dim=-1)
        if p > 0:
            keep = torch.empty_like(weights).bernoulli_(1 - p).div_(1 - p)  # F.dropout's draws and scaling
            dropped = weights * keep
        else:
            keep, dropped = None, weights
        ctx.has_offset = offset is not None
        ctx.save_for_backward(q, tokens, weights, keep)
        return torch.bmm(dropped, tokens), dropped

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, d_context, d_dropped):
        q, tokens, weights, keep = ctx.saved_tensors
        d_context = d_context.contiguous()
        dropped = weights if keep is None else weights * keep
        d_dropped = torch.bmm(d_context, tokens.transpose(1, 2)) + d_dropped
        d_weights = d_dropped if keep is None else d_dropped * keep
        d_scores = weights * (d_weights - (d_weights * weights).sum(dim=-1, keepdim=True))  # softmax's Jacobian
        d_q = torch.bmm(d_scores, tokens)
        # both paths to the tokens in one product: scoresᵀ q + weightsᵀ d_context
        d_tokens = torch.bmm(torch.cat([d_scores, dropped], dim=1).transpose(1, 2), torch.cat([q, d_context], dim=1))
        return d_q, d_tokens, (d_scores if ctx.has_offset else None), None


class PathNLLLoss(nn.Module):
    """Negative log-likelihood of the whole label path: the sum over steps of the
    cross-entropy of masked logits, averaged over samples (eq. 9 summed over steps).

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.modules import PathNLLLoss
    >>> logits = torch.zeros(1, 2, 3)
    >>> round(float(PathNLLLoss()(logits, torch.tensor([[1, 2]]))), 4)
    2.1972
    """

    def __init__(self):
        super().__init__()

    def forward(self, logits, targets):
        b, t, v = logits.shape
        nll = nn.functional.cross_entropy(logits.float().reshape(b * t, v), targets.reshape(-1), reduction="none")
        return nll.view(b, t).sum(dim=1).mean()


class HCAMCLClassifier(HierarchicalNet):
    """HCAM-CL: hierarchical cross-attention and an LSTM that decodes the label path.

    A CNN (or any backbone) extracts a feature map; at every level a two-layer
    hierarchical cross-attention relates the feature map to the current label, and an
    LSTM decodes the next label, from a START token down to the leaf, NULL-padded, so
    fixed- and variable-length paths both work (HCAM-CL paper, §3). Teacher forcing in
    training. Beyond the paper, decoding is constrained to the taxonomy, so every
    prediction is a valid path, and node probabilities come from the path distribution:
    exactly for small taxonomies, by beam search for large ones.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    module : class, default=HCAMCLModule
        The paper's network (``module__*`` parameters, below, reach it).
    criterion : class, default=PathNLLLoss
        The path's negative log-likelihood (eq. 9).
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    **kwargs
        Every parameter of :class:`~skhier.neural.HierarchicalNet` and skorch, and the
        module's: ``module__n_heads`` (4), ``module__n_attention_layers`` (2; 1 or 0
        for the paper's ablation), ``module__d_model`` (128, the label embedding and
        attention width), ``module__hidden_size`` (256, the LSTM), ``module__fc_hidden``,
        ``module__dropout``, ``module__decoding``, ``module__beam_width``.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        End nodes the decoder can reach, sorted (every non-root node when training paths
        stop at internal nodes, else the leaves): the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
    label_format_ : LabelFormat
    internal_stops_ : bool
        Whether some training label ends at an internal node; then paths may stop there.
    module_ : HCAMCLModule
    history_ : skorch History

    References
    ----------
    .. [1] HCAM-CL: a CNN-LSTM framework with hierarchical cross-attention for
       hierarchical image classification (``shared/papers/hcam-cl.txt``).

    Examples
    --------
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import HCAMCLClassifier
    >>> X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    >>> clf = HCAMCLClassifier(tax, max_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape, clf.predict_proba(X[:3]).shape, clf.transform(X[:3]).shape
    ((3,), (3, 4), (3, 7))
    """

    def __init__(self, taxonomy=None, *, module=HCAMCLModule, criterion=PathNLLLoss, backbone="auto", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _fit_labels(self, nodes):
        self.internal_stops_ = bool((~self.taxonomy_.is_leaf[nodes]).any())

    def _end_nodes(self):
        tax = self.taxonomy_
        return np.arange(1, tax.n_nodes) if self.internal_stops_ else np.asarray(tax.leaves)

    def _targets(self, nodes):
        return torch.as_tensor(path_tokens(nodes, self.taxonomy_.path_indices), dtype=torch.long)

    def _module_defaults(self, backbone, feat_shape):
        return {
            "backbone": backbone,
            "feature_shape": feat_shape,
            "parent": self.taxonomy_.parent.tolist(),
            "allow_internal_stop": bool(getattr(self, "internal_stops_", False)),
        }
