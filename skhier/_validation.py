"""Validation shared by every module (torch-free): scalar parameters, one rule and one
message shape for every estimator; and what counts as a torch tensor."""

from __future__ import annotations

import math
import numbers

__all__ = ["check_number", "is_tensor"]


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor, told without importing torch."""
    return hasattr(x, "detach") and hasattr(x, "device")


def check_number(value, name, *, low=None, high=None, low_open=False, high_open=False, integer=False,
                 allow_none=False):
    """Return ``value`` (a Python number) if it is a real number in range, else raise.

    The message always reads ``"<name> must be <what>, got <value!r>"``. Booleans, NaN
    and infinities are refused; numpy scalars are accepted.

    Parameters
    ----------
    value : object
        The parameter's value.
    name : str
        The parameter's name, for the message.
    low, high : float, default=None
        Lower bound (exclusive with ``low_open``); upper bound (exclusive with ``high_open``).
    low_open : bool, default=False
        Exclude ``low``.
    high_open : bool, default=False
        Exclude ``high``.
    integer : bool, default=False
        Require an int.
    allow_none : bool, default=False
        Let ``None`` through.

    Returns
    -------
    value : int, float or None

    Examples
    --------
    >>> from skhier._validation import check_number
    >>> check_number(0.3, "alpha", low=0, high=1, high_open=True)
    0.3
    >>> check_number(1.0, "alpha", low=0, high=1, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a number in [0, 1), got 1.0
    """
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        raise ValueError(
            f"{name} must be {_describe(low, high, low_open, high_open, integer, allow_none)}, got {value!r}")
    return int(value) if integer else float(value)


def _describe(low, high, low_open, high_open, integer, allow_none) -> str:
    noun = "int" if integer else "number"
    if low is not None and high is not None:
        what = f"a {noun} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif high is not None:
        what = f"a {noun} {'<' if high_open else '<='} {high}"
    elif low is None:
        what = f"a finite {noun}"
    elif (low == 0 and low_open) or (low == 1 and integer and not low_open):
        what = f"a positive {noun}"
    elif low == 0:
        what = f"a non-negative {noun}"
    else:
        what = f"a {noun} {'>' if low_open else '>='} {low}"
    return f"None or {what}" if allow_none else what
