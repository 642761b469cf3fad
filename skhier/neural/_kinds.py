"""The three kinds of neural estimator, one per kind of output (:mod:`._protocols`).

:class:`HierarchicalNet` (a distribution over end nodes: single-label classifiers),
:class:`MultiLabelHierarchicalNet` (independent per-node probabilities) and
:class:`HierarchicalEncoderNet` (embeddings). Each is the shared base
(:mod:`._base`) plus its output's read-out: ``predict``/``predict_proba``/``transform``
and its validation scores. A method subclasses one of them (``docs/contributing.md``).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.metrics import average_precision_score
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet

from .._docs import fill_doc
from .._tree import greedy_descent, with_all_ancestors
from ..base import HierarchicalClassifierMixin, NodeScores, NodeScoresMixin
from ..labels import decode_labels
from ..metrics import HierarchicalMetricAccumulator
from ..utils.validation import Interval, Options
from ._base import _HierarchicalNetBase, _OutputKind
from ._protocols import EncoderModule, EndDistributionModule, NodeProbabilityModule

__all__ = ["HierarchicalNet", "MultiLabelHierarchicalNet", "HierarchicalEncoderNet"]


class HierarchicalNet(HierarchicalClassifierMixin, ClassifierMixin, TransformerMixin, _HierarchicalNetBase):
    """Base of the single-label neural classifiers: a distribution over end nodes.

    The module is an :class:`~skhier.neural.EndDistributionModule`: its
    ``end_log_probs(X)`` gives the log-probability that each sample's label path ends at
    each node. From it alone this base answers ``predict`` (the most probable end node,
    in the label format of ``fit``), ``predict_proba`` (over ``classes_``, rows summing to
    1), ``transform`` (node marginals for refiners) and the validation scores
    ``valid_exact`` / ``valid_hf1``. A subclass names a module and a criterion and
    implements ``_module_defaults`` (and ``_targets`` when its criterion wants more than
    node indices).

    Parameters
    ----------
    taxonomy : Taxonomy or None
        Labels' taxonomy; fixes the output sizes. ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`).
    module, criterion : torch module classes
        As in skorch; ``module__*`` and ``criterion__*`` parameters reach them.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        Feature extractor, built once per initialisation. ``"auto"`` takes
        :class:`~skhier.neural.backbones.SmallCNN` for (C, H, W) images and
        :class:`~skhier.neural.backbones.MLP` for feature vectors. An ``nn.Module`` (a
        torchvision or timm model without its classifier) is deep-copied at every
        initialisation; a callable is called to build one. ``backbone__*`` parameters
        reach the built-in backbones.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        The torch optimizer class (``optimizer__*`` parameters reach it).
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=10
        Number of training epochs.
    batch_size : int or "auto", default="auto"
        ``"auto"`` takes about 64 steps an epoch, from 16 to 256 samples a batch
        (:func:`~skhier.neural.data.auto_batch_size`), so small data sets still learn.
    train_split : callable or None, default=HierarchicalValidSplit(0.1)
        Internal validation split, stratified by node whatever the label format.
    iterator_train, iterator_valid : class, default=TensorBatchIterator
        skorch's batch iterators; skhier's feed whole tensors to the device and bring
        the targets to ``forward`` (``iterator_train__*`` parameters reach them).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        ``"auto"`` trains on CUDA when available.
    mixed_precision : {None, "bf16"}, default=None
        bf16 autocast of forward passes on CUDA (ignored on CPU).
    channels_last : bool, default=False
        Channels-last memory format for image batches and the module (CUDA speed-up).
    train_transform : callable, default=None
        Applied to every training batch on the device, e.g.
        :class:`~skhier.neural.augment.RandomCropFlip`.
    random_state : int or None, default=None
        Seeds torch, the validation split and the shuffling: CPU training is then
        reproducible.
    verbose : int, default=0
        skorch's epoch table when 1 or more, and a progress bar when 2 or more.
    **kwargs
        Any other skorch parameter: ``callbacks``, ``iterator_train__*``,
        ``optimizer__*``, ``callbacks__<name>__*``, ``warm_start``, ``compile``, ...

    Attributes
    ----------
    taxonomy_ : Taxonomy
        The taxonomy at ``fit``.
    classes_ : ndarray
        End nodes the model can predict, sorted: the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
        Taxonomy index of every class.
    label_format_ : LabelFormat
        Format of ``y`` at ``fit``; ``predict`` answers in it.
    input_shape_ : tuple of int
        Shape of one input sample.
    batch_size_ : int
        The batch size used (``batch_size`` resolved).
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import FlatSoftmaxClassifier, HierarchicalNet
    >>> issubclass(FlatSoftmaxClassifier, HierarchicalNet)
    True
    """

    _kind = _OutputKind("end", EndDistributionModule, "end_log_probs")

    def _end_nodes(self) -> np.ndarray:
        """Nodes where the fitted module's paths can end (default: the leaves)."""
        return np.asarray(self.taxonomy_.leaves)

    def _prepare(self, X, y, *, reset):
        dataset = super()._prepare(X, y, reset=reset)
        if reset:
            self._set_classes(self.taxonomy_, self._end_nodes())
        return dataset

    def _end_proba(self, X):
        return self._outputs(X).exp()

    @fill_doc
    def predict(self, X):
        """The most probable end node of every sample, in the label format of ``fit``.

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        y : ndarray
            Labels in the format ``y`` was given in.
        """
        nodes = self._outputs(X).argmax(dim=1).cpu().numpy()
        return decode_labels(nodes, self.taxonomy_, self.label_format_)

    def _validation_scores(self, dataset_valid):
        base, idx, _ = self._valid_targets(dataset_valid)
        strata = base.strata if idx is None else base.strata[idx.numpy()]
        pred = self._valid_outputs(dataset_valid).argmax(dim=1)
        acc = HierarchicalMetricAccumulator(self.taxonomy_)
        acc.update_indices(torch.as_tensor(strata, device=pred.device), pred)
        computed = acc.compute()
        return {"valid_exact": computed["path_accuracy"], "valid_hf1": computed["hierarchical_f1"]}


class MultiLabelHierarchicalNet(NodeScoresMixin, ClassifierMixin, TransformerMixin, _HierarchicalNetBase):
    """Base of the neural classifiers with independent per-node probabilities.

    The module is a :class:`~skhier.neural.NodeProbabilityModule`: ``node_logits(X)``
    gives one logit per taxonomy node, whose sigmoid is the probability that the node is
    in the sample's label set. ``y`` may hold several paths per sample (a node-indicator
    matrix, ancestors filled in) or one (any single-label format). The targets are the
    ancestor-closed indicator rows, as float tensors.

    - ``predict_proba`` / ``transform``: per-node probabilities, one column per taxonomy
      node in taxonomy order (= ``classes_``), as scikit-learn's multi-label classifiers;
    - ``predict``: for multi-label ``y``, the nodes scoring at least ``threshold`` and
      their ancestors, as an indicator in the format of ``y``; for single-label ``y``,
      the greedy top-down path (stopping where no child reaches ``threshold``);
    - validation: ``valid_of1``, the overall F1 of the thresholded nodes.

    Parameters
    ----------
    taxonomy, module, criterion
        As in :class:`HierarchicalNet`.
    threshold : float, default=0.5
        Probability a node needs to be predicted.
    consistency : {"fill", "prune"}, default="fill"
        How a multi-label ``predict`` keeps its label sets closed under ancestors:
        ``"fill"`` adds the ancestors of every node that passes ``threshold``;
        ``"prune"`` keeps a node only when all its ancestors pass too. (The raw
        thresholded probabilities may violate the hierarchy; ``predict`` never does.)
    **kwargs
        Every other parameter of :class:`HierarchicalNet`.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Every taxonomy node, in taxonomy order (the indicator columns).
    label_format_ : LabelFormat
    input_shape_ : tuple of int
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import MultiLabelHierarchicalNet
    >>> MultiLabelHierarchicalNet._kind.read_out
    'node_logits'
    """

    _kind = _OutputKind("multilabel", NodeProbabilityModule, "node_logits", multilabel=True)
    _parameter_rules = {"threshold": Interval(0, 1), "consistency": Options("fill", "prune")}

    def __init__(self, taxonomy, module, criterion, *, threshold=0.5, consistency="fill", **kwargs):
        super().__init__(taxonomy, module, criterion, **kwargs)
        self.threshold = threshold
        self.consistency = consistency

    def _targets(self, encoded):
        # an encoded indicator has its ancestors filled already; a node's ancestor row too
        rows = encoded if sp.issparse(encoded) else self.taxonomy_.ancestor_matrix[encoded]
        return torch.as_tensor(rows.toarray(), dtype=torch.float32)

    def _check_encoded(self, y, encoded, label_format):
        """Refuse samples without a label; warn when an indicator ``y`` was not closed under
        ancestors (label sets name their most specific nodes: filling is what they mean)."""
        if not sp.issparse(encoded):
            return
        below_root = encoded[:, 1:]
        empty = np.flatnonzero(below_root.getnnz(axis=1) == 0)
        if empty.size:
            raise ValueError(
                f"y has {empty.size} row(s) without any label below the root (rows {empty[:5].tolist()}"
                f"{', ...' if empty.size > 5 else ''}); every sample needs at least one node: drop those rows"
            )
        if label_format.sets:
            return
        given = sp.csr_matrix(y)[:, 1:]
        given.eliminate_zeros()
        opened = np.flatnonzero(below_root.getnnz(axis=1) > given.getnnz(axis=1))
        if opened.size:
            warnings.warn(
                f"{opened.size} row(s) of y were not closed under ancestors (rows {opened[:5].tolist()}"
                f"{', ...' if opened.size > 5 else ''}); their ancestors were set, as a node implies its "
                "ancestors in a hierarchical label set",
                UserWarning,
                stacklevel=5,  # the user's fit: _check_encoded < _prepare (x2) < fit
            )

    def _prepare(self, X, y, *, reset):
        dataset = super()._prepare(X, y, reset=reset)
        if reset:
            self.classes_ = np.empty(self.taxonomy_.n_nodes, dtype=object)
            self.classes_[:] = list(self.taxonomy_.nodes)
        return dataset

    @fill_doc
    def predict_proba(self, X):
        """Per-node probabilities, one column per taxonomy node (``classes_``).

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_nodes)
            Probabilities.
        """
        return self._probabilities(self._outputs(X)).double().cpu().numpy()

    def _probabilities(self, node_logits):
        """Per-node probabilities from the module's node logits (a hook for subclasses)."""
        return torch.sigmoid(node_logits)

    @fill_doc
    def transform(self, X):
        """Per-node probabilities as node scores, the input of refiners and metrics.

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
            Node scores, columns in taxonomy order.
        """
        return NodeScores.wrap(self.predict_proba(X), self.taxonomy_)

    @fill_doc
    def predict(self, X):
        """Label sets (multi-label ``y``) or paths (single-label ``y``), as fitted.

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        y : ndarray or sparse matrix
            Labels in the format ``y`` was given in.
        """
        p = self._probabilities(self._outputs(X))
        tax = self.taxonomy_
        if self.label_format_.multilabel:
            hit = p >= self.threshold
            if self.consistency == "prune":
                hit[:, 0] = True
                hit = with_all_ancestors(hit, tax)  # no missing ancestor (trees and DAGs)
            hit = sp.csr_matrix(hit.cpu().numpy())
            return decode_labels(hit, tax, self.label_format_)  # fills ancestors and the root
        nodes = greedy_descent(p, tax, threshold=self.threshold).cpu().numpy()
        return decode_labels(nodes, tax, self.label_format_)

    def _validation_scores(self, dataset_valid):
        _, _, y = self._valid_targets(dataset_valid)
        p = self._probabilities(self._valid_outputs(dataset_valid))
        hit = (p >= self.threshold)[:, 1:]
        true = y.to(p.device)[:, 1:] > 0.5
        tp = (hit & true).sum()
        den = hit.sum() + true.sum()
        scores = {"valid_of1": float(2 * tp / den) if int(den) else 1.0}
        # micro average precision over the non-root nodes: the HMC benchmark's AU(PRC)
        flat_true = true.reshape(-1).cpu().numpy()
        if flat_true.any():
            flat_p = p[:, 1:].reshape(-1).float().cpu().numpy()
            scores["valid_ap"] = float(average_precision_score(flat_true, flat_p))
        else:
            scores["valid_ap"] = 0.0
        return scores


class HierarchicalEncoderNet(TransformerMixin, _HierarchicalNetBase):
    """Base of the neural representation learners: ``transform`` gives embeddings.

    The module is an :class:`~skhier.neural.EncoderModule`: ``embed(X)`` gives one
    (D,)-vector per sample. ``fit`` reads single-label ``y`` in any format (the criterion
    gets node indices unless ``_targets`` says otherwise), so
    ``make_pipeline(encoder, LogisticRegression())`` is a linear evaluation.

    Parameters
    ----------
    taxonomy, module, criterion
        As in :class:`HierarchicalNet`.
    backbone, optimizer, lr, max_epochs, batch_size, train_split, iterator_train, iterator_valid
        As in :class:`HierarchicalNet`.
    device, mixed_precision, channels_last, train_transform, random_state, verbose
        As in :class:`HierarchicalNet`.
    **kwargs
        Every other skorch parameter.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    label_format_ : LabelFormat
    input_shape_ : tuple of int
    n_features_out_ : int
        Width of the embeddings.
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import HierarchicalEncoderNet
    >>> HierarchicalEncoderNet._kind.read_out
    'embed'
    """

    _kind = _OutputKind("encoder", EncoderModule, "embed")
    # an encoder predicts nothing: hide skorch's predict / predict_proba
    predict = available_if(lambda self: False)(NeuralNet.predict)
    predict_proba = available_if(lambda self: False)(NeuralNet.predict_proba)

    @fill_doc
    def transform(self, X):
        """Embeddings of ``X``.

        Parameters
        ----------
        %(X_tensor)s

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_)
            The embeddings.
        """
        return self._outputs(X).double().cpu().numpy()

    @property
    def n_features_out_(self) -> int:
        """Width of the embeddings (one forward pass of a zero sample)."""
        self._check_fitted()
        return int(self._outputs(torch.zeros((1, *self.input_shape_))).shape[1])

    @fill_doc
    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the embeddings of ``X``.

        Parameters
        ----------
        %(X_tensor)s
        y : array-like
            Labels in any label format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_)
            The embeddings.
        """
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features=None):
        """``embedding0``, ``embedding1``, ...

        Parameters
        ----------
        input_features : ignored
            Ignored: embeddings have no input counterpart.

        Returns
        -------
        names : ndarray of str objects
            The node names.
        """
        return np.array([f"embedding{i}" for i in range(self.n_features_out_)], dtype=object)
