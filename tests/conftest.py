import numpy as np
import pytest
from hypothesis import settings

from skhier import Taxonomy

# scripts the tests run in subprocesses, not test modules: --doctest-modules would import
# them, and accelerate_train.py needs the accelerate extra (its tests skip without it)
collect_ignore = ["neural/accelerate_train.py", "conformance/scale_check.py"]

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("ci")


@pytest.fixture
def tree():
    """root -> {A -> {A1, A2}, B -> {B1, B2, B3}}: the worked example of the metrics issue."""
    return Taxonomy.from_parent_mapping(
        {"A": "root", "B": "root", "A1": "A", "A2": "A", "B1": "B", "B2": "B", "B3": "B"}
    )


@pytest.fixture
def ragged():
    """Ragged depth, a single-child chain and a name shared by two parents."""
    return Taxonomy.from_paths(
        [
            ["Clothes", "Tops", "Shirt"],
            ["Clothes", "Tops", "Other"],
            ["Clothes", "Dress", ""],
            ["Goods", "Other", ""],
            ["Goods", "Bag", "Tote"],
        ]
    )


#: Refit-heavy suites, run by CI (``python -m pytest``) and left out of the quick suite
#: (``python -m pytest -m "not slow"``): scikit-learn's estimator checks over every
#: estimator, subprocess and cluster runs, the gallery, the 10⁵-node scale runs, the
#: contract's cross-validation of every family, and the real-data HMC passes.
SLOW_MODULES = {
    "tests/conformance/test_common.py",
    "tests/conformance/test_scale.py",
    "tests/neural/test_accelerate.py",
    "tests/local/test_distributed.py",
    "tests/docs/test_examples.py",
    "tests/conformance/test_contract.py",
    "tests/docs/test_contributing.py",
    "tests/utils/test_parameters.py",
}
SLOW_TESTS = (
    "tests/datasets/test_hmc.py::test_predictions_are_coherent_on_every_go_dataset",
    "tests/datasets/test_hmc.py::test_every_dataset_matches_the_benchmark_table",
    "tests/neural/test_cmsg.py::test_cmsg_clone_pickle_and_ablations",
    "tests/neural/test_cmsg.py::test_cmsg_embedding_correlation",
    "tests/local/test_local.py::test_local_classifiers_never_import_torch",
)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA device")
    try:
        import accelerate  # noqa: F401

        has_accelerate = True
    except ImportError:
        has_accelerate = False
    skip_accelerate = pytest.mark.skip(reason="needs the skhier[accelerate] extra: pip install 'skhier[accelerate]'")
    for item in items:
        path = item.nodeid.split("::")[0]
        if path in SLOW_MODULES or any(item.nodeid.startswith(t) for t in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip)
        if not has_accelerate and item.nodeid.startswith("skhier/neural/_accelerate.py"):
            item.add_marker(skip_accelerate)  # the doctest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
