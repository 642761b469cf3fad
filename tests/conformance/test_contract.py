"""The contract of docs/contract.md, enforced over every public estimator."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import BaggingClassifier, VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from skhier import (
    BottomUpRefiner,
    CoherenceRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    LocalClassifierPerLevel,
    LocalClassifierPerNode,
    LocalClassifierPerParentNode,
    Taxonomy,
    TopDownRefiner,
)
from skhier.datasets import make_hierarchical_classification
from skhier.labels import fill_ancestors, node_indices_to_paths, to_node_indices
from skhier.local import MultiLabelLocalClassifierPerNode
from skhier.neural import (
    AccelerateMixin,
    CHMCNNClassifier,
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HierarchicalLossClassifier,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelNodeClassifier,
)

try:
    from accelerate import Accelerator
except ImportError:  # the skhier[accelerate] extra
    Accelerator = None


class AcceleratedFlatSoftmax(AccelerateMixin, FlatSoftmaxClassifier):
    """Through accelerate: the contract must hold for the mixin's estimators too."""


class AcceleratedHCAMCL(AccelerateMixin, HCAMCLClassifier):
    """HCAM-CL's own (teacher-forcing) step through accelerate."""


class AcceleratedCMSG(AccelerateMixin, CMSGClassifier):
    """A multi-label estimator through accelerate."""

# leaves named 0..4, as LabelEncoder codes them: what re-encoding meta-estimators need
TAX = Taxonomy.from_parent_mapping({0: "A", 1: "A", 2: "B", 3: "B", 4: "B", "A": "root", "B": "root"})
OTHER = Taxonomy.from_parent_mapping({0: "X", 1: "Y", 2: "Y", 3: "Z", 4: "Z", "X": "top", "Y": "top", "Z": "top"})
TINY = dict(max_epochs=2, device="cpu", random_state=0, backbone__hidden=(16,))
ACC_TINY = {**TINY, "device": None}  # the accelerator places tensors
HCAM_TINY = dict(module__d_model=16, module__hidden_size=16, module__fc_hidden=16, module__n_heads=2)


def _single_label():
    return [
        FlatClassifier(LogisticRegression(max_iter=500), TAX),
        LocalClassifierPerNode(taxonomy=TAX),
        LocalClassifierPerParentNode(taxonomy=TAX),
        LocalClassifierPerLevel(taxonomy=TAX),
        FlatSoftmaxClassifier(TAX, lr=1e-2, **TINY),
        HCAMCLClassifier(TAX, lr=1e-2, **TINY, **HCAM_TINY),
        HierarchicalLossClassifier(TAX, criterion="conditional_softmax", lr=1e-2, **TINY),
        KFRClassifier(TAX, alpha=3.0, lr=1e-2, **TINY),
        HCCFClassifier(TAX, lr=1e-2, embed_dim=8, text_encoder="learned", **TINY),
        *_accelerated(lambda acc: [
            AcceleratedFlatSoftmax(TAX, lr=1e-2, accelerator=acc, **ACC_TINY),
            AcceleratedHCAMCL(TAX, lr=1e-2, accelerator=acc, **ACC_TINY, **HCAM_TINY),
        ]),
    ]


def _accelerated(make):
    """Estimators through skhier's AccelerateMixin, when the extra is installed."""
    return [] if Accelerator is None else make(Accelerator(cpu=True))


def _multi_label():
    return [
        MultiLabelNodeClassifier(TAX, criterion="asl", lr=1e-2, **TINY),
        CMSGClassifier(TAX, correlation="cooccurrence", lr=1e-2, module__dim=8, module__heads=2, **TINY),
        CHMCNNClassifier(TAX, lr=1e-2, batch_size=16, module__hidden=16, max_epochs=2, device="cpu", random_state=0),
        MultiLabelLocalClassifierPerNode(taxonomy=TAX),
        *_accelerated(lambda acc: [
            AcceleratedCMSG(TAX, lr=1e-2, module__dim=8, module__heads=2, accelerator=acc, **ACC_TINY),
        ]),
    ]


def _refiners():
    return [BottomUpRefiner(TAX), TopDownRefiner(TAX, normalize=True), DiffusionRefiner(TAX, alpha=0.3),
            DifferentiableDiffusionRefiner(TAX, max_epochs=2, random_state=0), CoherenceRefiner(TAX)]


def _ids(ests):
    return [type(e).__name__ for e in ests]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(5), 40)
    centers = rng.normal(scale=2.0, size=(5, 6))
    X = (centers[y] + rng.normal(size=(len(y), 6))).astype(np.float32)
    return X, y


@pytest.mark.parametrize("est", _single_label(), ids=_ids(_single_label()))
def test_single_label_contract(est, data):
    X, y = data
    clf = clone(est).fit(X, y)
    proba = clf.predict_proba(X)
    assert list(clf.classes_) == sorted(clf.classes_) == [0, 1, 2, 3, 4]
    assert proba.shape == (len(X), len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(X)) <= set(clf.classes_)
    # node marginals: taxonomy order, root 1, children never above their parent -- except
    # HCCF's per-level scores, which docs/contract.md names as the one exception
    marg = np.asarray(clf.transform(X))
    assert marg.shape == (len(X), TAX.n_nodes)
    np.testing.assert_allclose(marg[:, 0], 1, atol=1e-5)
    for v in range(TAX.n_nodes):
        kids = TAX.children[v]
        if len(kids) and not isinstance(clf, HCCFClassifier):
            assert (marg[:, kids].sum(axis=1) <= marg[:, v] + 1e-5).all()
    # leaf columns of transform are the class probabilities
    np.testing.assert_allclose(marg[:, clf.class_nodes_], proba, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "y_prob values do not sum to one" would fail
        assert np.isfinite(log_loss(y, proba, labels=clf.classes_))
    assert 0.5 < roc_auc_score(y, proba, multi_class="ovr", labels=clf.classes_) <= 1


@pytest.mark.parametrize("est", _single_label(), ids=_ids(_single_label()))
def test_cross_val_predict_and_calibration(est, data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = cross_val_predict(est, X, y, cv=3, method="predict_proba")
        cal = CalibratedClassifierCV(clone(est), cv=3).fit(X, y)
    assert proba.shape == (len(X), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(cal.predict_proba(X).sum(axis=1), 1, atol=1e-5)
    assert list(cal.classes_) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("est", _single_label(), ids=_ids(_single_label()))
def test_set_params_after_fit_changes_nothing(est, data):
    # regression: FlatClassifier and the neural nets read the taxonomy parameter at predict
    X, y = data
    clf = clone(est).fit(X, y)
    before, proba = clf.predict(X), clf.predict_proba(X)
    clf.set_params(taxonomy=OTHER)
    np.testing.assert_array_equal(clf.predict(X), before)
    np.testing.assert_allclose(clf.predict_proba(X), proba)
    assert clf.taxonomy_ == TAX


def test_meta_estimators_that_reencode_labels(data):
    X, y = data
    # leaves named like LabelEncoder's codes: Voting and Bagging work
    vote = VotingClassifier([("flat", FlatClassifier(LogisticRegression(), TAX)),
                             ("local", LocalClassifierPerParentNode(taxonomy=TAX))], voting="soft").fit(X, y)
    assert vote.predict_proba(X).shape == (len(X), 5)
    bag = BaggingClassifier(FlatClassifier(LogisticRegression(), TAX), n_estimators=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(bag.predict_proba(X).sum(axis=1), 1, atol=1e-6)
    # leaves named by strings: a message that says why and what to do instead
    names = Taxonomy.from_parent_mapping({**{f"leaf{i}": "A" if i < 2 else "B" for i in range(5)}, "A": "r", "B": "r"})
    y_str = np.array([f"leaf{i}" for i in y])
    with pytest.raises(ValueError, match="re-encode labels as integers"):
        VotingClassifier([("flat", FlatClassifier(LogisticRegression(), names))], voting="soft").fit(X, y_str)
    with pytest.raises(ValueError, match="re-encode labels as integers"):
        BaggingClassifier(FlatClassifier(LogisticRegression(), names), n_estimators=2).fit(X, y_str)


@pytest.mark.parametrize("est", _refiners(), ids=_ids(_refiners()))
def test_refiner_contract(est, data):
    X, y = data
    scores = FlatClassifier(LogisticRegression(max_iter=500), TAX).fit(X, y).transform(X)
    ref = clone(est).fit(scores, y)
    assert not hasattr(ref, "predict_proba")  # refined scores are no class distribution
    out = ref.transform(scores)
    assert out.shape == (len(X), TAX.n_nodes) and out.taxonomy == TAX
    assert list(ref.classes_) == sorted(TAX.nodes, key=lambda n: (isinstance(n, str), n))
    np.testing.assert_allclose(ref.decision_function(scores), np.asarray(out)[:, ref.class_nodes_])
    before = ref.predict(scores)
    ref.set_params(taxonomy=OTHER)
    np.testing.assert_array_equal(ref.predict(scores), before)


def test_flat_classifier_on_sparse_text():
    # regression: FlatClassifier crashed on scipy sparse X (IndexError)
    docs = ["red apple pie", "green apple tart", "red cherry pie", "blue whale song", "grey whale calf",
            "blue shark fin"] * 5
    y = ["apple", "apple", "cherry", "whale", "whale", "shark"] * 5
    tax = Taxonomy.from_parent_mapping(
        {"apple": "fruit", "cherry": "fruit", "whale": "sea", "shark": "sea", "fruit": "all", "sea": "all"})
    pipe = make_pipeline(TfidfVectorizer(), FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(tax, alpha=0.2))
    pipe.fit(docs, y)
    assert sp.issparse(pipe[0].transform(docs))
    assert list(pipe.predict(docs[:6])) == y[:6]


def test_neural_estimators_take_sparse_x_densified_per_batch(monkeypatch):
    """Sparse X trains and predicts exactly as its dense copy (same seed), through every neural
    estimator; the dataset holds the CSR matrix, and no batch is wider than the batch size."""
    from skhier.neural import data as _data

    X, y, tax = make_hierarchical_classification(96, 12, n_levels=2, branching=2, random_state=0)
    X[np.abs(X) < 0.8] = 0
    S = sp.csr_matrix(X)
    Y = tax.ancestor_matrix[[tax.index(v) for v in y]].toarray()
    largest = []
    real = _data.SparseRows.__getitem__

    def watched(self, key):
        out = real(self, key)
        largest.append(out.shape[0] if out.ndim == 2 else 1)
        return out

    monkeypatch.setattr(_data.SparseRows, "__getitem__", watched)
    kw = dict(max_epochs=2, device="cpu", random_state=0, batch_size=16)
    for make, target in [
        (lambda: FlatSoftmaxClassifier(tax, **kw), y), (lambda: HierarchicalLossClassifier(tax, **kw), y),
        (lambda: KFRClassifier(tax, **kw), y), (lambda: HCAMCLClassifier(tax, **kw), y),
        (lambda: HCCFClassifier(tax, text_encoder="learned", **kw), y), (lambda: HMLCEncoder(tax, **kw), y),
        (lambda: MultiLabelNodeClassifier(tax, **kw), Y), (lambda: CHMCNNClassifier(tax, **kw), Y),
        (lambda: CMSGClassifier(tax, correlation="cooccurrence", **kw), Y),
    ]:
        sparse, dense = make().fit(S, target), make().fit(X, target)
        np.testing.assert_array_equal(np.asarray(sparse.transform(S)), np.asarray(dense.transform(X)),
                                      err_msg=type(sparse).__name__)
    assert largest and max(largest) <= 256  # batches (and the predictions' batches), never the whole set


def test_a_tfidf_pipeline_into_a_neural_estimator_with_path_labels():
    docs = ["red apple pie", "green apple tart", "red cherry pie", "blue whale song", "grey whale calf",
            "blue shark fin"] * 10
    paths = [["fruit", "apple"], ["fruit", "apple"], ["fruit", "cherry"], ["sea", "whale"], ["sea", "whale"],
             ["sea", "shark"]] * 10
    pipe = make_pipeline(TfidfVectorizer(), FlatSoftmaxClassifier(max_epochs=30, lr=1e-2, device="cpu",
                                                                  random_state=0, backbone__hidden=(16,)))
    pipe.fit(docs, paths)
    assert pipe[-1].taxonomy_.n_nodes == 7  # root, 2 families, 4 species: inferred from the paths
    assert [list(p) for p in pipe.predict(docs[:6])] == paths[:6]


def test_local_classifier_keys_and_estimators_without_proba(data):
    X, y = data
    with pytest.raises(ValueError, match=r"local_classifiers has key 0, which is not a node with a local"):
        LocalClassifierPerParentNode(taxonomy=TAX, local_classifiers={0: LogisticRegression()}).fit(X, y)
    with pytest.raises(ValueError, match="local_classifiers has key 'nope'"):
        LocalClassifierPerNode(taxonomy=TAX, local_classifiers={"nope": LogisticRegression()}).fit(X, y)
    with pytest.raises(ValueError, match="local_classifiers has key 7, which is not a level"):
        LocalClassifierPerLevel(taxonomy=TAX, local_classifiers={7: LogisticRegression()}).fit(X, y)
    clf = LocalClassifierPerParentNode(taxonomy=TAX, local_classifiers={"A": LogisticRegression(C=0.1)}).fit(X, y)
    assert set(clf.estimators_) == {"root", "A", "B"} and clf.estimators_["A"].C == 0.1
    with pytest.raises(TypeError, match="LinearSVC.*has no predict_proba.*CalibratedClassifierCV"):
        LocalClassifierPerParentNode(LinearSVC(), taxonomy=TAX).fit(X, y)
    with pytest.raises(TypeError, match="LinearSVC has no predict_proba.*CalibratedClassifierCV"):
        FlatClassifier(LinearSVC(), TAX).fit(X, y)
    works = LocalClassifierPerParentNode(CalibratedClassifierCV(LinearSVC(), cv=3), taxonomy=TAX).fit(X, y)
    np.testing.assert_allclose(works.predict_proba(X).sum(axis=1), 1)


@pytest.mark.parametrize("est", _multi_label(), ids=_ids(_multi_label()))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_multi_label_contract(est, sparse, data):
    X, y = data
    # node sets: every sample's leaf, and leaf 4 too for the samples of leaf 0
    Y = np.zeros((len(y), TAX.n_nodes), dtype=np.int8)
    Y[np.arange(len(y)), [TAX.index(v) for v in y]] = 1
    Y[y == 0, TAX.index(4)] = 1
    Y = fill_ancestors(Y, TAX)
    Y = Y if sparse else Y.toarray()
    clf = clone(est).fit(X, Y)
    assert list(clf.classes_) == list(TAX.nodes)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), TAX.n_nodes) and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba[:, 0], 1)  # every label set holds the root
    np.testing.assert_allclose(np.asarray(clf.transform(X)), proba, atol=1e-6)
    pred = clf.predict(X)
    assert sp.issparse(pred) == sparse and pred.shape == Y.shape
    P = pred.toarray() if sparse else pred
    for v in range(1, TAX.n_nodes):  # closed under ancestors
        assert (P[:, v] <= P[:, TAX.parent[v]]).all()
    before = clf.predict_proba(X)
    clf.set_params(taxonomy=OTHER)
    np.testing.assert_allclose(clf.predict_proba(X), before)


@pytest.mark.parametrize("loss", ["supcon", "hmce", "g-hmlc", "a-hmlc"])
def test_encoder_contract(loss, data):
    X, y = data
    enc = HMLCEncoder(TAX, criterion=loss, embed_dim=8, batch_size=20, lr=1e-2, **TINY)
    fitted = clone(enc).fit(X, y)
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 16) and np.isfinite(Z).all()  # the backbone's width
    assert list(fitted.get_feature_names_out()) == [f"embedding{i}" for i in range(16)]
    assert not hasattr(fitted, "predict") and not hasattr(fitted, "predict_proba")
    np.testing.assert_allclose(clone(enc).fit_transform(X, y), Z, atol=1e-6)  # seeded: the same fit
    fitted.set_params(taxonomy=OTHER)
    np.testing.assert_allclose(fitted.transform(X), Z)
    assert fitted.taxonomy_ == TAX
    inferred = clone(enc).set_params(taxonomy=None).fit(X, _paths(y))  # taxonomy=None: from the paths
    assert inferred.taxonomy_ == TAX
    np.testing.assert_allclose(inferred.transform(X), clone(enc).fit(X, _paths(y)).transform(X), atol=1e-6)


# ---------------------------------------------------------------- taxonomy=None (issue 26)
def _paths(y):
    return node_indices_to_paths(to_node_indices(y, TAX), TAX)


@pytest.mark.parametrize(
    "est", [*_single_label(), *_multi_label()[:3]], ids=_ids([*_single_label(), *_multi_label()[:3]])
)
def test_taxonomy_none_infers_the_same_tree_from_paths(est, data):
    X, y = data
    paths = _paths(y)
    assert Taxonomy.from_paths(paths) == TAX
    given = clone(est).fit(X, paths)
    inferred = clone(est).set_params(taxonomy=None).fit(X, paths)
    assert inferred.taxonomy is None and inferred.taxonomy_ == TAX
    want, got = given.predict(X), inferred.predict(X)
    if sp.issparse(want):
        want, got = want.toarray(), got.toarray()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(np.asarray(inferred.transform(X)), np.asarray(given.transform(X)), atol=1e-6)


def test_taxonomy_none_refiners_take_the_taxonomy_of_the_step_before(data):
    X, y = data
    paths = _paths(y)
    for refiner in _refiners():
        given = make_pipeline(FlatClassifier(LogisticRegression(max_iter=500), TAX), clone(refiner)).fit(X, paths)
        inferred = make_pipeline(FlatClassifier(LogisticRegression(max_iter=500)),
                                 clone(refiner).set_params(taxonomy=None)).fit(X, paths)
        assert inferred[-1].taxonomy_ == TAX, type(refiner).__name__
        np.testing.assert_array_equal(inferred.predict(X), given.predict(X))
        with pytest.raises(ValueError, match=f"{type(refiner).__name__} got taxonomy=None and X carries no taxonomy"):
            clone(refiner).set_params(taxonomy=None).fit(np.full((3, TAX.n_nodes), 0.5))


def test_taxonomy_none_with_node_sets_asks_for_the_taxonomy(data):
    X, y = data
    sets = TAX.ancestor_matrix[to_node_indices(y, TAX)].toarray()
    with pytest.raises(ValueError, match="node sets do not determine a taxonomy: pass taxonomy="):
        MultiLabelNodeClassifier(**TINY).fit(X, sets)
