"""Data for the neural estimators: the batch size, datasets, batch iterators and splits.

A data path that wastes nothing: tensors in, batches sliced on the device.

skorch's default ``DataLoader`` indexes and collates one sample at a time; for image
batches on a GPU that costs more than the forward pass. :class:`NodeDataset` holds whole
tensors (on the GPU when they fit, in pinned memory otherwise) and
:class:`TensorBatchIterator` yields batches by indexing them with a permutation, so no
batch makes a round trip through numpy or Python lists.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch.dataset import ValidSplit

from .._docs import fill_doc

__all__ = [
    "NodeDataset",
    "TensorBatchIterator",
    "HierarchicalBatchIterator",
    "HierarchicalValidSplit",
    "auto_batch_size",
]


def auto_batch_size(n_samples: int) -> int:
    """The batch size of ``batch_size="auto"``: about 64 steps an epoch, 16 to 256.

    Small data sets get small batches so that a first fit of ``max_epochs`` epochs takes
    enough optimiser steps to learn; large ones the usual 256.

    Parameters
    ----------
    n_samples : int
        Number of samples.

    Returns
    -------
    batch_size : int
        The batch size of ``batch_size="auto"``: about 64 steps an epoch, 16 to 256.

    Examples
    --------
    >>> from skhier.neural.data import auto_batch_size
    >>> auto_batch_size(1800), auto_batch_size(60000)
    (32, 256)
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}")
    return int(np.clip(2 ** round(math.log2(max(n_samples, 1) / 64)), 16, 256))


def as_float_tensor(X, name="X") -> torch.Tensor:
    """``X`` as a float32 tensor (no copy when it already is one), checked for NaN/inf."""
    if isinstance(X, torch.Tensor):
        t = X
    else:
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
        if arr.dtype.kind == "O":  # numbers held as objects (pandas, lists of mixed types)
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be numeric: {err}") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"Complex data not supported: {name} has dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.float()
    elif t.dtype != torch.float32:
        if t.dtype == torch.float64 and t.numel():  # finite values beyond float32 would turn into inf
            big = t.abs().amax()
            if torch.isfinite(big) and big > torch.finfo(torch.float32).max:
                raise ValueError(f"{name} has values beyond float32's range (largest magnitude {float(big):.3g}, "
                                 f"float32 holds up to 3.4e38): rescale {name} (e.g. StandardScaler)")
        t = t.to(torch.float32)
    if t.ndim < 2:
        raise ValueError(
            f"{name} must have a sample axis and features, got shape {tuple(t.shape)}. Reshape your data either "
            "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it contains "
            "a single sample."
        )
    if t.numel() and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return t


class SparseRows:
    """A sparse matrix served by rows as dense float32 tensors: sparse X held once, densified per batch.

    What :class:`NodeDataset` holds for a scipy sparse ``X`` (a ``TfidfVectorizer``'s
    output): the matrix stays CSR on the host, and every batch the iterators take
    (``X[start:stop]``, ``X.index_select(0, rows)``) comes back dense, so memory grows
    with the batch, not with the dataset.

    Parameters
    ----------
    matrix : scipy sparse matrix of shape (n_samples, n_features)
        Finite values.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from skhier.neural.data import SparseRows
    >>> rows = SparseRows(sp.csr_matrix([[0, 1.5], [2, 0], [0, 0]]))
    >>> rows.shape, rows[1:3].tolist()
    (torch.Size([3, 2]), [[2.0, 0.0], [0.0, 0.0]])
    """

    ndim = 2
    device = torch.device("cpu")

    def __init__(self, matrix):
        import scipy.sparse as sp

        self.matrix = sp.csr_matrix(matrix, dtype=np.float32)

    @property
    def shape(self):
        return torch.Size(self.matrix.shape)

    def __len__(self):
        return self.matrix.shape[0]

    def __getitem__(self, key):
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        dense = torch.from_numpy(np.asarray(self.matrix[key].todense(), dtype=np.float32))
        return dense[0] if np.ndim(key) == 0 and not isinstance(key, slice) else dense

    def index_select(self, dim, index):
        """Rows ``index`` as a dense tensor (``dim`` must be 0).

        Parameters
        ----------
        dim : int
            Must be 0: rows are selected.
        index : tensor of int
            The rows.

        Returns
        -------
        rows : float32 tensor of shape (len(index), n_features)
            Rows ``index`` as a dense tensor (``dim`` must be 0).
        """
        if dim != 0:
            raise ValueError(f"SparseRows selects rows only (dim=0), got dim={dim}")
        return self[index]

    def numel(self):
        """The dense size (rows × features).

        Returns
        -------
        n : int
            The dense size (rows × features).
        """
        return int(np.prod(self.matrix.shape))


class NodeDataset(torch.utils.data.Dataset):
    """Inputs, training targets and the node index of every sample, as whole tensors.

    Parameters
    ----------
    X : tensor of shape (n_samples, ...)
        Input samples: images (n, C, H, W) or feature vectors (n, n_features).
    y : tensor of shape (n_samples, ...) or None
        Targets in the form the module's loss wants.
    strata : ndarray of shape (n_samples,) or None
        Node index of every sample: stratifies the validation split and scores it.
    split_seed : int or None, default=None
        Seeds a :class:`HierarchicalValidSplit` that has no ``random_state`` of its own
        (estimators pass their ``random_state``, so every ``fit`` and ``partial_fit``
        holds out the same samples).

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.data import NodeDataset
    >>> ds = NodeDataset(torch.zeros(4, 3), torch.arange(4))
    >>> len(ds), ds[2][1].item()
    (4, 2)
    """

    def __init__(self, X, y=None, strata=None, split_seed=None):
        self.X = X
        self.y = y
        self.strata = strata
        self.split_seed = split_seed

    def inputs(self, indices=None):
        """The inputs alone, sharing ``X`` (no copy): a prediction dataset.

        Parameters
        ----------
        indices : tensor of int, default=None
            The rows to keep; ``None`` keeps every row.

        Returns
        -------
        dataset : NodeDataset, or a Subset of one
            The inputs alone, sharing ``X`` (no copy): a prediction dataset.
        """
        alone = NodeDataset(self.X)
        return alone if indices is None else torch.utils.data.Subset(alone, indices.tolist())

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(()))

    def place(self, device, *, max_fraction=0.5) -> NodeDataset:
        """Move to ``device`` when the data fit in ``max_fraction`` of its free memory,
        else pin host memory so batches copy asynchronously.

        Parameters
        ----------
        device : str or torch.device
            Where the data should live (only CUDA devices move anything).
        max_fraction : float, default=0.5
            The largest share of the device's free memory the data may take.

        Returns
        -------
        self : NodeDataset
            This dataset, its tensors moved (``place`` works in place).
        """
        device = torch.device(device)
        if device.type != "cuda" or isinstance(self.X, SparseRows):
            return self  # sparse X stays on the host: every batch is densified, then moved
        nbytes = self.X.element_size() * self.X.numel()
        if self.y is not None:
            nbytes += self.y.element_size() * self.y.numel()
        free, _ = torch.cuda.mem_get_info(device)
        if nbytes <= max_fraction * free:
            self.X = self.X.to(device, non_blocking=True)
            self.y = None if self.y is None else self.y.to(device, non_blocking=True)
        elif not self.X.is_pinned():
            self.X = self.X.pin_memory()
            self.y = None if self.y is None else self.y.pin_memory()
        return self


def _base_and_indices(dataset):
    """The NodeDataset under (possibly nested) Subsets, and the indices they select."""
    idx = None
    while isinstance(dataset, torch.utils.data.Subset):
        sub = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)
        idx = sub if idx is None else sub[idx]
        dataset = dataset.dataset
    return dataset, idx


class TensorBatchIterator:
    """Iterate a :class:`NodeDataset` (or a Subset of one) in batches of whole tensors.

    A drop-in for skorch's ``iterator_train`` / ``iterator_valid``: skorch builds it as
    ``TensorBatchIterator(dataset, batch_size=..., shuffle=...)``. Other datasets fall back
    to a ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    dataset : NodeDataset or Subset of one
        The data to iterate over.
    batch_size : int, default=128
        Samples per training batch.
    shuffle : bool, default=False
        Draw a new permutation every epoch.
    drop_last : bool, default=False
        Drop the last batch when it is smaller than ``batch_size``.
    device : str or torch.device, default=None
        Where batches go (skorch's ``device``); ``None`` leaves them where the data are.
    channels_last : bool, default=False
        Give 4-D batches the channels-last memory format.
    seed : int, default=None
        Seeds the shuffling permutation (advanced once per epoch).
    transform : callable, default=None
        Applied to every input batch on the device (the estimators' ``train_transform``
        reaches their training iterator this way).
    x_key : str, default=None
        When set, batches of a dataset with targets come as
        ``({x_key: X, "targets": y}, y)``: skorch merges that dict into the module's
        ``forward(x, targets=None)`` (teacher forcing and target-aware losses), its step
        bodies unchanged; ``x_key`` is the name of ``forward``'s inputs parameter.
        Datasets without targets (predictions) still give ``(X, zeros)``.
    num_shards, shard : int, default=1, 0
        Data-parallel training: of the batches of one permutation (the same ``seed`` in
        every process), this iterator yields numbers ``shard, shard + num_shards, ...``.
        Every shard yields the same number of batches, the last ones wrapping round to
        the first batches (as accelerate's ``even_batches``), so that no process waits
        for a gradient step the others never take.
    **loader_kwargs
        Passed to the ``DataLoader`` that serves datasets other than NodeDataset.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.data import NodeDataset, TensorBatchIterator
    >>> ds = NodeDataset(torch.arange(10.).reshape(5, 2), torch.arange(5))
    >>> [tuple(b[1].tolist()) for b in TensorBatchIterator(ds, batch_size=2)]
    [(0, 1), (2, 3), (4,)]
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False, device=None,
                 channels_last=False, seed=None, transform=None, x_key=None, num_shards=1, shard=0,
                 **loader_kwargs):
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard must be in [0, num_shards={num_shards}), got {shard!r}")
        self.num_shards = num_shards
        self.shard = shard
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = device
        self.channels_last = channels_last
        self.seed = seed
        self.transform = transform
        self.x_key = x_key
        self.loader_kwargs = loader_kwargs
        self._epoch = 0

    def _n_batches(self, n, size):
        return n // size if self.drop_last else -(-n // size)

    def __len__(self):
        return -(-self._n_batches(len(self.dataset), self.batch_size) // self.num_shards)

    def _spans(self, n, size):
        """(start, stop) of the batches of this shard among ``n`` items in batches of ``size``."""
        n_batches, k = self._n_batches(n, size), self.num_shards
        for j in range(-(-n_batches // k)):
            b = (j * k + self.shard) % n_batches
            yield b * size, min((b + 1) * size, n)

    def _batch(self, xb, yb, dev):
        """One batch on ``dev``: channels-last and ``transform`` applied, targets in X if asked."""
        xb = xb.to(dev, non_blocking=True)
        if self.channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        if self.transform is not None:
            xb = self.transform(xb)
        if yb is None:
            return xb, torch.zeros(xb.shape[0], device=dev)
        yb = yb.to(dev, non_blocking=True)
        return ({self.x_key: xb, "targets": yb} if self.x_key else xb), yb

    def __iter__(self):
        base, idx = _base_and_indices(self.dataset)
        if not isinstance(base, NodeDataset):
            loader = torch.utils.data.DataLoader(
                self.dataset, batch_size=self.batch_size, shuffle=self.shuffle,
                drop_last=self.drop_last, **self.loader_kwargs,
            )
            yield from loader
            return
        X, y = base.X, base.y
        n = X.shape[0] if idx is None else idx.numel()
        if self.shuffle:
            gen = torch.Generator()
            if self.seed is not None:
                gen.manual_seed(self.seed + self._epoch)
            else:
                gen.seed()
            order = torch.randperm(n, generator=gen)
            idx = order if idx is None else idx[order]
        self._epoch += 1
        if idx is not None:
            idx = idx.to(X.device)
        dev = torch.device(self.device) if self.device is not None else X.device
        for start, stop in self._spans(n, self.batch_size):
            if idx is None:
                xb = X[start:stop]
                yb = None if y is None else y[start:stop]
            else:
                sel = idx[start:stop]
                xb = X.index_select(0, sel)
                yb = None if y is None else y.index_select(0, sel.to(y.device))
            yield self._batch(xb, yb, dev)


class HierarchicalValidSplit(ValidSplit):
    """skorch's ``ValidSplit``, stratified by the node of every sample.

    Works whatever the label format (2-D paths included), since it stratifies on
    ``dataset.strata``, the node index of every sample; it falls back to a plain random
    split when some node has a single sample or the validation part is smaller than the
    number of nodes.

    Parameters
    ----------
    cv : float, default=0.1
        Fraction of the samples held out for validation.
    stratified : bool, default=True
        Stratify by node where every node has enough samples.
    random_state : int or None, default=None
        None takes the dataset's ``split_seed`` (the estimator's ``random_state``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skhier.neural.data import HierarchicalValidSplit, NodeDataset
    >>> ds = NodeDataset(torch.zeros(20, 2), torch.zeros(20), strata=np.repeat([1, 2], 10))
    >>> train, valid = HierarchicalValidSplit(0.2, random_state=0)(ds)
    >>> len(train), len(valid), sorted(ds.strata[valid.indices].tolist())
    (16, 4, [1, 1, 2, 2])
    """

    def __init__(self, cv=0.1, stratified=True, random_state=None):
        super().__init__(cv=cv, stratified=stratified, random_state=random_state)

    def __call__(self, dataset, y=None, groups=None):
        base, idx = _base_and_indices(dataset)
        seed = self.random_state if self.random_state is not None else getattr(base, "split_seed", None)
        n = len(dataset)
        strata = getattr(base, "strata", None)
        if strata is not None and idx is not None:
            strata = strata[idx.numpy()]
        if not isinstance(self.cv, float) or not 0 < self.cv < 1:
            raise ValueError(f"cv must be a float in (0, 1), got {self.cv!r}")
        n_valid = int(np.ceil(self.cv * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                f"the validation split ({self!r}) holds out {self.cv:g} of {n} sample(s), which leaves "
                f"{'no training' if n - n_valid < 1 else 'no validation'} sample; give more samples, or pass "
                "train_split=None to train on every sample without validation"
            )
        stratify = None
        if self.stratified and strata is not None:
            _, counts = np.unique(strata, return_counts=True)
            if (
                counts.min() >= 2
                and int(np.floor(self.cv * n)) >= counts.size
                and n - int(np.ceil(self.cv * n)) >= counts.size
            ):
                stratify = strata
        idx_train, idx_valid = train_test_split(
            np.arange(n), test_size=self.cv, random_state=seed, stratify=stratify
        )
        return torch.utils.data.Subset(dataset, idx_train), torch.utils.data.Subset(dataset, idx_valid)


@fill_doc
class HierarchicalBatchIterator(TensorBatchIterator):
    """Batches built so that every level of the taxonomy has positives (contrastive losses).

    Each batch is made of groups of ``L + 2`` samples (L the taxonomy's depth): an
    anchor; a sample with the same label (the same full path); for every level
    ``h = L − 1, ..., 1`` a sample that shares the anchor's path down to level ``h``
    and no further (its "cousin" at level h: the same parent for ``h = L − 1``, only
    the same top-level node for ``h = 1``); and one from another top-level node
    ("elsewhere"). So after a hierarchical loss keeps one sample per distinct prefix
    (:class:`~skhier.neural.losses.HMCELoss`), every anchor still has a positive at
    every level. Where the data hold no such sample (a class with one image, an only
    child, an anchor shallower than ``h``) the slot gets a uniformly random sample.
    Anchors are a random permutation of the data, ``ceil(n / (L + 2))`` an epoch, so
    an epoch has about ``n`` samples; picks are vectorised (a sort by ancestors and
    index arithmetic, no loop over samples).

    A drop-in for ``iterator_train`` of any skhier estimator: the estimator passes its
    taxonomy and device (``iterator_train=HierarchicalBatchIterator``).

    Parameters
    ----------
    dataset : NodeDataset or Subset of one
        Its ``strata`` give every sample's node.
    batch_size : int, default=128
        Rounded down to whole groups; at least ``L + 2``.
    %(taxonomy)s
    shuffle : bool, default=True
        Ignored: batches are always random (kept for skorch's signature).
    drop_last, device, channels_last, seed
        As in :class:`TensorBatchIterator`.
    **loader_kwargs
        As in :class:`TensorBatchIterator` (``transform``, ``x_key``, sharding).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.data import HierarchicalBatchIterator, NodeDataset
    >>> tax = Taxonomy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"]])
    >>> nodes = np.array([tax.index(v) for v in ["a1", "a1", "a2", "a2", "b1", "b1"]])
    >>> ds = NodeDataset(torch.zeros(6, 2), torch.as_tensor(nodes), strata=nodes)
    >>> batch = next(iter(HierarchicalBatchIterator(ds, batch_size=4, taxonomy=tax, seed=0)))[1]
    >>> [tax.nodes[i] for i in batch.tolist()]
    ['a2', 'a2', 'a1', 'b1']
    """

    def __init__(self, dataset, batch_size=128, taxonomy=None, shuffle=True, drop_last=False, device=None,
                 channels_last=False, seed=None, **loader_kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=True, drop_last=drop_last, device=device,
                         channels_last=channels_last, seed=seed, **loader_kwargs)
        if taxonomy is None:
            raise ValueError("HierarchicalBatchIterator needs the taxonomy (skhier estimators pass theirs)")
        self.taxonomy = taxonomy
        self.group = int(taxonomy.max_depth) + 2
        if batch_size < self.group:
            raise ValueError(
                f"batch_size={batch_size} is too small for hierarchical batches: one anchor's group needs "
                f"depth + 2 = {self.group} samples (anchor, same label, a cousin per level, elsewhere)"
            )
        base, idx = _base_and_indices(dataset)
        strata = getattr(base, "strata", None)
        if not isinstance(base, NodeDataset) or strata is None:
            raise TypeError("HierarchicalBatchIterator needs a NodeDataset with the node of every sample (strata)")
        self._nodes = np.asarray(strata if idx is None else strata[idx.numpy()])
        self._paths = np.asarray(taxonomy.path_indices)[self._nodes]  # (n, L + 1), -1 below a sample's depth
        self._idx = idx

    def __len__(self):
        per_batch = self.batch_size // self.group
        return -(-self._n_batches(self._n_anchors(), per_batch) // self.num_shards)

    def _n_anchors(self):
        return -(-len(self._nodes) // self.group)

    def groups(self, rng: np.random.Generator) -> np.ndarray:
        """Positions in the dataset of every anchor's group: anchor, same label, cousins, elsewhere.

        Parameters
        ----------
        rng : numpy.random.Generator
            The randomness of this epoch.

        Returns
        -------
        groups : ndarray of int of shape (n_anchors, L + 2)
            Positions in the dataset of every anchor's group: anchor, same label, cousins, elsewhere.
        """
        nodes, paths = self._nodes, self._paths
        n = nodes.size
        depth = self.taxonomy.max_depth
        anchors = rng.permutation(n)[: self._n_anchors()]
        picks = [anchors]
        # same label: same end node, another sample
        picks.append(self._pick(rng, anchors, nodes, None))
        # the cousin at level h (share levels <= h, differ at h + 1), h = L - 1, ..., 0 (elsewhere)
        for h in range(depth - 1, -1, -1):
            picks.append(self._pick(rng, anchors, paths[:, h], paths[:, h + 1]))
        return np.stack(picks, axis=1)

    @staticmethod
    def _pick(rng, anchors, key, sub):
        """For every anchor a random sample with its ``key`` and (if ``sub``) another ``sub``.

        Samples sorted by (key, sub): an anchor's candidates are its key's run minus its
        own sub-run (minus itself when ``sub`` is None); a uniform rank among them maps
        back to a position by skipping the excluded run. No candidate → uniform sample.
        """
        n = key.size
        sub_key = np.zeros(n, dtype=np.int64) if sub is None else sub
        order = np.lexsort((sub_key, key))
        k_sorted, s_sorted = key[order], sub_key[order]
        a_key, a_sub = key[anchors], sub_key[anchors]
        start = np.searchsorted(k_sorted, a_key, "left")
        stop = np.searchsorted(k_sorted, a_key, "right")
        if sub is None:  # exclude the anchor itself
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n)
            ex_start = rank[anchors]
            ex_len = np.ones_like(ex_start)
        else:  # exclude the anchor's sub-run within its key run
            combined = k_sorted.astype(np.int64) * (int(s_sorted.max()) + 2) + (s_sorted + 1)
            a_comb = a_key.astype(np.int64) * (int(s_sorted.max()) + 2) + (a_sub + 1)
            ex_start = np.searchsorted(combined, a_comb, "left")
            ex_len = np.searchsorted(combined, a_comb, "right") - ex_start
        valid_key = a_key >= 0
        m = np.where(valid_key, (stop - start) - ex_len, 0)
        r = (rng.random(anchors.size) * np.maximum(m, 1)).astype(np.int64)
        pos = start + r
        pos = np.where(pos >= ex_start, pos + ex_len, pos)
        out = order[np.clip(pos, 0, n - 1)]
        fallback = rng.integers(0, n, anchors.size)
        return np.where(m > 0, out, fallback)

    def __iter__(self):
        base, _ = _base_and_indices(self.dataset)
        gen = np.random.default_rng(None if self.seed is None else self.seed + self._epoch)
        self._epoch += 1
        groups = self.groups(gen)
        per_batch = self.batch_size // self.group
        X, y = base.X, base.y
        dev = torch.device(self.device) if self.device is not None else X.device
        for start, stop in self._spans(groups.shape[0], per_batch):
            pos = torch.as_tensor(groups[start:stop].reshape(-1))
            sel = pos if self._idx is None else self._idx[pos]
            yield self._batch(X.index_select(0, sel.to(X.device)), y.index_select(0, sel.to(y.device)), dev)
