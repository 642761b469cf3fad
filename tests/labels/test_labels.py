import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from skhier import Taxonomy
from skhier.labels import (
    HierarchicalLabelEncoder,
    decode_labels,
    encode_labels,
    fill_ancestors,
    indicator_to_node_indices,
    node_indices_to_indicator,
    node_indices_to_labels,
    node_indices_to_paths,
    to_node_indices,
    type_of_hierarchical_target,
)
from skhier.testing import node_labels, taxonomies
from skhier.utils.validation import check_node_scores


def test_formats_detected(tree):
    assert type_of_hierarchical_target(["A1", "B3"], tree) == "leaf"
    assert type_of_hierarchical_target(["A1", "B"], tree) == "node"
    assert type_of_hierarchical_target([["A", "A1"], ["B", ""]], tree) == "path"
    ind = np.zeros((2, 8), dtype=int)
    ind[0, [2, 6]] = 1
    assert type_of_hierarchical_target(ind, tree) == "indicator"
    assert type_of_hierarchical_target(sp.csr_matrix(ind), tree) == "indicator"


def test_paths_roundtrip_with_each_padding(tree):
    for fill in ["", None, np.nan]:
        y = np.array([["A", "A1"], ["B", fill], ["B", "B3"]], dtype=object)
        idx, fmt = encode_labels(y, tree)
        assert idx.tolist() == [2, 4, 7]
        back = decode_labels(idx, tree, fmt)
        assert back[0].tolist() == ["A", "A1"] and back[1, 0] == "B"
        if fill is None or fill == "":
            assert back[1, 1] == fill
        else:
            assert np.isnan(back[1, 1])


def test_paths_with_root_column(tree):
    idx, fmt = encode_labels([["root", "A", "A1"], ["root", "B", "B2"]], tree)
    assert idx.tolist() == [2, 6] and fmt.include_root
    assert decode_labels(idx, tree, fmt).tolist() == [["root", "A", "A1"], ["root", "B", "B2"]]


def test_unknown_and_contradicting_labels_name_the_sample(tree):
    with pytest.raises(ValueError, match=r"y\[2\]: unknown label 'Z'"):
        encode_labels(["A1", "B1", "Z"], tree)
    with pytest.raises(
        ValueError, match=r"y\[1\] = \['A', 'B2'\] contradicts the taxonomy: 'B2' is not a child of 'A'"
    ):
        encode_labels([["A", "A1"], ["A", "B2"]], tree)
    with pytest.raises(ValueError, match=r"y\[0\] = \['A', 'Q'\]: unknown label 'Q'"):
        encode_labels([["A", "Q"]], tree)
    with pytest.raises(ValueError, match=r"y\[1\] is missing"):
        encode_labels(["A1", None], tree)
    with pytest.raises(ValueError, match=r"label after padding"):
        encode_labels([["", "A1"]], tree)
    with pytest.raises(ValueError, match="one column per taxonomy node"):
        encode_labels(sp.csr_matrix(np.ones((2, 3))), tree)
    with pytest.raises(ValueError, match="not a leaf"):
        encode_labels(["A1", "B"], tree, format="leaf")


def test_duplicate_names_resolved_by_path(ragged):
    y = [["Goods", "Other", ""], ["Clothes", "Tops", "Other"]]
    idx, fmt = encode_labels(y, ragged)
    assert [ragged.nodes[i] for i in idx] == [("Goods", "Other"), ("Clothes", "Tops", "Other")]
    assert decode_labels(idx, ragged, fmt).tolist() == y
    with pytest.raises(ValueError, match="names several nodes"):
        encode_labels(["Other"], ragged)


def test_indicator_fills_ancestors(tree):
    ind = np.zeros((2, 8), dtype=int)
    ind[0, [2, 6]] = 1  # A1 and B2: two paths
    ind[1, 5] = 1
    enc, fmt = encode_labels(ind, tree)
    assert enc.toarray()[0].tolist() == [1, 1, 1, 0, 1, 0, 1, 0]
    assert not fmt.sparse
    assert decode_labels(enc, tree, fmt).tolist() == enc.toarray().tolist()
    with pytest.raises(ValueError, match="several paths"):
        indicator_to_node_indices(ind, tree)
    assert indicator_to_node_indices(ind[1:], tree).tolist() == [5]


def test_encoder_answers_in_fitted_format(tree):
    enc = HierarchicalLabelEncoder(tree).fit([["A", "A1"], ["B", ""]])
    assert enc.inverse_transform(np.array([3, 0])).tolist() == [["A", "A2"], ["", ""]]
    assert enc.transform([["B", "B1"]]).tolist() == [5]
    enc1 = HierarchicalLabelEncoder(tree).fit(["A1", "B1"])
    assert enc1.inverse_transform([4, 2]).tolist() == ["B", "A1"]
    assert enc1.classes_ == tree.nodes


def test_int_labels():
    from skhier import Taxonomy

    tax = Taxonomy.from_edges([(0, 10), (0, 11), (10, 100), (10, 101)])
    idx, fmt = encode_labels(np.array([100, 11, 101]), tax)
    assert fmt.kind == "leaf" and idx.tolist() == [2, 4, 3]
    out = decode_labels(idx, tax, fmt)
    assert out.dtype.kind == "i" and out.tolist() == [100, 11, 101]


def test_check_node_scores(tree):
    with pytest.raises(ValueError, match="have 3 columns but the taxonomy has 8"):
        check_node_scores(np.ones((2, 3)), tree)
    with pytest.raises(ValueError, match="NaN or infinity"):
        check_node_scores(np.full((1, 8), np.nan), tree)
    with pytest.raises(ValueError, match="probabilities"):
        check_node_scores(-np.ones((1, 8)), tree, probabilities=True)
    with pytest.raises(TypeError, match="numeric"):
        check_node_scores(np.array([["a"] * 8]), tree)
    import torch

    with pytest.raises(ValueError, match="NaN"):
        check_node_scores(torch.full((1, 8), float("inf")), tree)


@given(st.data())
def test_roundtrips(data):
    tax = data.draw(taxonomies(min_nodes=2, max_nodes=20))
    idx = data.draw(node_labels(tax))
    # paths
    paths = node_indices_to_paths(idx, tax)
    enc, fmt = encode_labels(paths, tax, format="path")
    np.testing.assert_array_equal(enc, idx)
    np.testing.assert_array_equal(decode_labels(enc, tax, fmt), paths)
    # 1-D node labels
    labels = np.empty(idx.size, dtype=object)
    labels[:] = [tax.nodes[i] for i in idx]
    enc1, fmt1 = encode_labels(labels, tax)
    np.testing.assert_array_equal(enc1, idx)
    assert decode_labels(enc1, tax, fmt1).tolist() == labels.tolist()
    # indicators with ancestors filled
    ind = node_indices_to_indicator(idx, tax)
    assert (ind.toarray() == tax.ancestor_matrix.toarray()[idx]).all()
    np.testing.assert_array_equal(indicator_to_node_indices(ind, tax), idx)
    only_deepest = sp.csr_matrix((np.ones(idx.size), (np.arange(idx.size), idx)), shape=(idx.size, tax.n_nodes))
    assert (fill_ancestors(only_deepest, tax) != ind).nnz == 0


def test_node_indices_to_labels_takes_the_dtype_of_the_labels_returned():
    """str names give a str array, int names an int64 array even under a str root (only the
    labels returned count), a mix an object array; the values are the nodes themselves."""
    tax = Taxonomy.from_edges([("r", "a"), ("r", 7), ("a", 8)])  # nodes r, a, 7, 8
    i = {n: tax.index(n) for n in tax.nodes}
    out = node_indices_to_labels([i["a"], i["r"], i["a"]], tax)
    assert out.dtype.kind == "U" and out.tolist() == ["a", "r", "a"]
    out = node_indices_to_labels(np.array([i[8], i[7]]), tax)
    assert out.dtype == np.int64 and out.tolist() == [8, 7]
    out = node_indices_to_labels([i[7], i["a"]], tax)
    assert out.dtype == object and out.tolist() == [7, "a"]
    assert node_indices_to_labels([], tax).shape == (0,)


def test_label_sets_and_ragged_paths():
    # issue 27: lists of sets (MultiLabelBinarizer's format) are node sets; issue 26: ragged path lists pad
    tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("a", "z"), ("r", "b")])
    enc, fmt = encode_labels([{"x"}, {"b", "z"}, frozenset({"a"})], tax)
    assert fmt.kind == "indicator" and fmt.sets and fmt.multilabel
    assert enc.toarray().tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 1, 1], [1, 1, 0, 0, 0]]
    assert decode_labels(enc, tax, fmt) == [{"a", "x"}, {"a", "z", "b"}, {"a"}]  # closed, no root
    obj = np.empty(2, dtype=object)
    obj[:] = [{"x"}, {"b"}]
    assert encode_labels(obj, tax)[1].sets
    idx, fmt = encode_labels([["a", "x"], ["b"], ["a"]], tax)
    assert idx.tolist() == [2, 4, 1] and fmt.kind == "path" and fmt.n_levels == 2
    assert decode_labels(idx, tax, fmt).tolist() == [["a", "x"], ["b", None], ["a", None]]


# ------------------------------------------------------------------ fast label encoding
# 2-D paths resolve by their deepest name and are checked vectorised; 1-D labels through
# their distinct values. Both must equal the one-row-at-a-time definition: same indices,
# same format, and for a bad row the same message naming the same first bad sample.
_POOL = ["a", "b", "c", "d"]


def _reference_node_indices(values, tax, name="y"):
    """1-D labels one at a time (the definition)."""
    from skhier._keys import is_missing_label, label_key

    out = []
    for i, v in enumerate(values):
        if is_missing_label(v):
            raise ValueError(f"{name}[{i}] is missing")
        try:
            out.append(tax.index(label_key(v)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}[{i}]: {exc}") from None
    return np.asarray(out, dtype=np.int64)


@st.composite
def _named_paths(draw):
    """A taxonomy whose display names repeat under different parents, and path rows
    over it with padding, a root column and corrupted cells."""
    paths = draw(st.lists(st.lists(st.sampled_from(_POOL), min_size=1, max_size=3), min_size=1, max_size=6))
    longest = max(map(len, paths))
    tax = Taxonomy.from_paths([p + [""] * (longest - len(p)) for p in paths])
    width = int(tax.depth.max())
    fill = draw(st.sampled_from(["", None, np.nan]))
    root = draw(st.booleans())
    rows = []
    for v in draw(st.lists(st.integers(1, tax.n_nodes - 1), min_size=1, max_size=12)):
        names = [tax.names[j] for j in tax.path_indices[v][1 : tax.depth[v] + 1]]
        rows.append(([tax.names[0]] if root else []) + names + [fill] * (width - len(names)))
    arr = np.array(rows, dtype=object)
    for _ in range(draw(st.integers(0, 2))):  # corrupt cells: unknown, another name, padding inside, a bool
        i, k = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, arr.shape[1] - 1))
        arr[i, k] = draw(st.sampled_from(["zz", *_POOL, fill, True]))
    return tax, arr


def _outcome(fn):
    try:
        return fn()
    except ValueError as exc:
        return str(exc)


@given(_named_paths())
def test_fast_path_encoding_equals_row_by_row_definition(case):
    from skhier.labels._encode import _resolve_path_rows

    tax, arr = case
    got = _outcome(lambda: encode_labels(arr, tax, format="path"))
    root = arr.shape[1] > 1 and (tax.names[0],) not in tax.path_lookup and all(
        v == tax.names[0] for v in arr[:, 0].tolist()
    )
    want = _outcome(lambda: _resolve_path_rows(arr, np.arange(arr.shape[0]), int(root), tax, "y"))
    if isinstance(want, str):
        assert got == want
    else:
        assert not isinstance(got, str), got
        assert got[0].tolist() == want[0].tolist()
        assert got[1].include_root == root


@given(st.lists(st.sampled_from(["a", "b", "zz", "", None, np.nan, 3, 3.0, True]), min_size=1, max_size=20),
       st.sampled_from([None, object]))
def test_fast_label_encoding_equals_one_at_a_time(values, dtype):
    tax = Taxonomy.from_edges([("r", "a"), ("r", "b"), ("a", 3)])
    arr = np.array(values, dtype=dtype) if dtype is not None else values
    got = _outcome(lambda: to_node_indices(arr, tax))
    from skhier.labels._formats import _as_array

    read = _as_array(arr).tolist()  # the labels as every reader of y reads them
    want = _outcome(lambda: _reference_node_indices(read, tax))
    if isinstance(want, str):
        assert isinstance(got, str), got
        assert got.split(":")[0].split(" is ")[0] == want.split(":")[0].split(" is ")[0]  # the same sample
    else:
        assert not isinstance(got, str), got
        assert got.tolist() == want.tolist()


def test_fast_path_encoding_regressions():
    tax = Taxonomy.from_paths([["A", "x"], ["B", "x"], ["B", "y"]])
    # an ambiguous deepest name resolves through its parent; a wrong parent is named
    idx, _ = encode_labels(np.array([["B", "x"], ["A", "x"], ["B", "y"]], dtype=object), tax)
    assert [tax.nodes[i] for i in idx] == [("B", "x"), ("A", "x"), "y"]
    with pytest.raises(ValueError, match=r"y\[1\] = \['A', 'y'\] contradicts the taxonomy: 'y' is not a child of 'A'"):
        encode_labels(np.array([["B", "y"], ["A", "y"]], dtype=object), tax)
    # a bool where an int name is expected is refused, not read as 1
    itax = Taxonomy.from_edges([(0, 1), (1, 2)])
    with pytest.raises(ValueError, match=r"y\[1\]"):
        encode_labels(np.array([[1, 2], [True, 2]], dtype=object), itax)
    # 1-D: the first bad sample in sample order, whatever the sort order of the values
    with pytest.raises(ValueError, match=r"y\[2\]: unknown label 9"):
        to_node_indices(np.array([2, 1, 9, 7]), itax)
    with pytest.raises(ValueError, match=r"y\[1\] is missing \(nan\)"):
        to_node_indices([2, np.nan], itax)


def test_unhashable_one_dimensional_label_is_refused_naming_the_sample():
    tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    y = np.empty(2, dtype=object)
    y[0], y[1] = "a", {"b": 1}
    with pytest.raises(ValueError, match=r"y\[1\]: taxonomy nodes must be str or int"):
        to_node_indices(y, tax)
