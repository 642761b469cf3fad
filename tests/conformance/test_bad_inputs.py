"""Bad or edge inputs across the public API: each gets a clear error naming the offending
argument and value (never a torch traceback, never a silently wrong answer).

One table per area, in ``tests/<area>/bad_inputs.py``; each row is (id, call, exception type,
regex the message matches). Keep adding rows: every bad input met in a review or a bug report
belongs in its area's table.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skhier import (
    BottomUpRefiner,
    DiffusionRefiner,
    FlatClassifier,
    LocalClassifierPerNode,
    Taxonomy,
)
from skhier.labels import encode_labels
from skhier.neural import (
    FlatSoftmaxClassifier,
)
from tests.conformance._bad_input_fixtures import (
    NEURAL,
    S,
    T,
)
from tests.datasets.bad_inputs import DATASETS
from tests.inference.bad_inputs import INFERENCE
from tests.labels.bad_inputs import LABELS
from tests.local.bad_inputs import LOCAL
from tests.metrics.bad_inputs import LATENT, METRICS
from tests.neural.bad_inputs import NEURAL_CASES
from tests.taxonomy.bad_inputs import DAGS, TAXONOMY
from tests.utils.bad_inputs import PARAMETERS

CASES = [(f"{group}:{row[0]}", *row[1:]) for group, table in [
    ("taxonomy", TAXONOMY), ("labels", LABELS), ("metrics", METRICS), ("latent", LATENT), ("inference", INFERENCE),
    ("local", LOCAL), ("neural", NEURAL_CASES), ("datasets", DATASETS), ("dag", DAGS),
    ("parameters", PARAMETERS)] for row in table]


def _random_state_instance():
    X6 = np.random.default_rng(0).normal(size=(6, 3))
    fits = [FlatSoftmaxClassifier(T, random_state=np.random.RandomState(0), **NEURAL).fit(X6, ["A1", "A2", "B1"] * 2)
            for _ in range(2)]
    return np.array_equal(fits[0].predict_proba(X6), fits[1].predict_proba(X6))


def _silent_local():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        LocalClassifierPerNode(taxonomy=T, verbose=-1).fit(np.random.default_rng(0).normal(size=(6, 3)),
                                                          ["A1", "A2", "B1"] * 2)
    return out.getvalue() == ""


#: edge inputs that must give a correct answer (not an error): (name, call returning True when right)
MUST_WORK = [
    ("random_state as a numpy RandomState", _random_state_instance),
    ("local classifiers' verbose=-1 is silent", _silent_local),
    # threshold 1: only the root scores 1; threshold 0: every node qualifies, the best-scored deepest (A1, .5)
    ("threshold at the bounds",
     lambda: DiffusionRefiner(T, alpha=0.0, decision="threshold", threshold=1.0).fit(S).predict(S).tolist()
     == ["root"] * 2 and BottomUpRefiner(T, threshold=0.0).fit(S).predict(S).tolist() == ["A1"] * 2),
    ("NaN padding in a path array", lambda: Taxonomy.from_paths([["A", "A1"], ["B", np.nan]]).n_nodes == 4),
]


@pytest.mark.parametrize("call", [c for _, c in MUST_WORK], ids=[n for n, _ in MUST_WORK])
def test_edge_input_gets_a_correct_answer(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert call() is True


def test_at_least_a_hundred_cases():
    assert len(CASES) >= 100
    groups = {}
    for name, *_ in CASES:
        groups[name.split(":")[0]] = groups.get(name.split(":")[0], 0) + 1
    print(f"bad-input table: {len(CASES)} rows, each a clear error ("
          + ", ".join(f"{g} {n}" for g, n in groups.items())
          + f"); {len(MUST_WORK)} edge inputs with a correct answer (MUST_WORK), and the further correct answers "
          "of test_edge_inputs_that_must_work")


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call()


def test_iterative_diffusion_warns_when_not_converged():
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=1 steps"):
        DiffusionRefiner(T, method="iterative", max_iter=1).fit(S).transform(S)


def test_edge_inputs_that_must_work():
    # integer path columns padded with NaN (a float array) or pd.NA read as ints
    tax = Taxonomy.from_paths(np.array([[1, 10], [1, 11], [2, np.nan]]))
    assert tax.nodes == ("root", 1, 10, 11, 2)
    assert encode_labels(np.array([[1, 11], [2, np.nan]]), tax)[0].tolist() == [3, 4]
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"l1": [1, 2], "l2": pd.array([10, pd.NA], dtype="Int64")})
    assert encode_labels(frame, tax)[0].tolist() == [2, 4]
    # '1' and 1 are two nodes; a list holding both keeps them apart (numpy would make both '1')
    t2 = Taxonomy.from_parent_mapping({"1": "A", 1: "A", "A": "root", 2: "root"})
    assert encode_labels(["1", 1, 2], t2)[0].tolist() == [t2.index("1"), t2.index(1), t2.index(2)]
    assert encode_labels([["A", "1"], ["A", 1]], t2)[0].tolist() == [t2.index("1"), t2.index(1)]
    # a ragged Python list of paths is padded (issue 26)
    X6 = np.random.default_rng(0).normal(size=(6, 3))
    flat = FlatClassifier(LogisticRegression(), T).fit(X6, [["A", "A1"], ["B"], ["B", "B1"]] * 2)
    assert flat.predict(X6).shape == (6, 2)
    # a 10,000-deep chain builds without recursion
    deep = current = {}
    for i in range(10_000):
        current[f"n{i}"] = {}
        current = current[f"n{i}"]
    assert Taxonomy.from_nested_dict(deep).max_depth == 9_999
