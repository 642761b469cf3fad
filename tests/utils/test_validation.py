"""skhier.utils.validation: the checks, their one message shape, and declared rules."""

import numpy as np
import pytest

from skhier import Taxonomy
from skhier.inference import DiffusionRefiner, TopDownRefiner
from skhier.neural import HMLCEncoder, MultiLabelNodeClassifier
from skhier.utils.validation import (
    Interval,
    Options,
    check_option,
    check_sample_weight,
    parameter_rules,
    validate_params,
)

TAX = Taxonomy.from_paths([["A", "a"], ["B", "b"]])


@pytest.mark.parametrize("call, exc, match", [
    (lambda: check_option("x", "kind", ("a", "b")), ValueError, r"kind must be one of 'a', 'b', got 'x'"),
    (lambda: check_option(np.array([1]), "kind", (1,)), ValueError, "kind must be one of 1, got array"),
    (lambda: check_option(1.0, "flag", (True, False)), ValueError, "flag must be one of True, False, got 1.0"),
    (lambda: check_sample_weight([1, 2, 3], 2), ValueError, r"sample_weight must have shape \(2,\), got \(3,\)"),
    (lambda: check_sample_weight([1, np.nan], 2), ValueError, "sample_weight must be finite and non-negative, got NaN"),
    (lambda: check_sample_weight(["a", "b"], 2), TypeError, "sample_weight must be numeric, got list"),
    (lambda: Interval(0, 1).check(2, "p"), ValueError, r"p must be a number in \[0, 1\], got 2"),
    (lambda: Interval(1, integer=True).check(0, "n"), ValueError, "n must be a positive int, got 0"),
    (lambda: Options(None, "bf16").check("fp16", "mixed_precision"), ValueError,
     "mixed_precision must be one of None, 'bf16', got 'fp16'"),
    (lambda: validate_params(DiffusionRefiner(TAX, alpha=1.0)), ValueError, r"alpha must be a number in \[0, 1\)"),
    (lambda: validate_params(DiffusionRefiner(TAX, solver="lu")), ValueError,
     "solver must be one of 'auto', 'dense', 'tree', got 'lu'"),
    (lambda: validate_params(MultiLabelNodeClassifier(TAX, consistency="drop")), ValueError,
     "consistency must be one of 'fill', 'prune', got 'drop'"),
    (lambda: validate_params(HMLCEncoder(TAX, n_views=0)), ValueError, "n_views must be a positive int, got 0"),
])
def test_bad_values_get_one_message_shape(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_good_values_pass_through():
    assert check_option(None, "m", (None, "bf16")) is None
    assert check_sample_weight(None, 3) is None
    np.testing.assert_array_equal(check_sample_weight(np.array([0, 2]), 2), [0.0, 2.0])
    assert Interval(0, 1, high_open=True).check(0, "alpha") == 0.0
    assert Interval(allow_none=True).check(None, "x") is None
    validate_params(DiffusionRefiner(TAX))  # every default meets its rule
    validate_params(MultiLabelNodeClassifier(TAX))
    validate_params(HMLCEncoder(TAX))


def test_rules_are_inherited_and_extended():
    base, diffusion = parameter_rules(TopDownRefiner), parameter_rules(DiffusionRefiner)
    assert set(base) == {"decision", "threshold", "taxonomy", "device", "normalize"}
    assert set(diffusion) == {"decision", "threshold", "taxonomy", "device", "alpha", "method", "solver", "max_iter",
                              "tol", "root"}
    assert set(parameter_rules(MultiLabelNodeClassifier)) >= {"threshold", "consistency", "mixed_precision"}


def test_rules_are_checked_once_per_fit_and_after_set_params():
    rng = np.random.default_rng(0)
    s = rng.random((4, TAX.n_nodes))
    s[:, 0] = 1
    ref = DiffusionRefiner(TAX).fit(s)
    ref.set_params(alpha=2.0)  # set after fit: transform and predict refuse it
    for call in (ref.transform, ref.predict):
        with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\), got 2.0"):
            call(s)


def test_numpy_scalars_from_a_param_grid_meet_options():
    """GridSearchCV over a numpy array of options hands np.str_ values (regression)."""
    assert check_option(np.array(["fill", "prune"])[1], "consistency", ("fill", "prune")) == "prune"
    validate_params(MultiLabelNodeClassifier(TAX, consistency=np.str_("prune")))
    with pytest.raises(ValueError, match=r"flag must be one of True, False, got np.int64\(1\)"):
        check_option(np.int64(1), "flag", (True, False))
