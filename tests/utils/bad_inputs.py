"""Bad inputs of utils: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (PARAMETERS)."""


import numpy as np

from skhier import (
    BottomUpRefiner,
    DiffusionRefiner,
    LocalClassifierPerNode,
    Taxonomy,
    TaxonomyError,
    TopDownRefiner,
)
from skhier.datasets import make_taxonomy
from skhier.neural import (
    FlatSoftmaxClassifier,
    HMLCEncoder,
)
from tests.conformance._bad_input_fixtures import (
    _NET,
    NEURAL,
    S,
    T,
    _fit,
)

PARAMETERS = [
    ("max_epochs 0", _fit(FlatSoftmaxClassifier(T, max_epochs=0, **_NET)), ValueError,
     "max_epochs must be a positive int, got 0"),
    ("max_epochs -1", _fit(FlatSoftmaxClassifier(T, max_epochs=-1, **_NET)), ValueError,
     "max_epochs must be a positive int, got -1"),
    ("max_epochs 1.5", _fit(FlatSoftmaxClassifier(T, max_epochs=1.5, **_NET)), ValueError,
     "max_epochs must be a positive int, got 1.5"),
    ("max_epochs None", _fit(FlatSoftmaxClassifier(T, max_epochs=None, **_NET)), ValueError,
     "max_epochs must be a positive int, got None"),
    ("batch_size 0", _fit(FlatSoftmaxClassifier(T, batch_size=0, **NEURAL)), ValueError,
     "batch_size must be a positive int, -1 or 'auto', got 0"),
    ("lr negative", _fit(FlatSoftmaxClassifier(T, lr=-1e-3, **NEURAL)), ValueError,
     "lr must be a positive number, got -0.001"),
    ("warm_start str", _fit(FlatSoftmaxClassifier(T, warm_start="yes", **NEURAL)), ValueError,
     "warm_start must be True or False, got 'yes'"),
    ("verbose negative (neural)", _fit(FlatSoftmaxClassifier(T, verbose=-1, **NEURAL)), ValueError,
     "verbose must be True, False or an int >= 0, got -1"),
    ("random_state float", _fit(FlatSoftmaxClassifier(T, random_state=1.5, **NEURAL)), ValueError,
     r"random_state must be None, an int in \[0, 2\*\*32 - 1\] or a numpy.random.RandomState, got 1.5"),
    ("random_state str", _fit(FlatSoftmaxClassifier(T, random_state="abc", **NEURAL)), ValueError,
     "random_state must be None, .* got 'abc'"),
    ("random_state negative", _fit(FlatSoftmaxClassifier(T, random_state=-1, **NEURAL)), ValueError,
     "random_state must be None, .* got -1"),
    ("backbone width zero", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__hidden=(0,))),
     ValueError, r"backbone__hidden must be a positive int or a non-empty sequence of them, got \(0,\)"),
    ("backbone width negative", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__hidden=(-3,))),
     ValueError, r"backbone__hidden must be a positive int .* got \(-3,\)"),
    ("backbone dropout 1", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__dropout=1.0)),
     ValueError, r"backbone__dropout must be a number in \[0, 1\), got 1.0"),
    ("hmlc temperature zero", _fit(HMLCEncoder(T, temperature=0, **NEURAL)), ValueError,
     "temperature must be a positive number, got 0"),
    ("diffusion threshold above 1", lambda: DiffusionRefiner(T, decision="threshold", threshold=2).fit(S),
     ValueError, r"threshold must be a number in \[0, 1\], got 2"),
    ("bottom-up threshold above 1", lambda: BottomUpRefiner(T, threshold=5).fit(S), ValueError,
     r"threshold must be a number in \[0, 1\], got 5"),
    ("refiner threshold negative", lambda: TopDownRefiner(T, threshold=-0.5).fit(S), ValueError,
     r"threshold must be a number in \[0, 1\], got -0.5"),
    ("local verbose float", _fit(LocalClassifierPerNode(taxonomy=T, verbose=0.5)), ValueError,
     "verbose must be True, False or an int, got 0.5"),
    ("NaN among the labels (neural)", _fit(FlatSoftmaxClassifier(T, **NEURAL), y=["A1", np.nan, "B1"] * 2),
     ValueError, r"y\[1\]: unknown label 'nan': .* missing value that numpy turned into the string 'nan'"),
    ("NaN among float labels (local)", _fit(LocalClassifierPerNode(), y=[1.0, np.nan, 2.0] * 2), ValueError,
     "Input y contains NaN"),
    ("X beyond float32", _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.full((6, 3), 1e300)), ValueError,
     "X has values beyond float32's range"),
    ("mixed int and str labels", _fit(FlatSoftmaxClassifier(None, **NEURAL), y=[1, "a", 2] * 2), TypeError,
     r"y mixes label types: int \(1\), str \('a'\)"),
    ("branching of three values", lambda: make_taxonomy(3, (2, 3, 2)), ValueError,
     r"branching must be an int or an inclusive \(min, max\) pair of ints, got \(2, 3, 2\)"),
    ("obo from an empty string", lambda: Taxonomy.from_obo(""), ValueError, "source is empty"),
    ("a node named ''", lambda: Taxonomy.from_parent_mapping({"": "root", "a": "root"}), TaxonomyError,
     "a node is named '' .* padding"),
]
