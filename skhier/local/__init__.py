"""Local classifiers around any scikit-learn estimator (the HiClass family)."""

from ._local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode
from ._multilabel import MultiLabelLocalClassifierPerNode

__all__ = [
    "LocalClassifierPerLevel",
    "LocalClassifierPerNode",
    "LocalClassifierPerParentNode",
    "MultiLabelLocalClassifierPerNode",
]
