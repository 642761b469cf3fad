"""Input and parameter validation, one rule and one message shape for every estimator.

The counterpart of :mod:`sklearn.utils.validation` for hierarchical data: the taxonomy,
node scores, node indices, sample weights, numbers and options, plus declarative
parameter rules. An estimator declares its rules once, as a class attribute::

    _parameter_rules = {"threshold": Interval(0, 1), "consistency": Options("fill", "prune")}

and calls :func:`validate_params` once per ``fit`` (and once per ``predict`` where
parameters may have changed by ``set_params``). Rules are inherited: a subclass adds
or overrides entries. Every message reads ``"<name> must be <what>, got <value!r>"``.
(scikit-learn's own constraint machinery is private, hence ours.)

Everything here is torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._taxonomy import check_taxonomy
from .._validation import check_number, is_tensor
from ..labels import check_node_indices, check_node_scores

__all__ = [
    "check_taxonomy",
    "check_node_scores",
    "check_node_indices",
    "check_number",
    "check_option",
    "check_sample_weight",
    "Interval",
    "Options",
    "validate_params",
]


def check_option(value, name, options):
    """Return ``value`` if it is one of ``options``, else raise a ``ValueError`` naming them.

    Parameters
    ----------
    value : object
        The parameter's value.
    name : str
        The parameter's name, for the message.
    options : iterable
        The allowed values (compared with ``==``; strings are never matched by a tensor
        or an array).

    Returns
    -------
    value : object

    Examples
    --------
    >>> from skhier.utils.validation import check_option
    >>> check_option("fill", "consistency", ("fill", "prune"))
    'fill'
    >>> check_option("drop", "consistency", ("fill", "prune"))
    Traceback (most recent call last):
    ...
    ValueError: consistency must be one of 'fill', 'prune', got 'drop'
    """
    options = tuple(options)
    v = value.item() if isinstance(value, np.generic) else value  # np.str_ from a numpy param grid
    plain = v is None or isinstance(v, (str, int, float, bool))
    if not plain or not any(v is o or (type(v) is type(o) and v == o) for o in options):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def check_sample_weight(sample_weight, n_samples, *, name="sample_weight"):
    """``sample_weight`` as a float64 array of shape (n_samples,): finite, non-negative.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        ``None`` weighs every sample equally (returned as ``None``).
    n_samples : int
        The number of samples the weights must match.
    name : str, default="sample_weight"
        What the messages call the weights.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None

    Examples
    --------
    >>> from skhier.utils.validation import check_sample_weight
    >>> check_sample_weight([1, 2], 2).tolist()
    [1.0, 2.0]
    >>> check_sample_weight([1, -1], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be finite and non-negative, got a minimum of -1.0
    """
    if sample_weight is None:
        return None
    w = sample_weight.detach().cpu().numpy() if is_tensor(sample_weight) else sample_weight
    try:
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {type(sample_weight).__name__}") from None
    if w.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {w.shape}")
    if w.size and (not np.isfinite(w).all() or w.min() < 0):
        low = float(np.nanmin(w)) if not np.isnan(w).all() else float("nan")
        raise ValueError(f"{name} must be finite and non-negative, got a minimum of {low!r}"
                         if np.isfinite(w).all() else f"{name} must be finite and non-negative, got NaN or infinity")
    return w


@dataclass(frozen=True)
class Interval:
    """A real (or integer) parameter in a range: the rule of :func:`check_number`.

    Parameters
    ----------
    low, high : float, default=None
        Lower bound (exclusive with ``low_open``); upper bound (exclusive with
        ``high_open``). ``None``: no bound.
    high_open : bool, default=False
        Exclude ``high``.
    integer : bool, default=False
        Require an int.
    allow_none : bool, default=False
        Let ``None`` through.
    low_open : bool, default=False
        Exclude ``low`` (``Interval(0, low_open=True)``: a positive number).

    Examples
    --------
    >>> from skhier.utils.validation import Interval
    >>> Interval(0, 1, high_open=True).check(0.5, "alpha")
    0.5
    """

    low: float | None = None
    high: float | None = None
    high_open: bool = False
    integer: bool = False
    allow_none: bool = False
    low_open: bool = False

    def check(self, value, name):
        """Return ``value`` if it meets the rule, else raise a ``ValueError``.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : int, float or None
        """
        return check_number(value, name, low=self.low, high=self.high, low_open=self.low_open,
                            high_open=self.high_open, integer=self.integer, allow_none=self.allow_none)


class Options:
    """A parameter that takes one of a few values: the rule of :func:`check_option`.

    Parameters
    ----------
    *values : object
        The allowed values.

    Examples
    --------
    >>> from skhier.utils.validation import Options
    >>> Options("fill", "prune").check("prune", "consistency")
    'prune'
    """

    def __init__(self, *values):
        self.values = values

    def __repr__(self):
        return f"Options{self.values!r}"

    def check(self, value, name):
        """Return ``value`` if it is allowed, else raise a ``ValueError`` naming the options.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : object
        """
        return check_option(value, name, self.values)


class Boolean:
    """A parameter that is ``True`` or ``False`` (numpy booleans too), scikit-learn's ``"boolean"``.

    Parameters
    ----------
    allow_int : bool or "any", default=False
        Also accept a non-negative int (``verbose``: a flag or a level); ``"any"``: any
        int (a negative level is silent, as 0).

    Examples
    --------
    >>> from skhier.utils.validation import Boolean
    >>> Boolean().check(True, "warm_start")
    True
    >>> Boolean().check("yes", "warm_start")
    Traceback (most recent call last):
    ...
    ValueError: warm_start must be True or False, got 'yes'
    """

    def __init__(self, allow_int=False):
        self.allow_int = allow_int

    def __repr__(self):
        return f"Boolean(allow_int={self.allow_int})"

    def check(self, value, name):
        """Return ``value`` if it is a boolean (or, with ``allow_int``, an int >= 0), else raise.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : bool or int
        """
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if self.allow_int and isinstance(value, (int, np.integer)) and (value >= 0 or self.allow_int == "any"):
            return int(value)
        what = ("True, False or an int" + (" >= 0" if self.allow_int != "any" else "")) if self.allow_int \
            else "True or False"
        raise ValueError(f"{name} must be {what}, got {value!r}")


class RandomState:
    """scikit-learn's ``random_state``: ``None``, an int in [0, 2**32 - 1], or a ``numpy.random.RandomState``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier.utils.validation import RandomState
    >>> RandomState().check(0, "random_state"), RandomState().check(None, "random_state")
    (0, None)
    >>> RandomState().check(-1, "random_state")
    Traceback (most recent call last):
    ...
    ValueError: random_state must be None, an int in [0, 2**32 - 1] or a numpy.random.RandomState, got -1
    """

    def __repr__(self):
        return "RandomState()"

    def check(self, value, name):
        """Return ``value`` if it is a valid random state, else raise naming ``name``.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : None, int or numpy.random.RandomState
        """
        if value is None or isinstance(value, np.random.RandomState):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and 0 <= value < 2**32:
            return int(value)
        raise ValueError(f"{name} must be None, an int in [0, 2**32 - 1] or a numpy.random.RandomState, "
                         f"got {value!r}")


def seed_from(random_state):
    """An int seed from a checked ``random_state`` (``None`` stays ``None``).

    A ``numpy.random.RandomState`` gives one draw (and advances), as scikit-learn's
    estimators do with ``check_random_state``.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        A value :class:`RandomState` accepts.

    Returns
    -------
    seed : int or None

    Examples
    --------
    >>> import numpy as np
    >>> from skhier.utils.validation import seed_from
    >>> seed_from(7), seed_from(None)
    (7, None)
    >>> seed_from(np.random.RandomState(0)) == seed_from(np.random.RandomState(0))
    True
    """
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return None if random_state is None else int(random_state)


class OneOf:
    """A parameter that meets any of several rules (``"auto"``, or an int >= 1 ...).

    Parameters
    ----------
    *rules : rule
        :class:`Interval`, :class:`Options`, :class:`Boolean`, ... The message lists what each accepts.

    Examples
    --------
    >>> from skhier.utils.validation import Interval, OneOf, Options
    >>> rule = OneOf(Options("auto", -1), Interval(1, integer=True))
    >>> rule.check("auto", "batch_size"), rule.check(64, "batch_size")
    ('auto', 64)
    >>> rule.check(0, "batch_size")
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be one of 'auto', -1, or a positive int, got 0
    """

    def __init__(self, *rules):
        self.rules = rules

    def __repr__(self):
        return f"OneOf{self.rules!r}"

    def check(self, value, name):
        """Return ``value`` (as the first rule that accepts it returns it), else raise.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : object
        """
        wants = []
        for rule in self.rules:
            try:
                return rule.check(value, name)
            except (TypeError, ValueError) as exc:
                wants.append(str(exc).split(" must be ", 1)[-1].rsplit(", got ", 1)[0])
        raise ValueError(f"{name} must be {', or '.join(wants)}, got {value!r}")


def parameter_rules(estimator_class) -> dict:
    """Every ``_parameter_rules`` entry along the class's MRO (a subclass overrides).

    Parameters
    ----------
    estimator_class : type
        An estimator class.

    Returns
    -------
    rules : dict of str to rule

    Examples
    --------
    >>> from skhier.inference import TopDownRefiner
    >>> from skhier.utils.validation import parameter_rules
    >>> sorted(parameter_rules(TopDownRefiner))
    ['decision', 'threshold']
    """
    rules = {}
    for klass in reversed(estimator_class.__mro__):
        rules.update(vars(klass).get("_parameter_rules", {}))
    return rules


def validate_params(estimator) -> None:
    """Check every parameter of ``estimator`` that its class declares a rule for.

    Parameters
    ----------
    estimator : object
        An estimator whose class (or a base) has a ``_parameter_rules`` dict of
        parameter name to :class:`Interval`, :class:`Options` or a callable
        ``rule(value, name)`` that raises.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import TopDownRefiner
    >>> from skhier.utils.validation import validate_params
    >>> tax = Taxonomy.from_paths([["A"], ["B"]])
    >>> validate_params(TopDownRefiner(tax, decision="leaf"))
    >>> validate_params(TopDownRefiner(tax, decision="best"))
    Traceback (most recent call last):
    ...
    ValueError: decision must be one of 'leaf', 'top_down', 'majority', 'threshold', got 'best'
    """
    for name, rule in parameter_rules(type(estimator)).items():
        value = getattr(estimator, name)
        (rule.check if hasattr(rule, "check") else rule)(value, name)


__all__ += ["parameter_rules", "Boolean", "RandomState", "OneOf", "seed_from"]
