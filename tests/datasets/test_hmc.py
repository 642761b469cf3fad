"""The HMC benchmark loader: every dataset's shape against the benchmark's own table, and
malformed files failing with the file, line and value.

The data are not in the repository: the tests read ``SKHIER_HMC_DATA`` or, when that is
unset, ``../shared/data/hmc`` beside the checkout, and skip naming the variable otherwise.
"""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from skhier.datasets import HMC_DATASETS, hmc_recipe, load_hmc, load_hmc_arff

_BESIDE = Path(__file__).resolve().parents[3] / "shared" / "data" / "hmc"
HMC_DIR = os.environ.get("SKHIER_HMC_DATA") or (str(_BESIDE) if _BESIDE.is_dir() else None)
needs_data = pytest.mark.skipif(HMC_DIR is None, reason="set SKHIER_HMC_DATA to the HMC benchmark folder")

# the benchmark's README: features after one-hot encoding, classes scored (FUN / GO / tree)
EXPECTED = {
    "cellcycle": (77, 499, 4122), "derisi": (63, 499, 4116), "eisen": (79, 461, 3570), "expr": (561, 499, None),
    "gasch1": (173, 499, 4122), "gasch2": (52, 499, 4128), "seq": (529, 499, 4130), "spo": (86, 499, 4116),
    "diatoms": (371, 398, None), "enron": (1001, 56, None), "imclef07a": (80, 96, None), "imclef07d": (80, 46, None),
}


def expected(name):
    base, _, kind = name.partition("_")
    dim, fun, go = EXPECTED[base]
    return dim, (go if kind == "GO" else fun), kind != "GO"


@needs_data
@pytest.mark.parametrize("name", sorted(HMC_DATASETS))
def test_every_dataset_matches_the_benchmark_table(name):
    split = "train" if "train" in HMC_DATASETS[name] else "trainvalid"
    data = load_hmc(name, split, data_home=HMC_DIR)
    dim, n_scored, is_tree = expected(name)
    assert data.data.shape[1] == dim == len(data.feature_names)
    assert len(data.scored) == n_scored and 0 not in data.scored
    assert data.taxonomy.is_tree == is_tree
    Y = data.target
    assert sp.issparse(Y) and Y.shape == (data.data.shape[0], data.taxonomy.n_nodes)
    # label sets closed under all ancestors (every path of the DAG), the root in every row
    anc = (Y @ data.taxonomy.ancestor_matrix).tocsr()
    assert ((anc > 0).astype(np.int8) != Y).nnz == 0 and (Y[:, 0].toarray() == 1).all()


@needs_data
def test_go_is_a_dag_and_trainvalid_is_the_union():
    train = load_hmc("eisen_GO", "train", data_home=HMC_DIR)
    valid = load_hmc("eisen_GO", "valid", data_home=HMC_DIR)
    both = load_hmc("eisen_GO", "trainvalid", data_home=HMC_DIR)
    tax = train.taxonomy
    assert tax == valid.taxonomy == both.taxonomy  # every split declares the same classes
    assert max(len(p) for p in tax.parents) > 1 and {"GO0003674", "GO0005575", "GO0008150"} <= set(tax.nodes)
    assert not {"GO0003674", "GO0005575", "GO0008150", "root"} & set(train.scored_names)
    np.testing.assert_array_equal(both.data, np.vstack([train.data, valid.data]))
    assert (both.target != sp.vstack([train.target, valid.target])).nnz == 0
    X, Y, tax2 = load_hmc("eisen_GO", "test", data_home=HMC_DIR, return_X_y=True)
    assert tax2 == tax and X.shape[0] == Y.shape[0] and np.isnan(train.data).any()
    # FunCat: nodes are full paths, so "01" under two parents is two nodes
    fun = load_hmc("cellcycle_FUN", data_home=HMC_DIR).taxonomy
    assert fun.is_tree and "01/01" in fun.nodes and fun.nodes[fun.parent[fun.index("01/01/03")]] == "01/01"


HEAD = """@RELATION t
@ATTRIBUTE x1 numeric
@ATTRIBUTE color {red,blue}
"""
CLASSES = "@ATTRIBUTE class hierarchical 01,01/01,02\n"


@pytest.mark.parametrize(
    "text, error, match",
    [
        (HEAD + "@DATA\n1.0,red,01\n", ValueError, r"t_FUN.train.arff, line \d+: no hierarchical class attribute"),
        (HEAD + CLASSES + "@DATA\n1.0,red,01/01@03\n", ValueError, r"line 6: label '03' names no class"),
        (HEAD + CLASSES + "@DATA\n1.0,red\n", ValueError, r"line 6: 2 values, expected 3"),
        (
            HEAD + CLASSES + "@DATA\n1.0,red,01\nabc,blue,02\n",
            ValueError,
            r"line 7: feature 'x1' is numeric, got 'abc'",
        ),
        (
            HEAD + CLASSES + "@DATA\n1.0,green,01\n",
            ValueError,
            r"line 6: feature 'color' takes \{red,blue\}, got 'green'",
        ),
        (HEAD + CLASSES, ValueError, r"no @DATA section"),
        (
            HEAD + "@ATTRIBUTE s string\n" + CLASSES + "@DATA\n1,red,x,01\n",
            ValueError,
            r"line 4: attribute 's' has type 'string'",
        ),
        (
            HEAD + "@ATTRIBUTE class hierarchical 01,03/01\n@DATA\n1.0,red,01\n",
            ValueError,
            r"class '03/01' has no parent '03'",
        ),
        (
            HEAD + "@ATTRIBUTE class hierarchical\n@DATA\n1.0,red,01\n",
            ValueError,
            r"line 4: the hierarchical attribute lists no class",
        ),
        (HEAD + CLASSES + CLASSES + "@DATA\n1.0,red,01\n", ValueError, r"line 5: a second hierarchical attribute"),
    ],
)
def test_malformed_files_name_the_file_line_and_value(tmp_path, text, error, match):
    (tmp_path / "t_FUN.train.arff").write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(HMC_DATASETS, "t_FUN", {"train": "t_FUN.train"})
        with pytest.raises(error, match=match):
            load_hmc("t_FUN", data_home=tmp_path)


def test_a_well_formed_small_file(tmp_path):
    (tmp_path / "t_FUN.train.arff").write_text(HEAD + CLASSES + "@DATA\n1.0,red,01/01\n?,?,02@01\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(HMC_DATASETS, "t_FUN", {"train": "t_FUN.train"})
        data = load_hmc("t_FUN", data_home=tmp_path)
    # one-hot colour (a missing one is all zeros), NaN for a missing number
    np.testing.assert_array_equal(data.data, [[1.0, 1.0, 0.0], [np.nan, 0.0, 0.0]])
    assert data.feature_names == ["x1", "color=red", "color=blue"]
    tax = data.taxonomy
    assert tax.nodes == ("root", "01", "01/01", "02")
    np.testing.assert_array_equal(data.target.toarray(), [[1, 1, 1, 0], [1, 1, 0, 1]])


@pytest.mark.parametrize("call, error, match", [
    (lambda d: load_hmc("cellcycle", data_home=d), ValueError, r"name must be one of .*got 'cellcycle'"),
    (lambda d: load_hmc("diatoms", "valid", data_home=d), ValueError, r"subset must be one of \['test', 'train'\]"),
    (lambda d: load_hmc("diatoms", "trainvalid", data_home=d), ValueError, "diatoms has no validation split"),
    (lambda d: load_hmc("cellcycle_FUN", hierarchy="dag", data_home=d), ValueError, "hierarchy must be"),
    (lambda d: load_hmc("cellcycle_FUN", data_home=d / "nowhere"), FileNotFoundError, "does not exist"),
    (lambda d: load_hmc("cellcycle_FUN", data_home=d), FileNotFoundError, r"cellcycle_FUN.train.arff\(.gz\) is not in"),
    (lambda d: hmc_recipe("cellcycle"), ValueError, r"name must be one of .*got 'cellcycle'"),
    (lambda d: hmc_recipe("expr_GO"), ValueError, r"name must be one of .*got 'expr_GO'"),
    (lambda d: hmc_recipe(None), ValueError, r"name must be one of .*got None"),
])
def test_bad_arguments(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path)


def test_hmc_recipe_is_the_papers_final_fit_by_hand():
    """Three rows of the C-HMCNN paper's settings, copied by hand: a GO dataset (width 1000,
    62 epochs, the namespace tops out of the loss), a FunCat one and one with lr 1e-5."""
    go = hmc_recipe("cellcycle_GO")
    assert (go["module__hidden"], go["lr"], go["max_epochs"], go["batch_size"], go["train_split"]) == (
        1000, 1e-4, 62, 4, None)
    assert set(go["criterion__skip"]) == {"GO0003674", "GO0005575", "GO0008150"}
    fun = hmc_recipe("spo_FUN")
    assert (fun["module__hidden"], fun["lr"], fun["max_epochs"], tuple(fun["criterion__skip"])) == (250, 1e-4, 115, ())
    assert hmc_recipe("Diatoms") == hmc_recipe("diatoms")  # names as the loader takes them, any case
    assert (hmc_recipe("diatoms")["module__hidden"], hmc_recipe("diatoms")["lr"]) == (2000, 1e-5)


def test_hmc_recipe_trains_without_the_weight_average_the_defaults_have():
    """The paper keeps its last weights: since ``averaging=0.999`` became
    ``CHMCNNClassifier``'s default, the recipe must switch it off, or a user asking for the
    paper's fit gets ours (regression: the default changed under it)."""
    from skhier.neural import CHMCNNClassifier

    assert "weight_averaging" in dict(CHMCNNClassifier().get_default_callbacks())
    for name in ("cellcycle_GO", "diatoms"):
        recipe = hmc_recipe(name)
        assert recipe["averaging"] is None
        assert "weight_averaging" not in dict(CHMCNNClassifier(**recipe).get_default_callbacks())


@needs_data
def test_hmc_recipe_matches_the_benchmark_readme_on_all_19():
    """Against the settings table of the benchmark's own README (an independent copy of the paper's)."""
    rows = {}
    for line in (Path(HMC_DIR) / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[4] in ("1e-4", "1e-5"):
            rows[cells[0]] = ([v.strip() for v in cells[3].split("/")], float(cells[4]),
                              [v.strip() for v in cells[5].split("/")])
    assert len(rows) == 12
    for name in HMC_DATASETS:
        base, _, kind = name.partition("_")
        hidden, lr, epochs = rows[base]
        k = 1 if kind == "GO" else 0
        r = hmc_recipe(name)
        assert (r["module__hidden"], r["lr"], r["max_epochs"]) == (int(hidden[k]), lr, int(epochs[k])), name
        assert (len(r["criterion__skip"]) == 3) == (kind == "GO")


def test_no_folder_names_the_variable(monkeypatch):
    monkeypatch.delenv("SKHIER_HMC_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SKHIER_HMC_DATA"):
        load_hmc("cellcycle_FUN")


GO_DATASETS = sorted(name for name in HMC_DATASETS if name.endswith("_GO"))


@needs_data
@pytest.mark.parametrize("name", GO_DATASETS)
def test_predictions_are_coherent_on_every_go_dataset(name):
    """C-HMCNN (MCM at inference) and the BCE baseline + CoherenceRefiner score every GO
    class at most as high as each of its ancestors on the real DAG, and their predicted
    sets are closed under ancestors, while the BCE net's raw scores are not coherent (so
    the check can fail). Tiny fits: 300 training genes, one epoch, width 16."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skhier.inference import CoherenceRefiner
    from skhier.metrics import hierarchy_violations
    from skhier.neural import CHMCNNClassifier, MultiLabelNodeClassifier

    train = load_hmc(name, "train", data_home=HMC_DIR)
    test = load_hmc(name, "test", data_home=HMC_DIR)
    tax = train.taxonomy
    assert not tax.is_tree
    prep = make_pipeline(SimpleImputer(), StandardScaler()).fit(train.data[:300])
    X, Xt = (prep.transform(a).astype(np.float32) for a in (train.data[:300], test.data[:200]))
    kw = dict(max_epochs=1, batch_size=64, lr=1e-3, device="cpu", random_state=0, train_split=None, verbose=0)

    clf = CHMCNNClassifier(tax, module__hidden=16, **kw).fit(X, train.target[:300])
    P = clf.predict_proba(Xt)
    assert P.shape == (200, tax.n_nodes) and (hierarchy_violations(P, taxonomy=tax) == 0).all()
    assert (hierarchy_violations(clf.predict(Xt), taxonomy=tax, threshold=0.5) == 0).all()

    net = MultiLabelNodeClassifier(tax, backbone="mlp", backbone__hidden=16, **kw).fit(X, train.target[:300])
    raw = net.transform(Xt)
    assert hierarchy_violations(raw, taxonomy=tax).sum() > 0  # an unconstrained net is not coherent
    refined = np.asarray(CoherenceRefiner(tax).fit(net.transform(X)).transform(raw))
    assert (hierarchy_violations(refined, taxonomy=tax) == 0).all()
    assert (hierarchy_violations(refined, taxonomy=tax, threshold=0.5) == 0).all()
    np.testing.assert_array_less(raw - 1e-7, refined)  # the refiner only raises scores (max over descendants)


# ---------------------------------------------------------------- load_hmc_arff: any user's file
FUN_TEXT = """% a FunCat-style tree: classes are full paths
@RELATION mine
@ATTRIBUTE 'gene length' numeric
@ATTRIBUTE "GC content" REAL
@ATTRIBUTE strand {+,-}
@ATTRIBUTE class hierarchical 01,01/01,01/01/03,01/02,02
@DATA
0.5,0.41,+,01/01/03
?,0.39,-,01/02@02
1.5,?,?,02
"""
GO_TEXT = """@RELATION go
@ATTRIBUTE f1 numeric
@ATTRIBUTE class hierarchical root/GO0003674,root/GO0008150,GO0003674/GO1,GO0008150/GO1,GO1/GO2,GO0008150/GO3
@DATA
1,GO2
2,GO3@GO0003674
"""


def test_load_hmc_arff_reads_a_funcat_style_tree_with_quoted_names_nominal_and_missing(tmp_path):
    path = tmp_path / "mine.arff"
    path.write_text(FUN_TEXT)
    data = load_hmc_arff(path)
    assert data.feature_names == ["gene length", "GC content", "strand=+", "strand=-"]
    np.testing.assert_array_equal(data.data, [[0.5, 0.41, 1, 0], [np.nan, 0.39, 0, 1], [1.5, np.nan, 0, 0]])
    tax = data.taxonomy
    assert tax.is_tree and tax.nodes == ("root", "01", "01/01", "01/01/03", "01/02", "02")
    # closed under ancestors, by hand: row 0 = 01/01/03 and its two ancestors; row 1 = 01/02, 02 and 01
    np.testing.assert_array_equal(data.target.toarray(), [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 1], [1, 0, 0, 0, 0, 1]])
    assert data.scored.tolist() == [1, 2, 3, 4, 5] and data.filename == str(path)


def test_load_hmc_arff_reads_a_go_style_dag_and_gzip_by_content(tmp_path):
    path = tmp_path / "go.arff.gz"
    path.write_bytes(gzip.compress(GO_TEXT.encode()))
    X, Y, tax = load_hmc_arff(path, return_X_y=True)
    assert not tax.is_tree and {tax.nodes[p] for p in tax.parents[tax.index("GO1")]} == {"GO0003674", "GO0008150"}
    want = {0: {"root", "GO0003674", "GO0008150", "GO1", "GO2"}, 1: {"root", "GO0008150", "GO3", "GO0003674"}}
    for i, nodes in want.items():
        assert {tax.nodes[j] for j in Y[i].indices} == nodes
    data = load_hmc_arff(path)
    assert "GO0003674" not in data.scored_names and "GO0008150" not in data.scored_names  # namespace tops


def test_load_hmc_arff_aligns_a_test_file_to_the_train_taxonomy(tmp_path):
    train, test = tmp_path / "train.arff", tmp_path / "test.arff"
    train.write_text(FUN_TEXT)
    # the same classes listed in another order: columns follow the train taxonomy
    test.write_text(FUN_TEXT.replace("01,01/01,01/01/03,01/02,02", "02,01,01/02,01/01,01/01/03"))
    tr = load_hmc_arff(train)
    te = load_hmc_arff(test, taxonomy=tr.taxonomy)
    assert te.taxonomy is tr.taxonomy
    assert (te.target != tr.target).nnz == 0
    other = tmp_path / "other.arff"
    other.write_text(FUN_TEXT.replace("01/02,02", "01/02,02,03"))
    with pytest.raises(ValueError, match=r"other.arff declares other classes than taxonomy: '03' is not in taxonomy"):
        load_hmc_arff(other, taxonomy=tr.taxonomy)
    fewer = tmp_path / "fewer.arff"
    fewer.write_text(FUN_TEXT.replace(",01/02,02", ",02").replace("01/02@02", "02"))
    with pytest.raises(ValueError, match=r"taxonomy's '01/02' is not declared"):
        load_hmc_arff(fewer, taxonomy=tr.taxonomy)


@pytest.mark.parametrize("name, content, error, match", [
    ("sparse.arff", FUN_TEXT.replace("0.5,0.41,+,01/01/03", "{0 0.5, 4 01/01/03}"), ValueError,
     r"sparse.arff, line 8: a sparse ARFF row .* sparse ARFF is not read"),
    ("plain.arff.gz", FUN_TEXT, ValueError, r"plain.arff.gz is named .gz but is not gzip-compressed"),
    ("broken.arff.gz", gzip.compress(FUN_TEXT.encode())[:40], ValueError, r"broken.arff.gz: a damaged or truncated"),
    ("unclosed.arff", FUN_TEXT.replace("'gene length'", "'gene length"), ValueError,
     r"unclosed.arff, line 3: the attribute name's quote ' is not closed"),
    ("nowhere.arff", None, FileNotFoundError, r"'.*nowhere.arff' does not exist"),
])
def test_load_hmc_arff_refuses_bad_files_with_a_message(tmp_path, name, content, error, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(error, match=match):
        load_hmc_arff(path)


def test_load_hmc_arff_checks_its_options(tmp_path):
    path = tmp_path / "mine.arff"
    path.write_text(FUN_TEXT)
    with pytest.raises(ValueError, match="hierarchy must be one of 'auto', 'paths', 'edges', got 'dag'"):
        load_hmc_arff(path, hierarchy="dag")
    with pytest.raises(TypeError, match="taxonomy"):
        load_hmc_arff(path, taxonomy="01/01")
