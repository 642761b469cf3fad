"""skhier: scikit-learn compatible hierarchical classification.

One immutable :class:`Taxonomy` is shared by every estimator, inference refiner and
scorer. The user guide lives in ``docs/``.
"""

from ._taxonomy import Taxonomy
from .exceptions import TaxonomyError
from .inference import (
    BottomUpRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    TopDownRefiner,
)
from .local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode

__version__ = "0.1.0"

__all__ = [
    "BottomUpRefiner",
    "DifferentiableDiffusionRefiner",
    "DiffusionRefiner",
    "FlatClassifier",
    "LocalClassifierPerLevel",
    "LocalClassifierPerNode",
    "LocalClassifierPerParentNode",
    "Taxonomy",
    "TaxonomyError",
    "TopDownRefiner",
    "__version__",
]
