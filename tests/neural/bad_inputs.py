"""Bad inputs of neural: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (NEURAL_CASES)."""


import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError

from skhier import (
    Taxonomy,
)
from skhier.neural import (
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelNodeClassifier,
)
from tests.conformance._bad_input_fixtures import (
    NEURAL,
    NODE_SETS,
    X4,
    T,
    _fit,
    _without_text,
)

NEURAL_CASES = [
    (
        "sample_weight",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(
            np.ones((6, 3), np.float32), ["A1", "B1"] * 3, sample_weight=np.ones(6)
        ),
        TypeError,
        "FlatSoftmaxClassifier.fit does not take sample_weight: its training losses average",
    ),
    (
        "input below the receptive field",
        _fit(
            FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="cnn"), X=np.zeros((6, 1, 2, 2), np.float32)
        ),
        ValueError,
        r"samples of shape \(1, 2, 2\) are too small for the backbone SmallCNN",
    ),
    (
        "predict on no samples",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL)
            .fit(np.ones((6, 3), np.float32), ["A1", "B1"] * 3)
            .predict(np.ones((0, 3), np.float32))
        ),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required by FlatSoftmaxClassifier",
    ),
    (
        "one training sample",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((1, 3), np.float32), ["A1"]),
        ValueError,
        "the validation split .* of 1 sample\\(s\\), which leaves no training sample.*train_split=None",
    ),
    (
        "predict before fit",
        lambda: HCCFClassifier(T, text_encoder="learned").predict(X4),
        NotFittedError,
        r"^This HCCFClassifier instance is not fitted yet\. Call 'fit'",
    ),
    (
        "transform before fit",
        lambda: HMLCEncoder(T).transform(X4),
        NotFittedError,
        r"^This HMLCEncoder instance is not fitted yet",
    ),
    (
        "initialize before fit",
        lambda: FlatSoftmaxClassifier(T).initialize(),
        NotFittedError,
        r"FlatSoftmaxClassifier builds its module from the shape of X: call fit\(X, y\)",
    ),
    (
        "mixed precision",
        _fit(FlatSoftmaxClassifier(T, mixed_precision="fp8", **NEURAL)),
        ValueError,
        "mixed_precision must be one of None, 'bf16', got 'fp8'",
    ),
    (
        "backbone name",
        _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="resnet")),
        ValueError,
        "backbone must be one of 'auto', 'cnn', 'mlp'.*an nn.Module or a callable, got 'resnet'",
    ),
    (
        "cnn on vectors",
        _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="cnn")),
        ValueError,
        r"backbone='cnn' needs \(C, H, W\) images",
    ),
    (
        "batch size 0",
        _fit(FlatSoftmaxClassifier(T, batch_size=0, **NEURAL)),
        ValueError,
        "batch_size must be a positive int, -1 or 'auto', got 0",
    ),
    ("batch size str", _fit(FlatSoftmaxClassifier(T, batch_size="big", **NEURAL)), ValueError, "got 'big'"),
    (
        "X nan",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.full((6, 3), np.nan)),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "X strings",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.array([["a"] * 3] * 6)),
        TypeError,
        "X must be numeric",
    ),
    (
        "X sparse with NaN",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=sp.csr_matrix(np.array([[np.nan, 1, 0]] + [[1, 0, 1]] * 5))),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "X sparse of another width at predict",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(sp.csr_matrix(np.eye(6, 3)), ["A1", "A2", "B1"] * 2)
        .predict(sp.csr_matrix(np.eye(2, 4))),
        ValueError,
        "X has 4 features, but FlatSoftmaxClassifier is expecting 3 features",
    ),
    (
        "X 1-D",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.ones(6)),
        ValueError,
        "X must have a sample axis and features.*Reshape your data",
    ),
    (
        "X complex",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), X=np.ones((6, 3)) * 1j, y=[1j] * 6),
        ValueError,
        "Complex data not supported",
    ),  # X is read before y
    (
        "X object of non-numbers",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.array([[{"a": 1}, 1.0, 2.0]] * 6)),
        TypeError,
        "X must be numeric: float.. argument must be a string or a.* number",
    ),
    (
        "X no feature",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.ones((6, 0))),
        ValueError,
        r"Found array with 0 feature\(s\) \(shape=\(6, 0\)\) while a minimum of 1 is required by FlatSoftmaxClassifier",
    ),
    (
        "X fewer features at predict",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3)), ["A1", "A2", "B1"] * 2).predict(np.ones((2, 2)))
        ),
        ValueError,
        "X has 2 features, but FlatSoftmaxClassifier is expecting 3 features as input",
    ),
    (
        "y continuous",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), y=np.linspace(0, 1, 6)),
        ValueError,
        "Unknown label type: continuous. y holds non-integral floats",
    ),
    (
        "y inf",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), y=np.full(6, np.inf)),
        ValueError,
        "Input y contains NaN or infinity",
    ),
    ("lengths", _fit(FlatSoftmaxClassifier(T, **NEURAL), y=["A1"] * 5), ValueError, "X has 6 samples but y has 5"),
    (
        "y None",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3))),
        TypeError,
        "missing 1 required positional",
    ),
    (
        "y unknown",
        _fit(HCAMCLClassifier(T, **NEURAL), y=["A1", "Z", "B1"] * 2),
        ValueError,
        r"y\[1\]: unknown label 'Z'",
    ),
    (
        "y indicator",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), y=np.eye(6, dtype=int)[[2, 3, 5] * 2]),
        ValueError,
        "one path per sample; got an indicator",
    ),
    ("taxonomy", _fit(FlatSoftmaxClassifier("T", **NEURAL)), TypeError, "taxonomy must be a skhier.Taxonomy, got str"),
    (
        "attention layers",
        _fit(HCAMCLClassifier(T, module__n_attention_layers=3, **NEURAL)),
        ValueError,
        "n_attention_layers must be 0, 1 or 2, got 3",
    ),
    (
        "decoding",
        _fit(HCAMCLClassifier(T, module__decoding="greedy", **NEURAL)),
        ValueError,
        "decoding must be.*'greedy'",
    ),
    (
        "shape at predict",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3)), ["A1", "A2", "B1"] * 2).predict(np.ones((2, 4)))
        ),
        ValueError,
        "X has 4 features, but FlatSoftmaxClassifier is expecting 3 features as input",
    ),
    (
        "criterion name",
        _fit(FlatSoftmaxClassifier(T, criterion="hinge", **NEURAL)),
        ValueError,
        r"criterion must be one of \[.*'soft_max_margin'.*got 'hinge'",
    ),
    (
        "criterion type",
        _fit(FlatSoftmaxClassifier(T, criterion=torch.nn.CrossEntropyLoss, **NEURAL)),
        TypeError,
        "criterion must be a loss name",
    ),
    (
        "criterion param",
        _fit(FlatSoftmaxClassifier(T, criterion="hxe", criterion__alpha=-0.5, **NEURAL)),
        ValueError,
        "alpha must be a non-negative number, got -0.5",
    ),
    (
        "kfr alpha",
        _fit(KFRClassifier(T, alpha=-1, **NEURAL)),
        ValueError,
        "alpha must be a non-negative number, got -1",
    ),
    (
        "kfr distance",
        _fit(KFRClassifier(T, criterion__distance="cosine", **NEURAL)),
        ValueError,
        "distance must be one of.*'cosine'",
    ),
    (
        "one leaf",
        lambda: FlatSoftmaxClassifier(Taxonomy.from_paths([["A", "a"]]), **NEURAL).fit(np.ones((4, 3)), ["a"] * 4),
        ValueError,
        "at least two leaves",
    ),
    (
        "hccf level",
        _fit(HCCFClassifier(T, levels=[3], text_encoder="learned", **NEURAL)),
        ValueError,
        "levels names level 3, which this taxonomy lacks",
    ),
    (
        "hccf texts",
        _fit(HCCFClassifier(T, label_texts={"Q": "q"}, text_encoder="learned", **NEURAL)),
        ValueError,
        "label_texts names 'Q'",
    ),
    (
        "hccf embeddings",
        _fit(HCCFClassifier(T, text_encoder=np.ones((2, 4)), **NEURAL)),
        ValueError,
        r"shape \(6, d\), got shape \(2, 4\)",
    ),
    (
        "hccf y unknown",
        _fit(HCCFClassifier(T, text_encoder="learned", **NEURAL), y=["A1", "Z", "B1"] * 2),
        ValueError,
        r"y\[1\]: unknown label 'Z'",
    ),
    (
        "hccf X nan",
        _fit(HCCFClassifier(T, text_encoder="learned", **NEURAL), X=np.full((6, 3), np.nan)),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "cmsg correlation shape",
        _fit(CMSGClassifier(T, correlation=np.eye(3), **NEURAL), y=NODE_SETS),
        ValueError,
        r"correlation must be a \(5, 5\) array over the non-root nodes \(or \(6, 6\) over all nodes\), "
        r"got shape \(3, 3\)",
    ),
    (
        "cmsg correlation name",
        _fit(CMSGClassifier(T, correlation="glove", **NEURAL), y=NODE_SETS),
        ValueError,
        r"correlation must be one of 'embedding', 'cooccurrence', None, or an \(n_labels, n_labels\) array, "
        "got 'glove'",
    ),
    (
        "cmsg attention",
        _fit(CMSGClassifier(T, correlation="cooccurrence", attention="soft", **NEURAL), y=NODE_SETS),
        ValueError,
        "attention must be one of 'mask', 'bias', got 'soft'",
    ),
    (
        "cmsg tau",
        _fit(CMSGClassifier(T, correlation="cooccurrence", tau=np.nan, **NEURAL), y=NODE_SETS),
        ValueError,
        "tau must be",
    ),
    (
        "cmsg default without the text extra",
        _without_text(_fit(CMSGClassifier(T, **NEURAL), y=NODE_SETS)),
        ImportError,
        r'correlation="embedding".*correlation="cooccurrence".*skhier\[text\]',
    ),
    (
        "hccf default without the text extra",
        _without_text(_fit(HCCFClassifier(T, **NEURAL))),
        ImportError,
        r'text_encoder="minilm".*text_encoder="learned".*skhier\[text\]',
    ),
    (
        "kfr width 1",
        _fit(KFRClassifier(T, **{**NEURAL, "backbone__hidden": (1,)})),
        ValueError,
        r"normalize='vector' .* needs at least 2 of them, got features of width 1",
    ),
    (
        "multilabel empty row",
        _fit(MultiLabelNodeClassifier(T, **NEURAL), y=np.eye(6, dtype=int)[[2, 3, 0, 2, 3, 5]]),
        ValueError,
        r"1 row\(s\) without any label below the root \(rows \[2\]\)",
    ),
    (
        "multilabel width",
        _fit(MultiLabelNodeClassifier(T, **NEURAL), y=NODE_SETS[:, 1:]),
        ValueError,
        r"indicator matrix with 5 columns, but an indicator needs one column per taxonomy node \(6\)",
    ),
    (
        "multilabel criterion",
        _fit(MultiLabelNodeClassifier(T, criterion="focal", **NEURAL), y=NODE_SETS),
        ValueError,
        r"criterion must be one of \['asl', 'bce'\]",
    ),
    (
        "multilabel consistency",
        _fit(MultiLabelNodeClassifier(T, consistency="strict", **NEURAL), y=NODE_SETS),
        ValueError,
        "consistency must be one of 'fill', 'prune', got 'strict'",
    ),
    (
        "hmlc criterion",
        _fit(HMLCEncoder(T, criterion="simclr", **NEURAL)),
        ValueError,
        "criterion must be one of.*got 'simclr'",
    ),
    (
        "criterion of another kind",
        _fit(HMLCEncoder(T, criterion="asl", **NEURAL)),
        ValueError,
        "got 'asl' \\('asl' is a criterion of 'multilabel' estimators\\)",
    ),
    (
        "hmlc batch",
        _fit(HMLCEncoder(T, batch_size=3, **NEURAL)),
        ValueError,
        "batch_size=3 is too small for positives: hierarchical batches need depth \\+ 2 = 4",
    ),
    (
        "hmlc g masks",
        _fit(HMLCEncoder(T, criterion="g-hmlc", embed_dim=1, **NEURAL)),
        ValueError,
        "embed_dim=1 < 2 levels",
    ),
    (
        "hmlc y indicator",
        _fit(HMLCEncoder(T, **NEURAL), y=NODE_SETS),
        ValueError,
        "one path per sample; got an indicator",
    ),
    ("hmlc X nan", _fit(HMLCEncoder(T, **NEURAL), X=np.full((6, 3), np.nan)), ValueError, "X contains NaN or infinity"),
    (
        "multilabel X nan",
        _fit(CMSGClassifier(T, correlation="cooccurrence", **NEURAL), X=np.full((6, 3), np.nan), y=NODE_SETS),
        ValueError,
        "X contains NaN or infinity",
    ),
]
