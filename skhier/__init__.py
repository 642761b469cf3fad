"""skhier: scikit-learn compatible hierarchical classification.

One immutable :class:`Taxonomy` is shared by every estimator, inference refiner and
scorer. The user guide lives in ``docs/``.

The estimators are imported on first use, so ``import skhier`` (and a process worker
that unpickles a local-classifier task) does not import torch.
"""

import importlib

from ._taxonomy import Taxonomy
from .exceptions import ParallelFitError, TaxonomyError

__version__ = "0.1.0"

_LAZY = {
    "BottomUpRefiner": "inference",
    "CoherenceRefiner": "inference",
    "DifferentiableDiffusionRefiner": "inference",
    "DiffusionRefiner": "inference",
    "FlatClassifier": "inference",
    "TopDownRefiner": "inference",
    "LocalClassifierPerLevel": "local",
    "LocalClassifierPerNode": "local",
    "LocalClassifierPerParentNode": "local",
    "MultiLabelLocalClassifierPerNode": "local",
}

__all__ = [  # the lazy names, then the eager ones
    "BottomUpRefiner",
    "CoherenceRefiner",
    "DifferentiableDiffusionRefiner",
    "DiffusionRefiner",
    "FlatClassifier",
    "TopDownRefiner",
    "LocalClassifierPerLevel",
    "LocalClassifierPerNode",
    "LocalClassifierPerParentNode",
    "MultiLabelLocalClassifierPerNode",
    "ParallelFitError",
    "Taxonomy",
    "TaxonomyError",
    "__version__",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skhier' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
