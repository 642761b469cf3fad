"""A label passes each room once, downwards (issue 37): during ``fit``'s label phase every
call between skhier's label layers goes down — labels -> validation -> taxonomy -> keys —
never back up (the label code reads the taxonomy's public lookup tables; the taxonomy
never calls back into label code)."""

import sys

import pytest
import skorch

from skhier.datasets import make_hierarchical_classification
from skhier.labels import HierarchicalLabelEncoder, infer_taxonomy
from skhier.neural import FlatSoftmaxClassifier

LAYERS = {"skhier._keys": 0, "skhier._taxonomy": 1, "skhier.utils.validation": 2, "skhier.labels": 3}


def _layer(frame):
    name = frame.f_globals.get("__name__", "")
    return next((rank for prefix, rank in LAYERS.items() if name == prefix or name.startswith(prefix + ".")), None)


def _climbs(run):
    """(caller, callee) pairs where a lower layer calls a higher one, while ``run()`` runs."""
    climbs, visited = [], set()

    def profile(frame, event, arg):
        if event != "call":
            return
        callee, caller = _layer(frame), frame.f_back and _layer(frame.f_back)
        if callee is not None:
            visited.add(callee)
        if callee is not None and caller is not None and callee > caller:
            climbs.append((frame.f_back.f_globals["__name__"], frame.f_globals["__name__"], frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return climbs, visited


X, Y, TAX = make_hierarchical_classification(60, 4, n_levels=2, branching=2, label_format="path", random_state=0)


def _neural_label_phase(**kwargs):
    def run():
        try:
            FlatSoftmaxClassifier(max_epochs=1, device="cpu", random_state=0, **kwargs).fit(X, Y)
        except StopIteration:
            pass

    return run


@pytest.mark.parametrize("run", [
    lambda: HierarchicalLabelEncoder(TAX).fit_transform(Y),
    lambda: infer_taxonomy(Y),
    _neural_label_phase(taxonomy=TAX),
    _neural_label_phase(),
], ids=["encoder", "infer", "neural fit, taxonomy given", "neural fit, taxonomy inferred"])
def test_labels_only_call_down_the_layers(run, monkeypatch):
    def stop(*a, **k):
        raise StopIteration  # the label phase is over once skorch's loop starts

    monkeypatch.setattr(skorch.NeuralNet, "fit_loop", stop)
    climbs, visited = _climbs(run)
    assert not climbs, climbs[:5]
    assert 1 in visited and len(visited) >= 2  # the trace saw the taxonomy and another layer (not vacuous)
