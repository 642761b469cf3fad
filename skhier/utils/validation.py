"""Input and parameter validation, one rule and one message shape for every estimator.

The counterpart of :mod:`sklearn.utils.validation` for hierarchical data: the taxonomy,
node scores, node indices, sample weights, numbers and options, plus declarative
parameter rules. An estimator declares its rules once, as a class attribute::

    _parameter_rules = {"threshold": Interval(0, 1), "consistency": Options("fill", "prune")}

and calls :func:`validate_params` once per ``fit`` (and once per ``predict`` where
parameters may have changed by ``set_params``). Rules are inherited: a subclass adds
or overrides entries. Every message reads ``"<name> must be <what>, got <value!r>"``.
(scikit-learn's own constraint machinery is private, hence ours.)

Everything here is torch-free; this module sits right above the taxonomy, and every
other module of skhier imports its checkers from here (``tests/utils/test_validation_home.py``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from ..exceptions import InvalidParameterError

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
        The value, as the rule accepts it.

    Examples
    --------
    >>> from skhier.utils.validation import check_number
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


def check_taxonomy(taxonomy, *, allow_dag: bool = False, what: str | None = None) -> Taxonomy:
    """Return ``taxonomy`` if it is a :class:`Taxonomy`, else raise a ``TypeError``.

    A DAG (a node with several parents) is refused with a :class:`TaxonomyError` naming
    ``what`` unless ``allow_dag``: everything that needs one path per node checks here.

    Parameters
    ----------
    taxonomy : object
        What should be a :class:`Taxonomy`.
    allow_dag : bool, default=False
        Accept a DAG (nodes with several parents).
    what : str, default=None
        What needs a tree, for the message.

    Returns
    -------
    taxonomy : Taxonomy
        The taxonomy.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.utils.validation import check_taxonomy
    >>> check_taxonomy(Taxonomy.from_paths([["A"]])).n_nodes
    2
    """
    if not isinstance(taxonomy, Taxonomy):
        raise TypeError(
            f"taxonomy must be a skhier.Taxonomy, got {type(taxonomy).__name__}; build one "
            "with Taxonomy.from_paths, from_edges or from_parent_mapping"
        )
    if not allow_dag:
        taxonomy._require_tree(what or "this function or estimator")
    return taxonomy


@fill_doc
def check_node_indices(indices, taxonomy: Taxonomy, *, name="indices") -> np.ndarray:
    """Node indices as int64, refusing non-integers and indices outside the taxonomy.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    %(taxonomy)s
    name : str, default="indices"
        What error messages call ``indices``.

    Returns
    -------
    indices : ndarray of int64
        Node indices.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.utils.validation import check_node_indices
    >>> check_node_indices([1, 0], Taxonomy.from_edges([("r", "a")]))
    array([1, 0])
    """
    arr = np.asarray(indices)
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            fractional = (~np.isfinite(arr) | (np.mod(arr, 1) != 0)).ravel()
        if fractional.any():
            raise ValueError(f"{name} must be integer node indices, got {arr.ravel()[fractional][0].item()!r}")
    elif arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer node indices, got {arr.dtype} values")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= taxonomy.n_nodes):
        bad = int(arr.ravel()[(arr.ravel() < 0) | (arr.ravel() >= taxonomy.n_nodes)][0])
        raise ValueError(f"{name} holds node index {bad}, outside [0, {taxonomy.n_nodes})")
    return arr


@fill_doc
def check_node_scores(scores, taxonomy: Taxonomy, *, name="node scores", probabilities=False):
    """Validate a (n_samples, n_nodes) score matrix (numpy or torch).

    Parameters
    ----------
    scores : array-like or torch.Tensor of shape (n_samples, n_nodes)
        Node scores, one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    name : str, default="node scores"
        How the error messages call the matrix.
    probabilities : bool, default=False
        Also require values in [0, 1].

    Returns
    -------
    scores : ndarray of float or torch.Tensor
        Numpy input comes back as a float64 array; a tensor is returned as is.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.utils.validation import check_node_scores
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> check_node_scores([[1, 0.5, 0.5]], tax).shape
    (1, 3)
    """
    src = getattr(scores, "taxonomy", None)  # NodeScores remember theirs
    if src is not None and src != taxonomy:
        raise ValueError(
            f"{name} holds node scores of another taxonomy ({src!r}) than this step's "
            f"({taxonomy!r}); build every step of the pipeline on the same Taxonomy"
        )
    is_torch = is_tensor(scores)
    if is_torch:
        import torch

        if scores.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_nodes), got shape {tuple(scores.shape)}")
        if not torch.is_floating_point(scores):
            scores = scores.float()
        # one host synchronisation: a NaN or infinity anywhere makes the sum non-finite
        if scores.numel():
            total, lo, hi = torch.stack([scores.sum(), scores.min(), scores.max()]).double().tolist()
        else:
            total, lo, hi = 0.0, 0.0, 0.0
        finite = np.isfinite(total) or bool(torch.isfinite(scores).all().item())
        if not probabilities:
            lo, hi = 0.0, 0.0
    else:
        if sp.issparse(scores):
            scores = scores.toarray()
        scores = np.asarray(scores)
        if scores.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {scores.dtype}")
        scores = scores.astype(np.float64, copy=False) if scores.dtype.kind != "f" else scores
        if scores.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_nodes), got shape {scores.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.isfinite(scores.sum())) or bool(np.isfinite(scores).all())
        if probabilities and scores.size:
            lo, hi = float(scores.min()), float(scores.max())
        else:
            lo, hi = 0.0, 0.0
    if scores.shape[1] != taxonomy.n_nodes and scores.shape[1] == taxonomy.n_leaves:
        raise ValueError(  # leaf scores are never guessed into node scores
            f"{name} has {scores.shape[1]} columns, one per leaf, but this takes one column per taxonomy "
            f"node ({taxonomy.n_nodes}); sum leaf probabilities into node scores first, e.g. "
            "BottomUpRefiner(taxonomy).fit_transform(scores in node columns)"
        )
    if scores.shape[1] != taxonomy.n_nodes:
        raise ValueError(
            f"{name} have {scores.shape[1]} columns but the taxonomy has {taxonomy.n_nodes} "
            "nodes; columns must follow taxonomy.nodes"
        )
    if not finite:
        raise ValueError(f"{name} contain NaN or infinity")
    if probabilities and (lo < -1e-9 or hi > 1 + 1e-6):
        raise ValueError(f"{name} must be probabilities in [0, 1], found values in [{lo:.3g}, {hi:.3g}]")
    return scores


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
        The value, as the rule accepts it.

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
        The checked weights, or None.

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


class Rule:
    """Base of the parameter rules: ``check(value, name)`` returns ``value`` (as the rule
    reads it) or raises an error whose message names ``name``.

    A subclass implements ``_check``; :func:`validate_params` calls ``check`` for every
    declared parameter.

    Examples
    --------
    >>> from skhier.utils.validation import Rule
    >>> class Even(Rule):
    ...     def _check(self, value, name):
    ...         if value % 2:
    ...             raise ValueError(f"{name} must be even, got {value!r}")
    ...         return value
    >>> Even().check(4, "n_heads")
    4
    """

    def check(self, value, name):
        """Return ``value`` if the rule accepts it, else raise naming ``name``.

        Parameters
        ----------
        value : object
            The parameter's value.
        name : str
            The parameter's name, for the message.

        Returns
        -------
        value : object
            The value, as the rule reads it (an int for an integral float, ...).
        """
        return self._check(value, name)


@dataclass(frozen=True)
class Interval(Rule):
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

    def _check(self, value, name):
        return check_number(value, name, low=self.low, high=self.high, low_open=self.low_open,
                            high_open=self.high_open, integer=self.integer, allow_none=self.allow_none)


class Options(Rule):
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

    def _check(self, value, name):
        return check_option(value, name, self.values)


class Boolean(Rule):
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

    def _check(self, value, name):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if self.allow_int and isinstance(value, (int, np.integer)) and (value >= 0 or self.allow_int == "any"):
            return int(value)
        what = ("True, False or an int" + (" >= 0" if self.allow_int != "any" else "")) if self.allow_int \
            else "True or False"
        raise ValueError(f"{name} must be {what}, got {value!r}")


class RandomState(Rule):
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

    def _check(self, value, name):
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
        An int seed, or None.

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


class OneOf(Rule):
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
    skhier.exceptions.InvalidParameterError: batch_size must be one of 'auto', -1, or a positive int, got 0
    """

    def __init__(self, *rules):
        self.rules = rules

    def __repr__(self):
        return f"OneOf{self.rules!r}"

    def _check(self, value, name):
        wants = []
        for rule in self.rules:
            try:
                return rule.check(value, name)
            except (TypeError, ValueError) as exc:
                wants.append(str(exc).split(" must be ", 1)[-1].rsplit(", got ", 1)[0])
        raise InvalidParameterError(f"{name} must be {', or '.join(wants)}, got {value!r}")


class InstanceOf(Rule):
    """A parameter that is an instance of some types (or ``None`` with ``allow_none``).

    Parameters
    ----------
    *types : type
        The accepted types.
    allow_none : bool, default=False
        Let ``None`` through.
    what : str, default=None
        How the message names what is wanted (default: the types' names).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.utils.validation import InstanceOf
    >>> InstanceOf(Taxonomy, allow_none=True).check(None, "taxonomy") is None
    True
    >>> InstanceOf(dict, what="a dict").check([], "torch_load_kwargs")
    Traceback (most recent call last):
    ...
    skhier.exceptions.InvalidParameterError: torch_load_kwargs must be a dict, got []
    """

    def __init__(self, *types, allow_none=False, what=None):
        self.types, self.allow_none, self.what = types, allow_none, what

    def __repr__(self):
        return f"InstanceOf({', '.join(t.__name__ for t in self.types)}, allow_none={self.allow_none})"

    def _check(self, value, name):
        if (value is None and self.allow_none) or isinstance(value, self.types):
            return value
        what = self.what or "a " + " or ".join(t.__name__ for t in self.types)
        raise InvalidParameterError(f"{name} must be {what}{' or None' if self.allow_none else ''}, got {value!r}")


class IsTaxonomy(Rule):
    """A ``taxonomy`` parameter: a :class:`~skhier.Taxonomy` (trees and DAGs; what needs a
    tree says so at fit), or ``None`` (taken from ``y`` or the scores) with ``allow_none``.

    Parameters
    ----------
    allow_none : bool, default=True
        Let ``None`` through.

    Examples
    --------
    >>> from skhier.utils.validation import IsTaxonomy
    >>> IsTaxonomy().check(None, "taxonomy") is None
    True
    >>> IsTaxonomy().check("tax", "taxonomy")
    Traceback (most recent call last):
    ...
    TypeError: taxonomy must be a skhier.Taxonomy, got str; build one with Taxonomy.from_paths, ...
    """

    def __init__(self, allow_none=True):
        self.allow_none = allow_none

    def __repr__(self):
        return f"IsTaxonomy(allow_none={self.allow_none})"

    def _check(self, value, name):
        if value is None and self.allow_none:
            return value
        return check_taxonomy(value, allow_dag=True)


class HasMethods(Rule):
    """A parameter that is an object with some methods: an estimator (``fit``), a callable
    factory (``__call__``); scikit-learn's ``HasMethods``.

    Parameters
    ----------
    *methods : str
        Names of the methods the object must have.
    allow_none : bool, default=False
        Let ``None`` through.
    what : str, default=None
        How the message names what is wanted (default: from the methods).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier.utils.validation import HasMethods
    >>> HasMethods("fit", "predict_proba").check(LogisticRegression(), "local_classifier")
    LogisticRegression()
    >>> HasMethods("__call__").check(3, "train_transform")
    Traceback (most recent call last):
    ...
    skhier.exceptions.InvalidParameterError: train_transform must be a callable, got 3
    """

    def __init__(self, *methods, allow_none=False, what=None):
        self.methods, self.allow_none, self.what = methods, allow_none, what

    def __repr__(self):
        return f"HasMethods{self.methods!r}"

    def _check(self, value, name):
        if (value is None and self.allow_none) or all(callable(getattr(value, m, None)) for m in self.methods):
            return value
        what = self.what or ("a callable" if self.methods == ("__call__",) else "an object with " + ", ".join(
            f"{m}()" for m in self.methods))
        raise InvalidParameterError(f"{name} must be {what}{' or None' if self.allow_none else ''}, got {value!r}")


class Device(Rule):
    """A ``device`` parameter: ``"auto"``, ``None``, a torch device string or a ``torch.device``.

    A string is parsed by torch (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``); whether
    the device exists is torch's question at fit time.

    Examples
    --------
    >>> from skhier.utils.validation import Device
    >>> Device().check("cuda:0", "device")
    'cuda:0'
    >>> Device().check("gpu", "device")
    Traceback (most recent call last):
    ...
    ValueError: device must be 'auto', None, a torch device string ('cpu', 'cuda', ...) or a torch.device, got 'gpu'
    """

    def __repr__(self):
        return "Device()"

    def _check(self, value, name):
        if value is None or (isinstance(value, str) and value == "auto"):
            return value
        if type(value).__name__ == "device" and type(value).__module__ == "torch":
            return value
        if isinstance(value, str):
            import torch

            try:
                torch.device(value)
                return value
            except RuntimeError:
                pass
        raise ValueError(f"{name} must be 'auto', None, a torch device string ('cpu', 'cuda', ...) or a "
                         f"torch.device, got {value!r}")


def parameter_rules(estimator_class) -> dict:
    """Every ``_parameter_rules`` entry along the class's MRO (a subclass overrides).

    Parameters
    ----------
    estimator_class : type
        An estimator class.

    Returns
    -------
    rules : dict of str to rule
        Every declared rule by parameter name.

    Examples
    --------
    >>> from skhier.inference import TopDownRefiner
    >>> from skhier.utils.validation import parameter_rules
    >>> sorted(parameter_rules(TopDownRefiner))
    ['decision', 'device', 'normalize', 'taxonomy', 'threshold']
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
        if not hasattr(estimator, name):  # a rule of a base for a parameter this class does not take
            continue
        value = getattr(estimator, name)
        (rule.check if hasattr(rule, "check") else rule)(value, name)


__all__ += ["parameter_rules", "Boolean", "RandomState", "OneOf", "seed_from", "InstanceOf", "HasMethods", "Device",
            "IsTaxonomy", "Rule"]
