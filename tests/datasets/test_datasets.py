import gzip

import numpy as np
import pytest

from skhier import Taxonomy
from skhier.datasets import load_fashion_mnist, make_hierarchical_classification, make_taxonomy
from skhier.datasets._fashion_mnist import CLASS_NAMES


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_fashion(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


def test_load_fashion_mnist_formats(tiny_fashion):
    X, y, tax = load_fashion_mnist(data_home=tiny_fashion, return_X_y=True)
    assert X.shape == (12, 1, 28, 28) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert tax.n_nodes == 19 and [len(lv) for lv in tax.levels] == [1, 2, 6, 10]
    assert y[0].tolist() == ["Clothes", "Tops", "T-shirt/top"] and y[9].tolist() == ["Goods", "Shoes", "Ankle boot"]
    leaf = load_fashion_mnist(data_home=tiny_fashion, label_format="leaf").target
    assert leaf.tolist()[:10] == list(CLASS_NAMES)
    ind = load_fashion_mnist(data_home=tiny_fashion, label_format="indicator", subset="test").target
    assert ind.shape == (5, 19) and (ind.sum(1) == 4).all()  # root + 3 levels
    both = load_fashion_mnist(data_home=tiny_fashion, subset="all", hierarchy="flat")
    assert both.data.shape[0] == 17 and both.taxonomy.max_depth == 1
    assert both.original_target.tolist() == list(np.arange(12) % 10) + list(np.arange(5) % 10)


def test_load_fashion_mnist_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("SKHIER_FASHION_MNIST", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(data_home=tmp_path)
    with pytest.raises(ValueError, match="hierarchy must be"):
        load_fashion_mnist(hierarchy="nope")
    with pytest.raises(ValueError, match="lacks Fashion-MNIST classes"):
        load_fashion_mnist(hierarchy=Taxonomy.from_edges([("r", "a")]))


def test_environment_variable(tiny_fashion, monkeypatch):
    monkeypatch.setenv("SKHIER_FASHION_MNIST", str(tiny_fashion))
    assert load_fashion_mnist(n_samples=3).data.shape == (3, 1, 28, 28)


def test_make_taxonomy():
    tax = make_taxonomy(3, 2)
    assert tax.n_nodes == 15 and tax.n_leaves == 8 and set(tax.depth[tax.leaves]) == {3}
    ragged = make_taxonomy(2, (1, 4), random_state=0)
    assert ragged == make_taxonomy(2, (1, 4), random_state=0)
    with pytest.raises(ValueError, match="branching"):
        make_taxonomy(2, 0)


def test_synthetic_is_seeded_and_hierarchical():
    X, y, tax = make_hierarchical_classification(3000, 16, n_levels=2, branching=3, noise=0.1, random_state=0)
    X2, y2, _ = make_hierarchical_classification(3000, 16, n_levels=2, branching=3, noise=0.1, random_state=0)
    np.testing.assert_array_equal(X, X2) and np.testing.assert_array_equal(y, y2)
    centres = {v: X[y == v].mean(0) for v in tax.leaf_names}
    dist = lambda a, b: np.linalg.norm(centres[a] - centres[b])
    sib, cous = [], []
    for a in tax.leaf_names:
        for b in tax.leaf_names:
            if a < b:
                (sib if tax.parent[tax.index(a)] == tax.parent[tax.index(b)] else cous).append(dist(a, b))
    assert max(sib) < min(cous)  # siblings are closer than cousins
    _, paths, _ = make_hierarchical_classification(10, 4, taxonomy=tax, label_format="path", random_state=0)
    assert paths.shape == (10, 2)
    with pytest.raises(ValueError, match="weights"):
        make_hierarchical_classification(10, 4, taxonomy=tax, weights=[1, 2])


def test_more_bad_input(tiny_fashion):
    with pytest.raises(ValueError, match="subset must be"):
        load_fashion_mnist(data_home=tiny_fashion, subset="valid")
    with pytest.raises(ValueError, match="label_format must be"):
        load_fashion_mnist(data_home=tiny_fashion, label_format="node")
    with pytest.raises(ValueError, match="n_levels must be a positive int"):
        make_taxonomy(0)
    with pytest.raises(ValueError, match="at least two leaves"):
        make_hierarchical_classification(10, 3, taxonomy=Taxonomy.from_edges([("r", "a")]))
    with pytest.raises(ValueError, match="label_format must be"):
        make_hierarchical_classification(10, 3, label_format="node")
