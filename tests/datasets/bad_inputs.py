"""Bad inputs of datasets: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (DATASETS)."""



from skhier.datasets import load_fashion_mnist, make_fashion_mosaics, make_hierarchical_classification, make_taxonomy
from skhier.neural.data import auto_batch_size

DATASETS = [
    (
        "n_samples negative",
        lambda: load_fashion_mnist(n_samples=-5),
        ValueError,
        "n_samples must be None or a positive int, got -5",
    ),
    ("n_samples float", lambda: load_fashion_mnist(n_samples=2.5), ValueError, "got 2.5"),
    (
        "subset",
        lambda: load_fashion_mnist(subset="valid"),
        ValueError,
        "subset must be 'train', 'test' or 'all', got 'valid'",
    ),
    (
        "hierarchy",
        lambda: load_fashion_mnist(hierarchy="deep"),
        ValueError,
        "hierarchy must be a Taxonomy or one of.*'deep'",
    ),
    ("label format", lambda: load_fashion_mnist(label_format="onehot"), ValueError, "label_format must be.*'onehot'"),
    ("taxonomy levels", lambda: make_taxonomy(0), ValueError, "n_levels must be a positive int, got 0"),
    ("branching", lambda: make_taxonomy(2, (3, 1)), ValueError, r"branching must be >= 1.*\(3, 1\)"),
    ("make_hc levels", lambda: make_hierarchical_classification(10, 2, n_levels=0), ValueError, "n_levels"),
    ("auto batch", lambda: auto_batch_size("many"), TypeError, "n_samples must be an int, got 'many'"),
    ("mosaics subset", lambda: make_fashion_mosaics(4, subset="all"), ValueError, "subset must be 'train' or 'test'"),
    ("mosaics grid", lambda: make_fashion_mosaics(4, grid=1.5), ValueError, "grid must be a positive int, got 1.5"),
    ("mosaics items", lambda: make_fashion_mosaics(4, max_items=9), ValueError, r"max_items <= grid\*\*2 = 4"),
    (
        "mosaics co-occurrence",
        lambda: make_fashion_mosaics(4, co_occurrence="party"),
        ValueError,
        "co_occurrence must be None, 'outfits' or a mapping",
    ),
]

# DAG ontologies (a node with several parents): what needs one path per sample says so
