"""WeightAveraging: the moving average of the weights, validated, early-stopped on and kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skhier import Taxonomy
from skhier.neural import CHMCNNClassifier, MultiLabelNodeClassifier
from skhier.neural.callbacks import WeightAveraging
from skhier.persistence import load_model, save_model

TAX = Taxonomy.from_edges([("r", "a"), ("r", "b"), ("a", "a1"), ("a", "a2"), ("b", "b1")])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 6)).astype("float32")
    y = [["a", "a1"] if x[0] > 0.3 else ["a", "a2"] if x[0] > -0.3 else ["b", "b1"] for x in X]
    return X, y


class _Steps(Callback):
    """Records the raw weights after every training step (runs after WeightAveraging)."""

    def on_train_begin(self, net, **kwargs):
        self.steps_ = []

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps_.append({k: v.detach().clone() for k, v in net.module_.state_dict().items()})


def _net(callbacks, **kw):
    kw = {"max_epochs": 3, "batch_size": 16, "device": "cpu", "random_state": 0, "verbose": 0, **kw}
    return MultiLabelNodeClassifier(TAX, callbacks=callbacks, **kw)


def _ema(steps, decay, warmup=None):
    avg = {k: v.clone() for k, v in steps[0].items()}
    for t, step in enumerate(steps[1:], start=1):  # t updates averaged so far
        d = decay if warmup is None else min(decay, (1 + t) / (warmup + t))
        for k in avg:
            avg[k] = d * avg[k] + (1 - d) * step[k]
    return avg


def test_the_defaults_are_decay_0_999_with_tensorflow_s_ramp():
    assert (WeightAveraging().decay, WeightAveraging().warmup) == (0.999, 10)


def test_the_warmup_ramp_is_tensorflow_s_by_hand(data):
    X, y = data
    steps = _Steps()
    clf = _net([("ema", WeightAveraging(decay=0.9, warmup=10)), ("steps", steps)], train_split=None).fit(X, y)
    expected = _ema(steps.steps_, 0.9, warmup=10)
    # the ramp's decays over these 18 steps run 2/11 ... 18/27 < 0.9, so it differs from the plain average
    plain = _ema(steps.steps_, 0.9)
    key = next(iter(expected))
    assert not torch.allclose(expected[key], plain[key])
    for k, v in clf.module_.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("train_split", [None, "default"])
def test_the_fitted_module_is_the_moving_average_of_the_steps_by_hand(data, train_split):
    X, y = data
    steps = _Steps()
    kw = {} if train_split == "default" else {"train_split": None}
    clf = _net([("ema", WeightAveraging(decay=0.7, warmup=None)), ("steps", steps)], **kw).fit(X, y)
    expected = _ema(steps.steps_, 0.7)
    assert len(steps.steps_) >= 15  # 3 epochs of 16-sample batches from 86 or 96 samples
    for k, v in clf.module_.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-5, atol=1e-6)
    assert dict(clf.callbacks_)["ema"].average_ is None  # dropped once training ended


def test_validation_on_the_average_leaves_the_training_trajectory_unchanged(data):
    X, y = data
    with_avg, without = _Steps(), _Steps()
    _net([("ema", WeightAveraging(decay=0.5, warmup=None)), ("steps", with_avg)]).fit(X, y)
    _net([("steps", without)]).fit(X, y)
    assert len(with_avg.steps_) == len(without.steps_) > 0
    for a, b in zip(with_avg.steps_, without.steps_):
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_valid_loss_is_the_average_s_and_decay_zero_changes_nothing(data):
    X, y = data
    plain = _net([]).fit(X, y)
    zero = _net([("ema", WeightAveraging(decay=0.0))]).fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), zero.predict_proba(X))
    assert plain.history[:, "valid_loss"] == zero.history[:, "valid_loss"]
    averaged = _net([("ema", WeightAveraging(decay=0.9))]).fit(X, y)
    # the first epoch's training steps are the same in all three; its validation is not
    assert averaged.history[0, "train_loss"] == plain.history[0, "train_loss"]
    assert averaged.history[0, "valid_loss"] != plain.history[0, "valid_loss"]


class _EpochEnds(Callback):
    """Records the module's weights at every epoch's end, after its validation pass."""

    def on_train_begin(self, net, **kwargs):
        self.states_ = []

    def on_epoch_end(self, net, **kwargs):
        self.states_.append({k: v.detach().clone() for k, v in net.module_.state_dict().items()})


def test_validation_and_early_stopping_see_the_average_and_restore_its_best(data):
    X, y = data
    steps, ends = _Steps(), _EpochEnds()
    clf = CHMCNNClassifier(TAX, max_epochs=40, patience=1, refit=False, batch_size=16, device="cpu",
                           random_state=0, verbose=0, module__hidden=8, averaging=None,
                           callbacks=[("ema", WeightAveraging(decay=0.8, warmup=None)), ("steps", steps),
                                      ("ends", ends)]).fit(X, y)
    n_epochs = len(clf.history)
    per_epoch = len(steps.steps_) // n_epochs
    for e, state in enumerate(ends.states_):  # what was validated at each epoch: the average so far
        expected = _ema(steps.steps_[:(e + 1) * per_epoch], 0.8)
        for k in state:
            torch.testing.assert_close(state[k], expected[k], rtol=1e-5, atol=1e-6)
    best = int(np.argmax(clf.history[:, "valid_ap"]))
    assert best < n_epochs - 1  # stopped early: the restored weights are not the last ones
    for k, v in clf.module_.state_dict().items():
        torch.testing.assert_close(v, ends.states_[best][k], rtol=0, atol=0)


def test_a_fitted_net_with_it_pickles_clones_and_saves(data, tmp_path):
    import pickle

    from sklearn.base import clone

    X, y = data
    clf = _net([("ema", WeightAveraging(decay=0.9))]).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).callbacks[0][1].decay == 0.9
    save_model(clf, tmp_path / "m.skhier")
    np.testing.assert_array_equal(load_model(tmp_path / "m.skhier").predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("decay, error, match", [
    (-0.1, ValueError, r"decay must be .*got -0\.1"),
    (1.0, ValueError, r"decay must be .*got 1\.0"),
    (float("nan"), ValueError, r"decay must be .*got nan"),
    ("0.9", ValueError, r"decay must be .*got '0\.9'"),
    (True, ValueError, r"decay must be .*got True"),
    ((0.9, 0), ValueError, r"warmup must be .*got 0"),
    ((0.9, 2.5), ValueError, r"warmup must be .*got 2\.5"),
])
def test_bad_decay_or_warmup_is_refused_naming_it(data, decay, error, match):
    X, y = data
    decay, warmup = decay if isinstance(decay, tuple) else (decay, None)
    with pytest.raises(error, match=match):
        _net([("ema", WeightAveraging(decay=decay, warmup=warmup))]).fit(X, y)


def test_chmcnn_averaging_adds_the_callback_to_the_selection_fit_and_the_refit(data):
    X, y = data
    kw = {"max_epochs": 4, "patience": 1, "batch_size": 16, "device": "cpu", "random_state": 0, "verbose": 0,
          "module__hidden": 8}
    tax = TAX
    plain = CHMCNNClassifier(tax, averaging=None, **kw).fit(X, y)
    assert "weight_averaging" not in dict(plain.callbacks_)
    assert dict(CHMCNNClassifier(tax, **kw).fit(X, y).callbacks_)["weight_averaging"].decay == 0.999  # the default
    steps = _Steps()
    avg = CHMCNNClassifier(tax, averaging=0.6, callbacks=[("steps", steps)], **kw).fit(X, y)
    assert dict(avg.callbacks_)["weight_averaging"].decay == 0.6
    assert avg.refit_epochs_ is not None and len(avg.history) == avg.refit_epochs_
    expected = _ema(steps.steps_, 0.6, warmup=10)  # the refit's steps: the recorder restarts at each fit
    for k, v in avg.module_.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-5, atol=1e-6)
    assert avg.get_params()["averaging"] == 0.6


def test_chmcnn_refuses_a_second_average_from_the_callbacks(data):
    """A user's own WeightAveraging beside the default one would average the average: refused,
    naming both ways out; with ``averaging=None`` the user's callback is the only one."""
    X, y = data
    kw = {"max_epochs": 2, "device": "cpu", "random_state": 0, "verbose": 0, "module__hidden": 8}
    mine = [("ema", WeightAveraging(decay=0.9))]
    with pytest.raises(ValueError, match=r"callbacks holds a WeightAveraging \('ema'\) and averaging=0\.999 adds "
                                         r"another.*averaging=None"):
        CHMCNNClassifier(TAX, callbacks=mine, **kw).fit(X, y)
    clf = CHMCNNClassifier(TAX, callbacks=mine, averaging=None, **kw).fit(X, y)
    assert [name for name, cb in clf.callbacks_ if isinstance(cb, WeightAveraging)] == ["ema"]


@pytest.mark.parametrize("averaging, match", [(1.0, r"averaging must be .*got 1\.0"),
                                              (-0.5, r"averaging must be .*got -0\.5"),
                                              ("high", r"averaging must be .*got 'high'")])
def test_chmcnn_bad_averaging_is_refused_naming_it(data, averaging, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        CHMCNNClassifier(TAX, averaging=averaging, max_epochs=1, device="cpu", module__hidden=8).fit(X, y)
